// A pipeline's status to JSON and back (the manager's alarms read what the
// owning node's API wrote).
#include "server/status_json.h"

#include <gtest/gtest.h>

namespace sluice::server {
namespace {

using pipeline::PipelineState;
using pipeline::PipelineStatus;

PipelineStatus Full() {
  PipelineStatus p;
  p.name = "orders";
  p.state = PipelineState::kRetrying;
  p.source_position = "binlog.000002:1234";
  p.applied_position = "binlog.000002:1000";
  p.delay_ms = 4200;
  p.rows_applied = 77;
  p.last_error = "target search: connection refused";
  p.targets.push_back({"search", PipelineState::kRetrying, "binlog.000002:1000", 4200, 70, 12.5, "refused",
                       {{"shop.orders", 50, 15, 5, 4200}, {"shop.users", 0, 0, 0, 0}}});
  p.targets.push_back({"report", PipelineState::kRunning, "binlog.000002:1234", 3, 7, 0, "", {}});
  p.has_snapshot = true;
  p.snapshot.phase = "copying";
  p.snapshot.start_position = "binlog.000001:4";
  p.snapshot.rows_copied = 10;
  p.snapshot.tables.push_back({"shop.orders", "shop.orders", 10, 100, 1, 10, 50.5, 1.8, false});
  p.has_check = true;
  p.check.state = "differences";
  p.check.runs = 3;
  p.check.last_started_ms = 1'780'000'000'000;
  p.check.missing = 2;
  p.check.different = 1;
  p.check.remaining = 3;
  p.check.note = "shop.items on dst: rows only the target has are not looked for: pipeline q writes this table too";
  p.events.push_back({1'780'000'000'500, "search", "retrying", "refused"});
  p.events.push_back({1'780'000'000'100, "", "check", "2 missing"});
  p.clustered = true;
  p.owner = "n1";
  p.epoch = 4;
  return p;
}

TEST(StatusJson, ReadsBackWhatItWrites) {
  const nlohmann::ordered_json written = PipelineStatusJson(Full());
  Result<PipelineStatus> read = PipelineStatusFromJson(written);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(PipelineStatusJson(*read).dump(), written.dump());
  EXPECT_EQ(read->state, PipelineState::kRetrying);
  EXPECT_EQ(read->targets.at(0).delay_ms, 4200);
  EXPECT_EQ(read->check.missing, 2u);
  EXPECT_EQ(read->check.note, Full().check.note);
  ASSERT_EQ(read->targets.at(0).tables.size(), 2u);
  EXPECT_EQ(read->targets.at(0).tables[0].updates, 15u);
}

TEST(StatusJson, AMinimalStatusWithoutSnapshotOrCheck) {
  PipelineStatus p;
  p.name = "quiet";
  p.state = PipelineState::kStopped;
  Result<PipelineStatus> read = PipelineStatusFromJson(PipelineStatusJson(p));
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_FALSE(read->has_snapshot);
  EXPECT_FALSE(read->has_check);
  EXPECT_FALSE(read->clustered);
  EXPECT_EQ(read->state, PipelineState::kStopped);
}

TEST(StatusJson, NamesWhatIsWrong) {
  auto error = [](const char* text) {
    Result<PipelineStatus> r = PipelineStatusFromJson(nlohmann::ordered_json::parse(text));
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_EQ(error("[]"), "pipeline status: expected a JSON object");
  EXPECT_EQ(error(R"({"state":"running"})"), "pipeline status: no \"name\"");
  EXPECT_EQ(error(R"({"name":"p","state":"unowned"})"), "pipeline status: status of p.state: \"unowned\" is not a pipeline state");
  EXPECT_EQ(error(R"({"name":"p","state":"running","delay_ms":"slow"})"),
            "pipeline status: status of p.delay_ms: expected a number");
  EXPECT_EQ(error(R"({"name":"p","state":"running","targets":[{"name":"t","delay_ms":[]}]})"),
            "pipeline status: status of p.targets[].delay_ms: expected a number");
  EXPECT_EQ(error(R"({"name":"p","state":"running","future_field":{"x":1}})"), "ok") << "extensions are ignored";
}

}  // namespace
}  // namespace sluice::server
