// The API's on-demand actions through a real `sluice run` against real
// MariaDB servers: POST .../check finds a difference planted on the target,
// .../repair mends it, .../snapshot copies back rows deleted on the target,
// each in the background with its progress in the status; refused (409)
// while the pipeline is stopped.

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

class PipelineActionsTest : public FaultTest {
 protected:
  // Waits until the status's `section` ("check" / "snapshot") satisfies `done`.
  ::testing::AssertionResult WaitForSection(const char* section, const std::function<bool(const Json&)>& done) {
    Json last;
    bool ok = WaitUntil(
        [&] {
          last = PipelineStatus("p");
          return last.is_object() && last.contains(section) && last[section].is_object() && done(last[section]);
        },
        std::chrono::seconds(60));
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << section << " never got there; last status: " << last.dump() << "\n"
                                         << sluice_->Log();
  }
};

TEST_F(PipelineActionsTest, CheckRepairAndSnapshotOnRequest) {
  options_.tables = "      - match: \"shop.orders\"\n";
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, std::chrono::seconds(30)));
  EXPECT_TRUE(PipelineStatus("p")["check"].is_null());  // no periodic check configured

  // A row lost on the target: the check finds it, the repair brings it back.
  ASSERT_TRUE(dst_->Execute("DELETE FROM shop.orders WHERE id = 7").ok());
  HttpReply check = HttpPost(http_port_, "/api/pipelines/p/check");
  ASSERT_EQ(check.status, 200) << check.body;
  EXPECT_TRUE(WaitForSection("check", [](const Json& c) {
    return c["runs"] == 1 && c["state"] == "differences" && c["missing"] == 1;
  }));
  HttpReply repair = HttpPost(http_port_, "/api/pipelines/p/repair");
  ASSERT_EQ(repair.status, 200) << repair.body;
  EXPECT_TRUE(WaitForSection("check", [](const Json& c) { return c["runs"] == 2 && c["state"] == "repaired"; }));
  EXPECT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, std::chrono::seconds(30)));

  // Rows gone from the target come back from a snapshot alongside the stream,
  // while new changes keep flowing.
  ASSERT_TRUE(dst_->Execute("DELETE FROM shop.orders WHERE id <= 5").ok());
  HttpReply snapshot = HttpPost(http_port_, "/api/pipelines/p/snapshot");
  ASSERT_EQ(snapshot.status, 200) << snapshot.body;
  ASSERT_TRUE(Transactions(*src_, 21, 10).ok());
  EXPECT_TRUE(WaitForSection("snapshot", [](const Json& s) { return s["phase"] == "done"; }));
  EXPECT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, std::chrono::seconds(30)));

  // Stopped: nothing to compare against.
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop").status, 200);
  // The recent history, newest first: the stop, the snapshot, the checks.
  const Json events = PipelineStatus("p")["events"];
  ASSERT_TRUE(events.is_array() && !events.empty()) << events.dump();
  EXPECT_EQ(events[0]["what"], "stopped") << events.dump();
  auto has = [&](const std::string& what, const std::string& start) {
    for (const Json& e : events) {
      if (e["what"] == what && e["message"].get<std::string>().rfind(start, 0) == 0) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("check", "check differences: 1 missing")) << events.dump();
  EXPECT_TRUE(has("check", "check repaired")) << events.dump();
  EXPECT_TRUE(has("snapshot", "snapshot done")) << events.dump();
  EXPECT_TRUE(has("running", "")) << events.dump();
  HttpReply refused = HttpPost(http_port_, "/api/pipelines/p/check");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("stopped"), std::string::npos) << refused.body;
  EXPECT_EQ(HttpPost(http_port_, "/api/pipelines/p/snapshot").status, 409);
  EXPECT_EQ(HttpGet(http_port_, "/api/pipelines/p/check").status, 405);
}

TEST_F(PipelineActionsTest, ASnapshotAlongsideTheStreamRefusesAKeylessTableByName) {
  ASSERT_NO_FATAL_FAILURE(StartPair());  // shop.* holds shop.audit, which has no key
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ConvergesExactly(5));
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/snapshot").status, 200);
  EXPECT_TRUE(WaitForSection("snapshot", [](const Json& s) {
    return s["phase"] == "failed" && s["error"].is_string() &&
           s["error"].get<std::string>().find("shop.audit") != std::string::npos;
  }));
  EXPECT_EQ(Str(PipelineStatus("p"), "state"), "running");  // the stream goes on
  ASSERT_TRUE(Transactions(*src_, 6, 5).ok());
  EXPECT_TRUE(ConvergesExactly(10));
}

}  // namespace
}  // namespace sluice::testing
