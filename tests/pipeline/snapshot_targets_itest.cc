// `snapshot: initial` and the targets it copies into. A target added to a
// pipeline that already streams gets the existing rows copied first, and
// only it: the targets that stream keep their rows and their place (before,
// every target was copied again, and a keyless table's rows written while
// sluice was stopped then landed twice there: once from the copy, once from
// the replay).

#include <fmt/format.h>

#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kOrders = "SELECT id, amount FROM shop.orders ORDER BY id";
constexpr const char* kAudit = "SELECT txn FROM shop.audit ORDER BY txn";

class SnapshotTargetsTest : public SyncTest {
 protected:
  // shop.orders (keyed) and shop.audit (keyless, as log tables often are),
  // copied with `snapshot: initial` into `targets`.
  std::string Config(const std::vector<std::pair<std::string, MariadbServer*>>& targets) {
    std::string defs, names;
    for (const auto& [name, server] : targets) {
      defs += fmt::format("  {}: {{url: \"{}\"}}\n", name, server->Url());
      names += (names.empty() ? "" : ", ") + name;
    }
    return fmt::format(R"(store: {}/sluice.db
sources:
  main: {{url: "{}", server_id: 5151, heartbeat_ms: 200}}
targets:
{}pipelines:
  - name: copy
    source: main
    targets: [{}]
    start: earliest
    snapshot: initial
    tables:
      - match: "shop.*"
    batch: {{size: 100, timeout_ms: 50}}
)",
                       dir_.string(), src_->Url(), defs, names);
  }
  Status Write(int first, int n) {
    for (int i = first; i < first + n; ++i) {
      RETURN_IF_ERROR(src_->Execute(fmt::format("BEGIN; INSERT INTO shop.orders VALUES ({0}, {0}); "
                                                "UPDATE shop.orders SET amount = amount + 1 WHERE id = {1}; "
                                                "INSERT INTO shop.audit VALUES ({0}); COMMIT",
                                                i, (i + 1) / 2)));
    }
    return Status::Ok();
  }
  ::testing::AssertionResult Same(MariadbServer& dst) {
    auto orders = Converges(*src_, kOrders, dst, kOrders);
    return orders ? Converges(*src_, kAudit, dst, kAudit) : orders;
  }

  std::unique_ptr<MariadbServer> src_;
};

TEST_F(SnapshotTargetsTest, ATargetAddedLaterIsCopiedAloneAndTheOthersGoOn) {
  src_ = StartServer(1);
  auto dst = StartServer(2);
  auto added = StartServer(3);
  ASSERT_TRUE(src_ && dst && added);
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT); "
                            "CREATE TABLE shop.audit (txn INT NOT NULL)")
                  .ok());
  ASSERT_TRUE(Write(1, 20).ok());
  WriteConfig(Config({{"dst", dst.get()}}));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Write(21, 5).ok());
  ASSERT_TRUE(Same(*dst));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  // While sluice is stopped: more rows, a delete; then a second target.
  ASSERT_TRUE(Write(26, 5).ok());
  ASSERT_TRUE(src_->Execute("DELETE FROM shop.orders WHERE id = 3; DELETE FROM shop.audit WHERE txn = 4").ok());
  WriteConfig(Config({{"dst", dst.get()}, {"added", added.get()}}));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Write(31, 5).ok());
  EXPECT_TRUE(Same(*added));
  EXPECT_TRUE(Same(*dst));  // audit rows 26..30 once, not again from a copy
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("copying the existing rows into target(s) added first"), std::string::npos) << log;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
