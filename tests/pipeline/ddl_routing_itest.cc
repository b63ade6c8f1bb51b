// DDL routed to the target tables the rules map to (issue 9): RENAME across
// the selection boundary and within it (with a `to:` template), TRUNCATE of
// a renamed or filtered table, renamed target tables created by `sluice run`
// as a snapshot creates them, CREATE of an existing table compared by types
// too, and advice for an unmappable DDL that works (fix by hand, restart).

#include <fmt/format.h>

#include "cli/run_command.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class DdlRoutingTest : public FaultTest {
 protected:
  // Source and target (target schema by the stream, or `target_sql`), then
  // sluice with `o`. `source_sql` runs on the source before sluice starts.
  void Start(const std::string& source_sql, const PipelineOptions& o, const std::string& target_sql = "") {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute(source_sql).ok());
    if (!target_sql.empty()) {
      ASSERT_TRUE(dst_->Execute(target_sql).ok());
    }
    http_port_ = FreePort();
    options_ = o;
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  bool LogHas(const std::string& text, seconds timeout = seconds(60)) {
    return WaitUntil([&] { return sluice_->FullLog().find(text) != std::string::npos; }, timeout);
  }
  std::string TargetValue(const std::string& sql) {
    auto v = dst_->QueryValue(sql);
    return v.ok() ? *v : "error: " + v.status().message();
  }
  PipelineOptions options_;
};

PipelineOptions Rules(const std::string& tables, const std::string& extra = "") {
  PipelineOptions o;
  o.tables = tables;
  o.extra = extra;
  return o;
}

constexpr const char* kApp = R"sql(
CREATE DATABASE app; CREATE DATABASE other;
CREATE TABLE app.t (id INT PRIMARY KEY, v INT);
CREATE TABLE app.u (id INT PRIMARY KEY, v INT);
INSERT INTO app.t VALUES (1, 1), (2, 2); INSERT INTO app.u VALUES (1, 1);
)sql";

// A table renamed out of the selection: the pipeline goes on, the target
// table is kept by default.
TEST_F(DdlRoutingTest, RenameOutOfTheSelectionKeepsTheTargetTableAndGoesOn) {
  ASSERT_NO_FATAL_FAILURE(Start(kApp, Rules("      - match: \"app.*\"\n")));
  ASSERT_TRUE(Converges(*src_, "SELECT * FROM app.t ORDER BY id", *dst_, "SELECT * FROM app.t ORDER BY id"));
  ASSERT_TRUE(src_->Execute("RENAME TABLE app.t TO other.t; INSERT INTO other.t VALUES (3, 3); "
                            "INSERT INTO app.u VALUES (2, 2)")
                  .ok());
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.u ORDER BY id", *dst_, "SELECT * FROM app.u ORDER BY id"));
  EXPECT_EQ(TargetValue("SELECT COUNT(*) FROM app.t"), "2");  // kept, no longer updated
  EXPECT_TRUE(WaitForState("p", "running"));
  EXPECT_TRUE(LogHas("is kept and no longer updated")) << sluice_->Log();
}

TEST_F(DdlRoutingTest, RenameOutOfTheSelectionDropsTheTargetTableWhenConfigured) {
  ASSERT_NO_FATAL_FAILURE(Start(kApp, Rules("      - match: \"app.*\"\n", "    renamed_out: drop\n")));
  ASSERT_TRUE(Converges(*src_, "SELECT * FROM app.t ORDER BY id", *dst_, "SELECT * FROM app.t ORDER BY id"));
  ASSERT_TRUE(src_->Execute("RENAME TABLE app.t TO other.t; INSERT INTO app.u VALUES (2, 2)").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.u ORDER BY id", *dst_, "SELECT * FROM app.u ORDER BY id"));
  EXPECT_EQ(TargetValue("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND "
                        "TABLE_NAME = 't'"),
            "0");
}

// Renamed into the selection: created on the target; an empty table just
// streams on, one with rows stops naming the command that copies them.
TEST_F(DdlRoutingTest, RenameIntoTheSelectionCreatesTheTargetTable) {
  ASSERT_NO_FATAL_FAILURE(Start(std::string(kApp) + "CREATE TABLE other.e (id INT PRIMARY KEY, w VARCHAR(10));"
                                                    "CREATE TABLE other.full (id INT PRIMARY KEY, w INT);"
                                                    "INSERT INTO other.full VALUES (7, 7);",
                                Rules("      - match: \"app.*\"\n")));
  ASSERT_TRUE(Converges(*src_, "SELECT * FROM app.u ORDER BY id", *dst_, "SELECT * FROM app.u ORDER BY id"));
  // (Rows written before the target thread handled the RENAME are counted
  // as brought along: the check is what the source table holds then.)
  ASSERT_TRUE(src_->Execute("RENAME TABLE other.e TO app.e").ok());
  ASSERT_TRUE(WaitUntil([&] { return TargetValue("SELECT COUNT(*) FROM app.e") == "0"; }, seconds(60)));
  ASSERT_TRUE(src_->Execute("INSERT INTO app.e VALUES (1, 'x')").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.e ORDER BY id", *dst_, "SELECT * FROM app.e ORDER BY id"));
  ASSERT_TRUE(src_->Execute("ALTER TABLE other.full RENAME TO app.full").ok());
  EXPECT_TRUE(WaitForState("p", "failed", seconds(60)));
  std::string error = ErrorText(PipelineStatus("p"));
  EXPECT_NE(error.find("app.full renamed into the selection with rows"), std::string::npos) << error;
  EXPECT_NE(error.find("sluice snapshot -c " + config_ + " --pipeline p"), std::string::npos) << error;
  EXPECT_EQ(TargetValue("SELECT COUNT(*) FROM app.full"), "0");  // created, rows not copied yet
}

// Within the selection, under a `to:` template: the mapped target tables are
// renamed (RENAME TABLE and ALTER TABLE ... RENAME TO).
TEST_F(DdlRoutingTest, RenameWithinTheSelectionFollowsTheToTemplate) {
  ASSERT_NO_FATAL_FAILURE(Start(kApp, Rules("      - match: \"app.*\"\n        to: \"s.${table}\"\n")));
  ASSERT_TRUE(Converges(*src_, "SELECT * FROM app.t ORDER BY id", *dst_, "SELECT * FROM s.t ORDER BY id"));
  ASSERT_TRUE(src_->Execute("RENAME TABLE app.t TO app.t2; INSERT INTO app.t2 VALUES (3, 3); "
                            "ALTER TABLE app.u RENAME TO app.u2; INSERT INTO app.u2 VALUES (2, 2)")
                  .ok());
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.t2 ORDER BY id", *dst_, "SELECT * FROM s.t2 ORDER BY id"));
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.u2 ORDER BY id", *dst_, "SELECT * FROM s.u2 ORDER BY id"));
  EXPECT_TRUE(WaitForState("p", "running"));
}

// TRUNCATE of a renamed and filtered table empties the table it maps to.
TEST_F(DdlRoutingTest, TruncateOfARenamedFilteredTableEmptiesItsTargetTable) {
  ASSERT_NO_FATAL_FAILURE(Start(kApp, Rules("      - match: \"app.t\"\n        to: \"s.t\"\n        where: \"v >= 2\"\n"
                                            "      - match: \"app.u\"\n")));
  ASSERT_TRUE(Converges(*src_, "SELECT * FROM app.t WHERE v >= 2 ORDER BY id", *dst_, "SELECT * FROM s.t ORDER BY id"));
  ASSERT_TRUE(src_->Execute("TRUNCATE TABLE app.t; INSERT INTO app.t VALUES (5, 5), (6, 1); "
                            "INSERT INTO app.u VALUES (2, 2)")
                  .ok());
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.t WHERE v >= 2 ORDER BY id", *dst_, "SELECT * FROM s.t ORDER BY id"));
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.u ORDER BY id", *dst_, "SELECT * FROM app.u ORDER BY id"));
}

// Partition maintenance on the source (DROP / TRUNCATE PARTITION: rows go
// without row events) of a table renamed on the target: the statement cannot
// be applied there, and the rows it removed stay. Not silently: a warning
// names the statement, the target and the table, the pipeline goes on, and
// check finds the rows (--repair removes them).
TEST_F(DdlRoutingTest, ADroppedPartitionOfARenamedTableIsAWarningNotASilentDifference) {
  ASSERT_NO_FATAL_FAILURE(Start(
      "CREATE DATABASE app; CREATE TABLE app.logs (id INT PRIMARY KEY, v INT) "
      "PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN (20), "
      "PARTITION p2 VALUES LESS THAN MAXVALUE); INSERT INTO app.logs VALUES (1, 1), (2, 2), (11, 11), (21, 21)",
      Rules("      - match: \"app.logs\"\n        to: \"arch.logs\"\n")));
  const std::string q = "SELECT id, v FROM app.logs ORDER BY id", arch = "SELECT id, v FROM arch.logs ORDER BY id";
  ASSERT_TRUE(Converges(*src_, q, *dst_, arch));
  ASSERT_TRUE(src_->Execute("ALTER TABLE app.logs DROP PARTITION p0; ALTER TABLE app.logs TRUNCATE PARTITION p1; "
                            "INSERT INTO app.logs VALUES (22, 22)")
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return TargetValue("SELECT COUNT(*) FROM arch.logs WHERE id = 22") == "1"; },
                        seconds(30)));
  EXPECT_EQ(TargetValue("SELECT COUNT(*) FROM arch.logs"), "5");  // 1, 2, 11 kept
  EXPECT_TRUE(LogHas("ALTER TABLE app.logs DROP PARTITION p0 removes (or swaps in) a partition's rows without row "
                     "events in the binlog, and target dst keeps its own rows of `arch.logs`"));
  bool warned = false;
  nlohmann::json status = PipelineStatus("p");
  for (const auto& e : status["events"]) {
    warned |= e.value("what", "") == "warning" && e.value("message", "").find("TRUNCATE PARTITION p1") !=
                                                     std::string::npos;
  }
  EXPECT_TRUE(warned) << status.dump();
  EXPECT_EQ(status.value("state", ""), "running");
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  auto r = RunSluice("check -c " + config_ + " --repair", 60);
  EXPECT_NE(r.out.find("3 extra"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(Converges(*src_, q, *dst_, arch));
}

// Shards a rule merges into one target table: a TRUNCATE or DROP of one
// shard emptied or dropped the whole target table, every other shard's rows
// with it. It is not applied there (a warning names it); a table of the
// same DROP that nothing else writes is dropped as before, and `sluice
// check --repair` removes the rows no shard holds any more.
TEST_F(DdlRoutingTest, TruncateOrDropOfAMergedShardKeepsTheOtherShardsRows) {
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE app; "
                                "CREATE TABLE app.orders_1 (id INT PRIMARY KEY, v INT); "
                                "CREATE TABLE app.orders_2 (id INT PRIMARY KEY, v INT); "
                                "CREATE TABLE app.solo (id INT PRIMARY KEY, v INT); "
                                "INSERT INTO app.orders_1 VALUES (1, 1), (3, 3); "
                                "INSERT INTO app.orders_2 VALUES (2, 2), (4, 4); INSERT INTO app.solo VALUES (1, 1)",
                                Rules("      - match: \"app.orders_*\"\n        to: \"s.orders\"\n"
                                      "      - match: \"app.solo\"\n        to: \"s.solo\"\n")));
  const std::string merged = "SELECT id, v FROM s.orders ORDER BY id";
  ASSERT_TRUE(Converges(*src_, "SELECT * FROM app.orders_1 UNION ALL SELECT * FROM app.orders_2 ORDER BY id", *dst_,
                        merged));
  ASSERT_TRUE(Converges(*src_, "SELECT * FROM app.solo", *dst_, "SELECT * FROM s.solo"));
  ASSERT_TRUE(src_->Execute("TRUNCATE TABLE app.orders_2; INSERT INTO app.orders_1 VALUES (5, 5); "
                            "DROP TABLE app.orders_1, app.solo; INSERT INTO app.orders_2 VALUES (6, 6)")
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return TargetValue("SELECT COUNT(*) FROM s.orders WHERE id = 6") == "1"; },
                        seconds(30)))
      << sluice_->Log();
  EXPECT_EQ(TargetValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM s.orders"), "1,2,3,4,5,6");
  EXPECT_EQ(TargetValue("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 's' AND "
                        "TABLE_NAME = 'solo'"),
            "0");
  EXPECT_TRUE(LogHas("`TRUNCATE TABLE app.orders_2` is not applied to `s.orders` on target dst, which holds other "
                     "source tables' rows too"));
  EXPECT_TRUE(LogHas("the rows of `app.orders_1` stay there"));
  nlohmann::json status = PipelineStatus("p");
  EXPECT_EQ(status.value("state", ""), "running");
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  auto r = RunSluice("check -c " + config_ + " --repair", 60);
  EXPECT_NE(r.out.find("5 extra"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.orders_2 ORDER BY id", *dst_, merged));
}

// A merged shard renamed out of the selection with `renamed_out: drop`, or
// within it: the target table the other shards' rows are in too stays.
TEST_F(DdlRoutingTest, RenameOfAMergedShardKeepsTheTargetTable) {
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE app; "
                                "CREATE TABLE app.orders_1 (id INT PRIMARY KEY, v INT); "
                                "CREATE TABLE app.orders_2 (id INT PRIMARY KEY, v INT); "
                                "INSERT INTO app.orders_1 VALUES (1, 1); INSERT INTO app.orders_2 VALUES (2, 2)",
                                Rules("      - match: \"app.orders_*\"\n        to: \"s.orders\"\n",
                                      "    renamed_out: drop\n")));
  ASSERT_TRUE(Converges(*src_, "SELECT 2", *dst_, "SELECT COUNT(*) FROM s.orders"));
  ASSERT_TRUE(src_->Execute("RENAME TABLE app.orders_1 TO app.old_1; RENAME TABLE app.orders_2 TO app.orders_9; "
                            "INSERT INTO app.orders_9 VALUES (3, 3)")
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return TargetValue("SELECT COUNT(*) FROM s.orders WHERE id = 3") == "1"; },
                        seconds(30)))
      << sluice_->Log();
  EXPECT_EQ(TargetValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM s.orders"), "1,2,3");
  EXPECT_TRUE(LogHas("is kept, not dropped (renamed_out: drop), as it holds other source tables' rows too"));
  EXPECT_EQ(PipelineStatus("p").value("state", ""), "running");
}

// A column dropped shard by shard (a rolled-out schema change): the merged
// table keeps it, so the rows of shards that still have it go on (before,
// the first shard's drop dropped it there and the next row of another shard
// stopped the target).
TEST_F(DdlRoutingTest, AColumnDroppedShardByShardStaysOnTheMergedTable) {
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE app; "
                                "CREATE TABLE app.orders_1 (id INT PRIMARY KEY, v INT, old INT NULL); "
                                "CREATE TABLE app.orders_2 (id INT PRIMARY KEY, v INT, old INT NULL); "
                                "INSERT INTO app.orders_1 VALUES (1, 1, 1); INSERT INTO app.orders_2 VALUES (2, 2, 2)",
                                Rules("      - match: \"app.orders_*\"\n        to: \"s.orders\"\n")));
  ASSERT_TRUE(Converges(*src_, "SELECT 2", *dst_, "SELECT COUNT(*) FROM s.orders"));
  ASSERT_TRUE(src_->Execute("ALTER TABLE app.orders_1 DROP COLUMN old; INSERT INTO app.orders_2 VALUES (4, 4, 4); "
                            "INSERT INTO app.orders_1 VALUES (3, 3); ALTER TABLE app.orders_2 DROP COLUMN old; "
                            "INSERT INTO app.orders_2 VALUES (6, 6)")
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return TargetValue("SELECT COUNT(*) FROM s.orders WHERE id = 6") == "1"; },
                        seconds(30)))
      << sluice_->Log();
  EXPECT_EQ(TargetValue("SELECT GROUP_CONCAT(id, ':', v, ':', IFNULL(old, '-') ORDER BY id) FROM s.orders"),
            "1:1:1,2:2:2,3:3:-,4:4:4,6:6:-");
  EXPECT_TRUE(LogHas("`ALTER TABLE app.orders_1 DROP COLUMN old` is not applied to `s.orders` on target dst"));
  EXPECT_EQ(PipelineStatus("p").value("state", ""), "running");
}

// `sluice run` creates a missing renamed/subset target table as `sluice
// snapshot` does, also when the stream replays the source's CREATE.
TEST_F(DdlRoutingTest, RunCreatesAMissingRenamedSubsetTargetTable) {
  ASSERT_NO_FATAL_FAILURE(Start(kApp, Rules("      - match: \"app.t\"\n        to: \"s.t\"\n        columns: [id]\n")));
  EXPECT_TRUE(Converges(*src_, "SELECT id FROM app.t ORDER BY id", *dst_, "SELECT * FROM s.t ORDER BY id"));
  EXPECT_TRUE(WaitForState("p", "running"));
}

// An existing target table with the same column names but other types is
// not "the same columns": the CREATE stops and says what differs.
TEST_F(DdlRoutingTest, CreateOfAnExistingTableComparesTypes) {
  ASSERT_NO_FATAL_FAILURE(Start(kApp, Rules("      - match: \"app.*\"\n"),
                                "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(3))"));
  EXPECT_TRUE(WaitForState("p", "failed", seconds(60)));
  EXPECT_TRUE(
      LogHas("target table `app.t` already exists with the same column names but other types: `v` is "
             "varchar(3) on the target, int(11) on the source"))
      << sluice_->Log();
  EXPECT_EQ(sluice_->FullLog().find("same columns; CREATE skipped"), std::string::npos) << sluice_->Log();
  EXPECT_EQ(sluice_->FullLog().find("target dst: pipeline p target dst"), std::string::npos) << sluice_->Log();
}

// A table the rule only renames (`to:`, every column kept under its name):
// its ALTERs apply to the target table, named anew (they stopped the target
// with "change it by hand" before), column renames and indexes included.
TEST_F(DdlRoutingTest, AltersOfATableTheRuleOnlyRenamesApplyToItsTargetTable) {
  ASSERT_NO_FATAL_FAILURE(Start(kApp, Rules("      - match: \"app.*\"\n        to: \"s.${table}\"\n")));
  ASSERT_TRUE(Converges(*src_, "SELECT * FROM app.t ORDER BY id", *dst_, "SELECT * FROM s.t ORDER BY id"));
  ASSERT_TRUE(src_->Execute("ALTER TABLE app.t ADD COLUMN w INT NOT NULL DEFAULT 7 AFTER id, CHANGE v value BIGINT; "
                            "INSERT INTO app.t VALUES (3, 8, 30000000000); USE app; ALTER TABLE u ADD INDEX by_v (v); "
                            "UPDATE u SET v = 5")
                  .ok());
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.t ORDER BY id", *dst_, "SELECT * FROM s.t ORDER BY id"));
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.u ORDER BY id", *dst_, "SELECT * FROM s.u ORDER BY id"));
  EXPECT_EQ(TargetValue("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 's' AND "
                        "TABLE_NAME = 'u' AND INDEX_NAME = 'by_v'"),
            "1");
  EXPECT_TRUE(WaitForState("p", "running"));
}

// The advice for a DDL that cannot be mapped works: change the target table
// by hand, restart, and the pipeline skips the statement and goes on.
TEST_F(DdlRoutingTest, UnmappableDdlAdviceFixByHandThenRestartWorks) {
  ASSERT_NO_FATAL_FAILURE(Start(kApp, Rules("      - match: \"app.t\"\n        to: \"s.t\"\n        columns: [id, v]\n"
                                            "        rename_columns: {v: value}\n")));
  ASSERT_TRUE(Converges(*src_, "SELECT * FROM app.t ORDER BY id", *dst_, "SELECT * FROM s.t ORDER BY id"));
  ASSERT_TRUE(src_->Execute("ALTER TABLE app.t MODIFY v BIGINT; INSERT INTO app.t VALUES (3, 30000000000)").ok());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(60)));
  std::string error = ErrorText(PipelineStatus("p"));
  EXPECT_NE(error.find("change `s.t` on the target by hand (`value` is int(11) on the target, bigint(20) on the "
                       "source), then restart sluice or POST /api/pipelines/p/start"),
            std::string::npos)
      << error;
  EXPECT_EQ(error.find("pipeline p target dst"), std::string::npos) << error;
  ASSERT_TRUE(dst_->Execute("ALTER TABLE s.t MODIFY value BIGINT").ok());
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start", "{}").status, 200);
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM app.t ORDER BY id", *dst_, "SELECT * FROM s.t ORDER BY id"));
  EXPECT_TRUE(WaitForState("p", "running"));
}

}  // namespace
}  // namespace sluice::testing
