// The start position is fixed once, durably, at the first start (issue 9,
// item 2): `start: latest` (or `earliest`) is resolved to the source's
// file:offset and recorded in every target's checkpoint before anything is
// captured, so a restart resumes exactly where applying stopped, whatever
// failed before the first row was applied. The same holds for a target added
// to an existing pipeline (it starts where the pipeline resumes, recorded at
// once) and for a position set through the API.

#include <fmt/format.h>
#include <sqlite3.h>

#include "cli/run_command.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class StartPositionTest : public FaultTest {
 protected:
  // Source and target with the shop schema on both (a `latest` start does
  // not see the source's CREATEs), sluice started with `o`.
  void StartLatest(PipelineOptions o, const std::function<void()>& before_start = {}) {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    ASSERT_TRUE(dst_->Execute(kSchema).ok());
    if (before_start) {
      ASSERT_NO_FATAL_FAILURE(before_start());
    }
    http_port_ = FreePort();
    options_ = std::move(o);
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  void Restart() {
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  PipelineOptions options_;
};

PipelineOptions Latest() {
  PipelineOptions o;
  o.start = "latest";
  return o;
}

// (a) Stopped before anything was applied: the rows written while it was
// down arrive after the restart.
TEST_F(StartPositionTest, LatestStoppedBeforeAnythingAppliedLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartLatest(Latest()));
  ASSERT_TRUE(WaitForState("p", "running"));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_TRUE(ConvergesExactly(10));
}

// (b) The first batch is rejected (on_error: stop); after the column is
// widened and sluice restarted, the rejected row and its batch arrive.
TEST_F(StartPositionTest, LatestFirstBatchRejectedIsReplayedAfterTheFix) {
  ASSERT_NO_FATAL_FAILURE(StartLatest(
      Latest(), [&] { ASSERT_TRUE(dst_->Execute("ALTER TABLE shop.orders MODIFY note VARCHAR(3)").ok()); }));
  ASSERT_TRUE(WaitForState("p", "running"));
  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30)));
  EXPECT_EQ(sluice_->Stop(), 1 << 8);  // stopped while its pipeline had failed
  ASSERT_TRUE(dst_->Execute("ALTER TABLE shop.orders MODIFY note VARCHAR(40)").ok());
  ASSERT_TRUE(Transactions(*src_, 11, 5).ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_TRUE(ConvergesExactly(15));
}

// (c) A renamed target table missing at the first batch (`sluice run`
// creates it at start, the user dropped it afterwards): after a restart,
// which creates it again, every row is there and `check` agrees.
TEST_F(StartPositionTest, LatestRenamedTableMissingAtFirstBatchLosesNothing) {
  PipelineOptions o = Latest();
  o.tables = "      - match: \"shop.orders\"\n        to: \"shop2.orders\"\n      - match: \"shop.audit\"\n";
  ASSERT_NO_FATAL_FAILURE(StartLatest(o));
  ASSERT_TRUE(WaitForState("p", "running"));
  ASSERT_TRUE(dst_->Execute("DROP TABLE shop2.orders").ok());
  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30)));
  EXPECT_EQ(sluice_->Stop(), 1 << 8);  // stopped while its pipeline had failed
  ASSERT_TRUE(Transactions(*src_, 11, 5).ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_TRUE(Converges(*src_, kOrders, *dst_, "SELECT id, amount, note FROM shop2.orders ORDER BY id"));
  EXPECT_TRUE(Converges(*src_, kAudit, *dst_, kAudit));
  sluice_->Stop();
  auto r = RunSluice("check -c " + config_, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// `earliest` is resolved once too: binlogs purged between runs, before
// anything was applied, make the restart fail saying so, instead of silently
// starting at the new earliest.
TEST_F(StartPositionTest, EarliestPurgedBeforeTheFirstApplyFailsSayingSo) {
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    // The schema's binlog is gone: the first binlog holds rows only, and the
    // target rejects the first of them (note is narrower there).
    ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT "
                              "NULL, note VARCHAR(3)); CREATE TABLE shop.audit (txn INT NOT NULL, msg VARCHAR(40))")
                    .ok());
    ASSERT_TRUE(PurgeBinlogs(*src_));
    ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  }));
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30)));
  EXPECT_EQ(sluice_->Stop(), 1 << 8);  // stopped while its pipeline had failed
  ASSERT_TRUE(PurgeBinlogs(*src_));
  ASSERT_TRUE(Transactions(*src_, 6, 5).ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30)));
  std::string error = ErrorText(PipelineStatus("p"));
  EXPECT_NE(error.find("purged"), std::string::npos) << error;
}

// A target added to a running pipeline starts where the pipeline resumes,
// and that is recorded at once: when its first batch fails and the other
// target goes on, a restart still gives it everything since it was added.
TEST_F(StartPositionTest, TargetAddedLaterKeepsItsStartAcrossAFailedFirstBatch) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ConvergesExactly(5));
  EXPECT_EQ(sluice_->Stop(), 0);
  auto dst2 = StartServer(3);
  ASSERT_TRUE(dst2);
  ASSERT_TRUE(dst2->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT "
                            "NULL, note VARCHAR(3)); CREATE TABLE shop.audit (txn INT NOT NULL, msg VARCHAR(40))")
                  .ok());
  std::string yaml = FaultConfig(dir_, http_port_, src_->Url(), dst_->Url());
  yaml.replace(yaml.find("targets:\n"), 9, fmt::format("targets:\n  dst2: {{url: \"{}\"}}\n", dst2->Url()));
  yaml.replace(yaml.find("targets: [dst]"), 14, "targets: [dst, dst2]");
  WriteConfig(yaml);
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(Transactions(*src_, 6, 5).ok());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30), "dst2"));
  ASSERT_TRUE(Transactions(*src_, 11, 5).ok());
  ASSERT_TRUE(ConvergesExactly(15));  // dst goes on
  EXPECT_EQ(sluice_->Stop(), 0);
  ASSERT_TRUE(dst2->Execute("ALTER TABLE shop.orders MODIFY note VARCHAR(40)").ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  // dst2 holds every change since it was added: transactions 6..15, and the
  // updates they made to orders 3..7 (rows it never had stay absent).
  EXPECT_TRUE(Converges(*src_, "SELECT txn, msg FROM shop.audit WHERE txn >= 6 ORDER BY txn", *dst2, kAudit));
  EXPECT_TRUE(Converges(*src_, "SELECT id, amount, note FROM shop.orders WHERE id >= 6 ORDER BY id", *dst2,
                        "SELECT id, amount, note FROM shop.orders WHERE id >= 6 ORDER BY id"));
  EXPECT_TRUE(ConvergesExactly(15));
}

// A target renamed in the configuration goes on where it stopped: its
// checkpoint, kept in the target database under the old name, is taken over
// (before, the renamed target started at `start: latest` again and the
// changes made while sluice was stopped never arrived).
TEST_F(StartPositionTest, ATargetRenamedInTheConfigurationGoesOnWhereItStopped) {
  ASSERT_NO_FATAL_FAILURE(StartLatest(Latest()));
  ASSERT_TRUE(WaitForState("p", "running"));
  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  ASSERT_TRUE(ConvergesExactly(10));
  EXPECT_EQ(sluice_->Stop(), 0);
  ASSERT_TRUE(Transactions(*src_, 11, 10).ok());
  ASSERT_NO_FATAL_FAILURE(RenameTargetInConfig("dst", "reporting"));
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(Transactions(*src_, 21, 10).ok());
  EXPECT_TRUE(ConvergesExactly(30));
  EXPECT_NE(sluice_->Log().find("took over the checkpoint of target dst"), std::string::npos) << sluice_->Log();
  auto names = dst_->QueryValue("SELECT GROUP_CONCAT(DISTINCT target) FROM _sluice.checkpoints");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, "reporting");
  EXPECT_EQ(sluice_->Stop(), 0);

  // With `snapshot: initial` the renamed target is not copied again.
  options_.extra = "    snapshot: initial\n";
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
  ASSERT_NO_FATAL_FAILURE(RenameTargetInConfig("dst", "search"));
  ASSERT_TRUE(Transactions(*src_, 31, 5).ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_TRUE(ConvergesExactly(35));
  EXPECT_EQ(sluice_->Log().find("copying the existing rows"), std::string::npos) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0);

  // Two former names with a checkpoint here: which one was renamed is not
  // guessed. A name this pipeline never ran (another deployment's pipeline
  // of the same name) is never taken.
  for (const char* name : {"reporting", "elsewhere"}) {
    ASSERT_TRUE(dst_->Execute(fmt::format("INSERT INTO _sluice.checkpoints (pipeline, target, part, position, "
                                          "resume_position, gtid_state) SELECT pipeline, '{}', part, position, "
                                          "resume_position, gtid_state FROM _sluice.checkpoints WHERE target = "
                                          "'search'",
                                          name))
                    .ok());
  }
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
  ASSERT_NO_FATAL_FAILURE(RenameTargetInConfig("dst", "third"));
  StartSluice();
  EXPECT_TRUE(WaitUntil(
      [&] {
        return sluice_->FullLog().find("configuration no longer has (reporting, search), and none under third") !=
               std::string::npos;
      },
      seconds(30)))
      << sluice_->FullLog();
}

// A renamed pipeline starts anew (its checkpoints are kept by its name), and
// says so, naming the old name and where it stopped.
TEST_F(StartPositionTest, ARenamedPipelineSaysItStartsAnew) {
  ASSERT_NO_FATAL_FAILURE(StartLatest(Latest()));
  ASSERT_TRUE(WaitForState("p", "running"));
  ASSERT_TRUE(Transactions(*src_, 1, 3).ok());
  ASSERT_TRUE(ConvergesExactly(3));
  EXPECT_EQ(sluice_->Stop(), 0);
  std::string yaml = FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_);
  yaml.replace(yaml.find("- name: p\n"), 10, "- name: orders\n");
  WriteConfig(yaml);
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(WaitForState("orders", "running"));
  EXPECT_NE(sluice_->Log().find("but the store holds where pipeline p, which the configuration no longer has, "
                                "stopped on the same target(s): dst at binlog."),
            std::string::npos)
      << sluice_->Log();
  Json events = PipelineStatus("orders")["events"];
  EXPECT_NE(events.dump().find("give it its old name back"), std::string::npos) << events.dump();
}

// A target whose checkpoint is gone (its `_sluice` tables dropped, the
// server replaced) while the store says it applied changes before starts
// where a new target would, and says so, naming both places.
TEST_F(StartPositionTest, ATargetThatLostItsCheckpointSaysSo) {
  ASSERT_NO_FATAL_FAILURE(StartLatest(Latest()));
  ASSERT_TRUE(WaitForState("p", "running"));
  ASSERT_TRUE(Transactions(*src_, 1, 3).ok());
  ASSERT_TRUE(ConvergesExactly(3));
  EXPECT_EQ(sluice_->Stop(), 0);
  ASSERT_TRUE(Transactions(*src_, 4, 2).ok());
  ASSERT_TRUE(dst_->Execute("DROP DATABASE _sluice").ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(WaitForState("p", "running"));
  EXPECT_NE(sluice_->Log().find("target dst: it holds no checkpoint of this pipeline, though the store says it had "
                                "applied up to binlog."),
            std::string::npos)
      << sluice_->Log();
  Json events = PipelineStatus("p")["events"];
  EXPECT_NE(events.dump().find("restored from a backup"), std::string::npos) << events.dump();
}

// A position set through the API is recorded before the capture starts: a
// stop before anything was applied does not fall back to `start:`.
TEST_F(StartPositionTest, PositionSetThroughTheApiSurvivesAStopBeforeTheFirstApply) {
  ASSERT_NO_FATAL_FAILURE(StartLatest(Latest()));
  ASSERT_TRUE(WaitForState("p", "running"));
  ASSERT_TRUE(Transactions(*src_, 1, 3).ok());
  ASSERT_TRUE(ConvergesExactly(3));
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop", "{}").status, 200);
  HttpReply set = HttpPost(http_port_, "/api/pipelines/p/position", R"({"position": "latest"})");
  ASSERT_EQ(set.status, 200) << set.body;
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start", "{}").status, 200);
  ASSERT_TRUE(WaitForState("p", "running"));
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop", "{}").status, 200);
  ASSERT_TRUE(Transactions(*src_, 4, 3).ok());
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start", "{}").status, 200);
  EXPECT_TRUE(ConvergesExactly(6));
}

// A store checkpoint write that fails is not swallowed: logged, and shown
// as the pipeline's store_error until a write succeeds again. (Applying goes
// on: the target's own checkpoint is what a restart reads.)
TEST_F(StartPositionTest, FailedStoreCheckpointWriteIsLoggedAndShown) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ConvergesExactly(5));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "sluice.db").string().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  // Spread over more than the store's once-a-second mirror interval.
  ASSERT_TRUE(Transactions(*src_, 6, 5, std::chrono::milliseconds(400)).ok());
  Json status;
  bool shown = WaitUntil(
      [&] {
        status = PipelineStatus("p");
        return Str(status, "store_error").find("checkpoint of target dst not saved: store ") != std::string::npos;
      },
      seconds(30));
  EXPECT_TRUE(shown) << status.dump();
  EXPECT_NE(sluice_->FullLog().find("error pipeline p: checkpoint of target dst not saved"), std::string::npos)
      << sluice_->Log();
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ASSERT_TRUE(Transactions(*src_, 11, 5, std::chrono::milliseconds(400)).ok());
  EXPECT_TRUE(ConvergesExactly(15));
  EXPECT_TRUE(WaitUntil([&] { return PipelineStatus("p")["store_error"].is_null(); }, seconds(30)))
      << PipelineStatus("p").dump();
}

}  // namespace
}  // namespace sluice::testing
