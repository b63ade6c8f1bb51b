// `sluice run` against a target that conflicts, rejects, hangs or restarts
// (issue 9), end to end: a real sluice process between private MariaDB
// servers.
//
//   unique values moving between rows of different partitions -> applied, no wedge, kill -9 included
//   on_error: stop with parallel partitions -> the target is a prefix of the source, status truthful
//   a skip log that cannot be written -> the pipeline stops naming the file, nothing dropped silently
//   a hung target (SIGSTOP) -> retrying naming the server, recovers after SIGCONT
//   target restarted (kill -9, SIGTERM) mid-stream -> exact convergence

#include <fmt/format.h>

#include <signal.h>
#include <sys/stat.h>

#include <sys/wait.h>

#include <random>

#include "pipeline/fault_fixture.h"
#include "sink/merge.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class TargetFaultTest : public FaultTest {
 protected:
  // A source and target, `setup` run on the source (and `target_setup` on the
  // target), sluice started at the source's binlog end after them.
  void Start(const std::string& setup, PipelineOptions o, const std::string& target_setup = "") {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute(setup).ok());
    ASSERT_TRUE(dst_->Execute(target_setup.empty() ? setup : target_setup).ok());
    if (o.start == "earliest") o.start = BinlogEnd(*src_);
    ASSERT_FALSE(o.start.empty());
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url() + target_params_, o));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  void Restart() {
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  // `sluice ARGS... -c config`: exit status (-1 if it did not run) and output.
  std::pair<int, std::string> RunSluice(std::vector<std::string> args) {
    std::string out = (dir_ / ("cmd-" + std::to_string(++commands_) + ".log")).string();
    args.insert(args.begin(), SLUICE_BINARY);
    args.push_back("-c");
    args.push_back(config_);
    auto pid = SpawnProcess(args, out);
    if (!pid.ok()) return {-1, pid.status().message()};
    auto st = WaitForExit(*pid, std::chrono::minutes(2));
    std::string text = TailOfFile(out, 0, 20000);
    if (!st.ok() || !st->has_value() || !WIFEXITED(**st)) return {-1, text};
    return {WEXITSTATUS(**st), text};
  }
  int commands_ = 0;
  std::string target_params_;  // appended to the target's URL
};

// Sends SIGCONT to a stopped server when the test ends, however it ends.
struct ContinueAtExit {
  pid_t pid = -1;
  ~ContinueAtExit() {
    if (pid > 0) ::kill(pid, SIGCONT);
  }
};

// A renamed table whose target column is narrower than the source's: rows
// with a code longer than 3 are rejected.
class TargetRejectTest : public TargetFaultTest {
 protected:
  void StartNarrow(uint32_t parallel, const std::string& extra = "") {
    PipelineOptions o;
    o.tables = "      - match: \"shop.customers\"\n        to: \"crm.clients\"\n";
    o.parallel = parallel;
    o.extra = extra;
    ASSERT_NO_FATAL_FAILURE(
        Start("CREATE DATABASE shop; CREATE TABLE shop.customers (id INT PRIMARY KEY, code VARCHAR(20))", o,
              "CREATE DATABASE crm; CREATE TABLE crm.clients (id INT PRIMARY KEY, code VARCHAR(3))"));
  }
  // Rows 1..n, one source transaction each, in one burst (so that they share
  // a batch); row `bad` does not fit the target.
  void WriteRows(int n, int bad) {
    std::string sql;
    for (int id = 1; id <= n; ++id) {
      sql += fmt::format("INSERT INTO shop.customers VALUES ({}, '{}');", id, id == bad ? "toolong" : "ab");
    }
    ASSERT_TRUE(src_->Execute(sql).ok());
  }
  std::string TargetIds() {
    auto ids = dst_->Query("SELECT GROUP_CONCAT(id ORDER BY id) FROM crm.clients");
    return ids.ok() && !ids->empty() ? (*ids)[0][0].value_or("") : "?";
  }
};

// Issue 9 item 3: with parallel partitions, a unique value (and a primary
// key) moving between rows whose keys hash to different partitions must not
// wedge the pipeline: nothing stops, the target ends equal to the source,
// also across a kill -9 in the middle.
TEST_F(TargetFaultTest, UniqueValuesMovingAcrossPartitionsApplyExactly) {
  std::string setup = "CREATE DATABASE shop; CREATE TABLE shop.uq (id INT PRIMARY KEY, u INT, UNIQUE KEY u (u));";
  for (int i = 1; i <= 50; ++i) setup += fmt::format("INSERT INTO shop.uq VALUES ({0}, {0});", i);
  PipelineOptions o;
  o.parallel = 4;
  ASSERT_NO_FATAL_FAILURE(Start(setup, o));
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> value(1, 80);
  auto burst = [&](int statements) -> Status {
    // 100 autocommit statements per round trip: back to back, as a busy client writes them.
    for (int done = 0; done < statements;) {
      std::string sql;
      for (int k = 0; k < 100 && done < statements; ++k, ++done) {
        int v = value(rng), id = value(rng);
        sql += rng() % 2 ? fmt::format("UPDATE IGNORE shop.uq SET u = {} WHERE id = {};", v, id)
                         : fmt::format("UPDATE IGNORE shop.uq SET id = {} WHERE id = {};", v, id);
      }
      RETURN_IF_ERROR(src_->Execute(sql));
    }
    return Status::Ok();
  };
  const char* kRows = "SELECT id, u FROM shop.uq ORDER BY id";
  ASSERT_TRUE(burst(2000).ok());
  // kill -9 while the first half is still being applied (or just after).
  sluice_->Kill();
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(burst(2000).ok());
  EXPECT_TRUE(Converges(*src_, kRows, *dst_, kRows, seconds(60)));
  EXPECT_TRUE(WaitForState("p", "running", seconds(5)));
  EXPECT_EQ(ErrorText(PipelineStatus("p")), "");
  EXPECT_EQ(sluice_->FullLog().find("Duplicate entry"), std::string::npos) << sluice_->Log();
  // And a restart after it all has nothing left to redo or trip over.
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(burst(200).ok());
  EXPECT_TRUE(Converges(*src_, kRows, *dst_, kRows, seconds(30)));
  EXPECT_TRUE(WaitForState("p", "running", seconds(5)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The partition a key `id` of db.table(id, other) goes to among n, as the loader computes it by key.
uint64_t PartitionOf(int64_t id, uint32_t n, const char* db = "crm", const char* name = "clients") {
  auto table = std::make_shared<TargetTable>();
  table->db = db;
  table->table = name;
  table->columns = {"id", "code"};
  table->key = {0};
  SinkChange c;
  c.table = table;
  c.values = {Value::Int(id), Value::Null()};
  return sink::KeyHash(c) % n;
}

// Issue 9 item 3, made deterministic: rows a and b (two partitions) swap a
// unique value through a third value 9, which row c (a third partition)
// takes last. Applied by key partitions, a and b wait for each other while c
// commits 9; a and b applied together in source order then collide with c's
// committed 9 ("Duplicate entry '9'"), and so does every restart.
TEST_F(TargetFaultTest, UniqueValueSwapBesideAThirdPartitionApplies) {
  int64_t a = 1, b = 2, c = 3;
  while (PartitionOf(b, 4, "shop", "uq") == PartitionOf(a, 4, "shop", "uq")) ++b;
  c = b + 1;
  while (PartitionOf(c, 4, "shop", "uq") == PartitionOf(a, 4, "shop", "uq") ||
         PartitionOf(c, 4, "shop", "uq") == PartitionOf(b, 4, "shop", "uq")) {
    ++c;
  }
  PipelineOptions o;
  o.parallel = 4;
  ASSERT_NO_FATAL_FAILURE(Start(fmt::format("CREATE DATABASE shop; CREATE TABLE shop.uq (id INT PRIMARY KEY, u INT, "
                                            "UNIQUE KEY u (u)); INSERT INTO shop.uq VALUES ({}, 5), ({}, 6), ({}, 3)",
                                            a, b, c),
                                o));
  ASSERT_TRUE(src_->Execute(fmt::format("UPDATE shop.uq SET u = 9 WHERE id = {0}; UPDATE shop.uq SET u = 5 WHERE id = "
                                        "{1}; UPDATE shop.uq SET u = 6 WHERE id = {0}; UPDATE shop.uq SET u = 9 "
                                        "WHERE id = {2}",
                                        a, b, c))
                  .ok());
  const char* kRows = "SELECT id, u FROM shop.uq ORDER BY id";
  EXPECT_TRUE(Converges(*src_, kRows, *dst_, kRows, seconds(30)));
  EXPECT_TRUE(WaitForState("p", "running", seconds(5)));
  EXPECT_EQ(sluice_->FullLog().find("Duplicate entry"), std::string::npos) << sluice_->Log();
}

// Issue 9 item 13: on_error: stop with four partitions. The rejected row's
// partition is not the only one with rows of later transactions in the
// batch; none of them may be committed: the target holds exactly the source
// up to the transaction before the rejected one, and the status says what
// was applied and where it stopped. Widened and restarted, it converges.
// Issue 9, telling the truth: a pipeline that failed with rows waiting is
// behind, and its delay (status and the gauge an alert watches) keeps
// growing instead of reading 0.
TEST_F(TargetRejectTest, FailedPipelineDelayGrowsWhileRowsWait) {
  ASSERT_NO_FATAL_FAILURE(StartNarrow(1));
  ASSERT_NO_FATAL_FAILURE(WriteRows(5, 3));
  ASSERT_TRUE(WaitForState("p", "failed", seconds(15)));
  int64_t first = Int(PipelineStatus("p"), "delay_ms");
  EXPECT_TRUE(WaitUntil([&] { return Int(PipelineStatus("p"), "delay_ms") > first + 1500; }, seconds(10)))
      << "delay stood at " << first << ": " << PipelineStatus("p").dump();
  HttpReply m = HttpGet(http_port_, "/metrics");
  EXPECT_GT(MetricValue(m.body, "sluice_apply_delay_seconds", {"pipeline=\"p\"", "target=\"dst\""}), 1.5) << m.body;
  EXPECT_EQ(sluice_->Stop(), 1 << 8) << sluice_->Log();
}

TEST_F(TargetRejectTest, StopLeavesTheTargetAPrefixOfTheSource) {
  ASSERT_NO_FATAL_FAILURE(StartNarrow(4));
  bool later_elsewhere = false;
  for (int id = 11; id <= 30; ++id) later_elsewhere |= PartitionOf(id, 4) != PartitionOf(10, 4);
  ASSERT_TRUE(later_elsewhere);
  ASSERT_NO_FATAL_FAILURE(WriteRows(30, 10));
  ASSERT_TRUE(WaitForState("p", "failed", seconds(15)));
  Json s = PipelineStatus("p");
  EXPECT_NE(ErrorText(s).find("id=10"), std::string::npos) << s.dump();
  EXPECT_EQ(TargetIds(), "1,2,3,4,5,6,7,8,9");
  EXPECT_EQ(Int(s, "rows_applied"), 9) << s.dump();
  ASSERT_EQ(s["targets"].size(), 1u);
  EXPECT_EQ(Int(s["targets"][0], "rows_applied"), 9) << s.dump();
  EXPECT_NE(Str(s, "applied_position"), "") << s.dump();
  EXPECT_NE(Str(s["targets"][0], "applied_position"), "") << s.dump();
  // Still a prefix a moment later (nothing else commits).
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(TargetIds(), "1,2,3,4,5,6,7,8,9");
  EXPECT_EQ(sluice_->Stop(), 1 << 8) << "stopped while its pipeline had failed\n" << sluice_->Log();

  ASSERT_TRUE(dst_->Execute("ALTER TABLE crm.clients MODIFY code VARCHAR(20)").ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.customers VALUES (31, 'late')").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT id, code FROM shop.customers ORDER BY id", *dst_,
                        "SELECT id, code FROM crm.clients ORDER BY id", seconds(20)));
  EXPECT_TRUE(WaitForState("p", "running", seconds(5)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Issue 9 item 9: a skip log that cannot be written (here: a full disk) must
// not let a rejected row vanish: the target stops, naming the skip log, at
// the transaction of that row, and no skip is counted.
TEST_F(TargetRejectTest, UnwritableSkipLogStopsInsteadOfDropping) {
  ASSERT_NO_FATAL_FAILURE(StartNarrow(2, "    on_error: skip\n    skip_log: /dev/full\n"));
  ASSERT_NO_FATAL_FAILURE(WriteRows(12, 5));
  ASSERT_TRUE(WaitForState("p", "failed", seconds(15)));
  Json s = PipelineStatus("p");
  std::string error = ErrorText(s);
  for (const char* part : {"skip log /dev/full", "No space left on device", "id=5", "Data too long"}) {
    EXPECT_NE(error.find(part), std::string::npos) << "\"" << part << "\" missing from " << error;
  }
  EXPECT_EQ(TargetIds(), "1,2,3,4");
  std::string page = HttpGet(http_port_, "/metrics").body;
  EXPECT_LE(MetricValue(page, "sluice_errors_total", {"pipeline=\"p\"", "kind=\"skipped\""}), 0) << page;
  EXPECT_EQ(sluice_->FullLog().find("skipped (on_error: skip)"), std::string::npos) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 1 << 8) << "stopped while its pipeline had failed\n" << sluice_->Log();
}

// A target that runs out of room ("The table is full", a full disk, too many
// locks) is the target's state, not the row's: the change is retried until
// room is made, never skipped, whatever on_error says.
TEST_F(TargetFaultTest, AFullTargetIsRetriedNotSkipped) {
  PipelineOptions o;
  o.extra = "    on_error: skip\n";
  // A MEMORY table holds what max_heap_table_size allowed when it was made.
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v CHAR(255))", o,
                                "CREATE DATABASE shop; SET SESSION max_heap_table_size = 16384; "
                                "CREATE TABLE shop.t (id INT PRIMARY KEY, v CHAR(255)) ENGINE=MEMORY"));
  for (int id = 1; id <= 300; ++id) {
    ASSERT_TRUE(src_->Execute(fmt::format("INSERT INTO shop.t VALUES ({}, 'row {}')", id, id)).ok());
  }
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(30), "dst"));
  EXPECT_NE(ErrorText(PipelineStatus("p")).find("is full"), std::string::npos) << PipelineStatus("p").dump();
  ASSERT_TRUE(dst_->Execute("SET SESSION max_heap_table_size = 67108864; ALTER TABLE shop.t ENGINE=MEMORY").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT id, v FROM shop.t ORDER BY id", *dst_, "SELECT id, v FROM shop.t ORDER BY id",
                        seconds(60)));
  EXPECT_EQ(sluice_->FullLog().find("skipped (on_error: skip)"), std::string::npos) << sluice_->Log();
  std::string page = HttpGet(http_port_, "/metrics").body;
  EXPECT_LE(MetricValue(page, "sluice_errors_total", {"pipeline=\"p\"", "kind=\"skipped\""}), 0) << page;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A target table (or a column of it) dropped on the target by hand is the
// target's state, not a row to skip: with on_error: skip every later change
// of the table went to the skip log. The target stops, naming the table and
// the way back, whatever on_error says; the way back works.
TEST_F(TargetFaultTest, ATableDroppedOnTheTargetStopsItEvenWithOnErrorSkip) {
  PipelineOptions o;
  const std::string skip_log = (dir_ / "skipped.jsonl").string();
  o.extra = "    on_error: skip\n    skip_log: " + skip_log + "\n";
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20))", o));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.t VALUES (1, 'a'), (2, 'b')").ok());
  const std::string rows = "SELECT id, v FROM shop.t ORDER BY id";
  ASSERT_TRUE(Converges(*src_, rows, *dst_, rows, seconds(30)));

  ASSERT_TRUE(dst_->Execute("ALTER TABLE shop.t DROP COLUMN v").ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.t VALUES (3, 'c')").ok());
  EXPECT_TRUE(WaitForState("p", "failed", seconds(30), "dst"));
  std::string error = ErrorText(PipelineStatus("p"));
  for (const char* part : {"shop`.`t`", "id=3", "Unknown column 'v'", "Add the column back", "--repair"}) {
    EXPECT_NE(error.find(part), std::string::npos) << part << " in " << error;
  }
  EXPECT_EQ(sluice_->Stop(), 1 << 8) << sluice_->Log();  // a pipeline had failed
  ASSERT_TRUE(dst_->Execute("ALTER TABLE shop.t ADD COLUMN v VARCHAR(20)").ok());
  Restart();
  ASSERT_TRUE(Converges(*src_, "SELECT id FROM shop.t ORDER BY id", *dst_, "SELECT id FROM shop.t ORDER BY id",
                        seconds(30)));

  ASSERT_TRUE(dst_->Execute("DROP TABLE shop.t").ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.t VALUES (4, 'd'); UPDATE shop.t SET v = 'bb' WHERE id = 2").ok());
  EXPECT_TRUE(WaitForState("p", "failed", seconds(30), "dst"));
  error = ErrorText(PipelineStatus("p"));
  for (const char* part : {"shop`.`t`", "id=4", "doesn't exist", "sluice snapshot --pipeline p"}) {
    EXPECT_NE(error.find(part), std::string::npos) << part << " in " << error;
  }
  EXPECT_EQ(sluice_->Stop(), 1 << 8) << sluice_->Log();  // a pipeline had failed
  EXPECT_EQ(sluice_->FullLog().find("skipped (on_error: skip)"), std::string::npos) << sluice_->Log();
  EXPECT_FALSE(std::filesystem::exists(skip_log)) << TailOfFile(skip_log, 0, 2000);

  // The way the error names: a snapshot recreates and copies the table, the
  // stream then resumes where the target stopped.
  auto [code, out] = RunSluice({"snapshot", "--pipeline", "p", "--progress", "none"});
  ASSERT_EQ(code, 0) << out;
  Restart();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.t VALUES (5, 'e')").ok());
  EXPECT_TRUE(Converges(*src_, rows, *dst_, rows, seconds(30)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Issue 9 item 4: keyless tables find a row by all its values. FLOAT,
// DOUBLE and every other type must match what the target stores, or an
// update leaves a stale row and a delete misses without a word; check
// --repair must really repair such a table.
TEST_F(TargetFaultTest, KeylessRowsMatchExactlyForEveryType) {
  const std::string table =
      "CREATE DATABASE shop; CREATE TABLE shop.k (f FLOAT, d DOUBLE, b BINARY(4), vb VARBINARY(8), c CHAR(4), "
      "v VARCHAR(8), dt DATETIME(3), ts TIMESTAMP(6) NULL, tm TIME(2), dc DECIMAL(10,3), bt BIT(5), j JSON, "
      "e ENUM('x','y'), st SET('a','b'), t INT);"
      "CREATE TABLE shop.kc (c VARCHAR(5) COLLATE utf8mb4_general_ci, l VARCHAR(5) CHARACTER SET latin1, t INT);";
  PipelineOptions o;
  o.parallel = 4;
  ASSERT_NO_FATAL_FAILURE(Start(table, o));
  ASSERT_TRUE(
      src_->Execute("INSERT INTO shop.k VALUES "
                    "(0.1, 0.1, 'a', x'00ff', 'ab', 'ab ', '2024-01-31 12:34:56.789', '2024-01-31 12:34:56.123456', "
                    "'-12:34:56.78', 1.5, b'10101', '{\"a\": [1, 2.50]}', 'x', 'a,b', 1),"
                    "(1.5, 1e-300, 'ab', '', 'x', 'Ab', '1999-12-31 23:59:59.999', NULL, '838:59:59', -0.001, b'1', "
                    "'[]', 'y', '', 1),"
                    "(0.123456789, 3.141592653589793, x'00', x'61', '', '', '2000-01-01', '1970-01-01 00:00:01', "
                    "'00:00:00.01', 0, b'0', 'null', NULL, NULL, 1),"
                    "(3.4e38, -1.7976931348623157e308, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                    "NULL, NULL, 1)")
          .ok());
  const std::string rows =
      "SELECT CAST(f AS DOUBLE), d, HEX(b), HEX(vb), c, v, dt, ts, tm, dc, bt + 0, j, e, st, t FROM shop.k "
      "ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15";
  ASSERT_TRUE(Converges(*src_, rows, *dst_, rows, seconds(20)));
  ASSERT_TRUE(src_->Execute("UPDATE shop.k SET t = 2").ok());
  ASSERT_TRUE(src_->Execute("UPDATE shop.k SET t = 3 WHERE f < 1").ok());
  ASSERT_TRUE(src_->Execute("DELETE FROM shop.k WHERE f > 1 AND f < 2").ok());
  EXPECT_TRUE(Converges(*src_, rows, *dst_, rows, seconds(20)));
  // Text that a case-insensitive or PAD SPACE comparison takes for another row's.
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.kc VALUES ('a', 'é', 1), ('A', 'É', 1), ('a ', 'é ', 1), ('b', 'e', 1);"
                            "DELETE FROM shop.kc WHERE c = BINARY 'A';"
                            "UPDATE shop.kc SET t = 2 WHERE c = BINARY 'a ';"
                            "UPDATE shop.kc SET t = 3 WHERE l = BINARY CONVERT('e' USING latin1)")
                  .ok());
  const char* kc = "SELECT HEX(c), HEX(l), t FROM shop.kc ORDER BY 1, 2, 3";
  EXPECT_TRUE(Converges(*src_, kc, *dst_, kc, seconds(20)));
  auto n = dst_->QueryValue("SELECT COUNT(*) FROM shop.k");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, "3");
  EXPECT_TRUE(WaitForState("p", "running", seconds(5)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  // check --repair on a keyless table with floats: a stale and a missing row.
  ASSERT_TRUE(dst_->Execute("UPDATE shop.k SET t = 7 WHERE f < 0.2").ok());
  auto [repair_rc, repair_out] = RunSluice({"check", "--repair"});
  EXPECT_EQ(repair_rc, 0) << repair_out;
  EXPECT_EQ(repair_out.find("still"), std::string::npos) << repair_out;
  EXPECT_TRUE(Converges(*src_, rows, *dst_, rows, seconds(5)));
  auto [check_rc, check_out] = RunSluice({"check"});
  EXPECT_EQ(check_rc, 0) << check_out;

  // A target that no longer holds the row the source changes: not silent.
  ASSERT_TRUE(dst_->Execute("UPDATE shop.k SET t = 9 WHERE f > 1").ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(src_->Execute("UPDATE shop.k SET t = 4 WHERE f > 1").ok());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(15)));
  std::string error = ErrorText(PipelineStatus("p"));
  EXPECT_NE(error.find("diverged"), std::string::npos) << error;
  EXPECT_NE(error.find("`shop`.`k`"), std::string::npos) << error;
}

// Issue 9 item 6: ENUM's error value '' (index 0), stored by a source
// session without strict mode, is applied as the source holds it, keyed and
// keyless, while strict mode still rejects a real truncation in the same row.
TEST_F(TargetFaultTest, EnumErrorValueIsAppliedAsTheSourceHoldsIt) {
  PipelineOptions o;
  o.parallel = 2;
  ASSERT_NO_FATAL_FAILURE(
      Start("CREATE DATABASE shop; CREATE TABLE shop.en (id INT PRIMARY KEY, e ENUM('a','b'), v VARCHAR(10));"
            "CREATE TABLE shop.enk (e ENUM('a','b') NOT NULL, t INT);",
            o,
            "CREATE DATABASE shop; CREATE TABLE shop.en (id INT PRIMARY KEY, e ENUM('a','b'), v VARCHAR(3));"
            "CREATE TABLE shop.enk (e ENUM('a','b') NOT NULL, t INT);"));
  ASSERT_TRUE(src_->Execute("SET SESSION sql_mode = ''; "
                            "INSERT INTO shop.en VALUES (1, 'zz', 'ok'), (2, 'a', 'ok'), (3, 'b', 'ok');"
                            "UPDATE shop.en SET e = 'nope' WHERE id = 3;"
                            "INSERT INTO shop.enk VALUES ('zz', 1), ('a', 1), ('', 2);"
                            "UPDATE shop.enk SET t = 5 WHERE t = 1;"
                            "DELETE FROM shop.enk WHERE t = 2;"
                            "SET SESSION sql_mode = DEFAULT")
                  .ok());
  const char* kEn = "SELECT id, e + 0, e, v FROM shop.en ORDER BY id";
  const char* kEnk = "SELECT e + 0, e, t FROM shop.enk ORDER BY 1, 3";
  EXPECT_TRUE(Converges(*src_, kEn, *dst_, kEn, seconds(20)));
  EXPECT_TRUE(Converges(*src_, kEnk, *dst_, kEnk, seconds(20)));
  auto zero = dst_->QueryValue("SELECT COUNT(*) FROM shop.en WHERE e + 0 = 0");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, "2");
  EXPECT_TRUE(WaitForState("p", "running", seconds(5)));
  // The same row with a value too long for the target: still an error.
  ASSERT_TRUE(src_->Execute("SET SESSION sql_mode = ''; INSERT INTO shop.en VALUES (4, 'zz', 'toolong'); "
                            "SET SESSION sql_mode = DEFAULT")
                  .ok());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(15)));
  std::string error = ErrorText(PipelineStatus("p"));
  EXPECT_NE(error.find("id=4"), std::string::npos) << error;
  EXPECT_NE(error.find("'v'"), std::string::npos) << error;
  auto four = dst_->QueryValue("SELECT COUNT(*) FROM shop.en WHERE id = 4");
  ASSERT_TRUE(four.ok());
  EXPECT_EQ(*four, "0");
}

// SIGTERM of sluice while its target hangs (SIGSTOP) in the middle of
// applying, with the default timeouts (90 s): the stop does not wait them out.
TEST_F(TargetFaultTest, StopIsPromptWhileTheTargetHangs) {
  PipelineOptions o;
  o.parallel = 2;
  ASSERT_NO_FATAL_FAILURE(Start(kSchema, o));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));
  ContinueAtExit resume{dst_->pid()};
  ASSERT_EQ(::kill(dst_->pid(), SIGSTOP), 0);
  ASSERT_TRUE(Transactions(*src_, 21, 20).ok());
  std::this_thread::sleep_for(milliseconds(1500));
  auto t0 = std::chrono::steady_clock::now();
  sluice_->Stop();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, seconds(15)) << sluice_->Log();
  ASSERT_EQ(::kill(dst_->pid(), SIGCONT), 0);
  resume.pid = -1;
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(ConvergesExactly(40));
}

// Issue 9 item 12: a hung target (its server stopped with SIGSTOP) is
// "retrying" with an error naming the server, the lag grows, and after
// SIGCONT everything arrives once; a long DDL on the target is not cut by the
// timeouts; the target killed (-9) or shut down (SIGTERM) mid-stream is
// survived the same way.
TEST_F(TargetFaultTest, HungOrRestartedTargetRetriesAndRecovers) {
  target_params_ = "?read_timeout=2&write_timeout=2";
  PipelineOptions o;
  o.parallel = 2;
  ASSERT_NO_FATAL_FAILURE(Start(kSchema, o));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));

  Status written;
  std::thread writer([&] { written = Transactions(*src_, 21, 80, milliseconds(15)); });
  std::this_thread::sleep_for(milliseconds(300));
  ContinueAtExit resume{dst_->pid()};
  ASSERT_EQ(::kill(dst_->pid(), SIGSTOP), 0);
  bool retrying = WaitForState("p", "retrying", seconds(20), "dst");
  EXPECT_TRUE(retrying);
  Json first = PipelineStatus("p");
  const std::string server = fmt::format("127.0.0.1:{}", dst_->port());
  EXPECT_NE(ErrorText(first).find(server), std::string::npos) << first.dump();
  std::this_thread::sleep_for(milliseconds(1000));
  Json second = PipelineStatus("p");
  EXPECT_EQ(Str(second, "state"), "retrying") << second.dump();
  EXPECT_GT(Int(second, "delay_ms"), Int(first, "delay_ms")) << second.dump();
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  ASSERT_EQ(::kill(dst_->pid(), SIGCONT), 0);
  resume.pid = -1;
  EXPECT_TRUE(ConvergesExactly(100));
  EXPECT_TRUE(WaitForState("p", "running", seconds(30)));

  // A DDL that waits on the target longer than the read timeout (a
  // metadata lock held by another session) completes: not cut, not retried.
  const uint64_t log_before = sluice_->FullLog().size();
  ASSERT_TRUE(dst_->Execute("BEGIN; SELECT COUNT(*) FROM shop.orders").ok());
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders ADD COLUMN extra INT").ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto n = dst_->QueryValue(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE "
            "'Waiting for table metadata lock' AND INFO LIKE 'ALTER TABLE%'");
        return n.ok() && *n != "0";
      },
      seconds(10)));
  std::this_thread::sleep_for(seconds(4));  // twice the read timeout
  ASSERT_TRUE(dst_->Execute("COMMIT").ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto n = dst_->QueryValue(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND "
            "TABLE_NAME = 'orders' AND COLUMN_NAME = 'extra'");
        return n.ok() && *n == "1";
      },
      seconds(10)));
  std::string ddl_log = sluice_->FullLog().substr(log_before);
  EXPECT_EQ(ddl_log.find("retrying"), std::string::npos) << ddl_log;
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders DROP COLUMN extra").ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto n = dst_->QueryValue(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND "
            "TABLE_NAME = 'orders' AND COLUMN_NAME = 'extra'");
        return n.ok() && *n == "0";
      },
      seconds(10)));

  // kill -9 of the target mid-stream, then a clean shutdown (SIGTERM) mid-stream.
  writer = std::thread([&] { written = Transactions(*src_, 101, 60, milliseconds(15)); });
  std::this_thread::sleep_for(milliseconds(200));
  ASSERT_TRUE(dst_->Crash().ok());
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_TRUE(dst_->Restart().ok());
  std::this_thread::sleep_for(milliseconds(200));
  ASSERT_TRUE(dst_->Restart().ok());
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(ConvergesExactly(160));
  EXPECT_TRUE(WaitForState("p", "running", seconds(30)));
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Issue 9 item 6, the snapshot's side: rows holding ENUM's error value are
// copied as the source holds them.
TEST_F(TargetFaultTest, SnapshotCopiesEnumErrorValue) {
  PipelineOptions o;
  o.extra = "    snapshot: initial\n";
  const std::string tables =
      "CREATE DATABASE shop; CREATE TABLE shop.en (id INT PRIMARY KEY, e ENUM('a','b'), v VARCHAR(10));"
      "CREATE TABLE shop.enk (e ENUM('a','b'), t INT);";
  ASSERT_NO_FATAL_FAILURE(Start(tables +
                                    "SET SESSION sql_mode = ''; INSERT INTO shop.en VALUES (1, 'zz', 'x'), (2, 'a', "
                                    "'y'); INSERT INTO shop.enk VALUES ('zz', 1), ('b', 2); SET SESSION sql_mode = "
                                    "DEFAULT",
                                o, tables));
  const char* kEn = "SELECT id, e + 0, e, v FROM shop.en ORDER BY id";
  const char* kEnk = "SELECT e + 0, e, t FROM shop.enk ORDER BY 1, 3";
  EXPECT_TRUE(Converges(*src_, kEn, *dst_, kEn, seconds(30)));
  EXPECT_TRUE(Converges(*src_, kEnk, *dst_, kEnk, seconds(30)));
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
}

// Issue 9 item 12, during a DDL: a DDL statement has no read timeout (it may
// rightly run for hours), but a probe of the server beside it notices the
// target hung: "retrying" naming the server, and after SIGCONT the DDL is
// applied once and the stream goes on.
TEST_F(TargetFaultTest, HungTargetDuringDdlRetriesAndRecovers) {
  target_params_ = "?read_timeout=2&write_timeout=2";
  PipelineOptions o;
  o.parallel = 2;
  ASSERT_NO_FATAL_FAILURE(Start(std::string(kSchema) + "CREATE TABLE shop.d (id INT PRIMARY KEY);", o));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ConvergesExactly(5));
  // The ALTER waits on the target for a metadata lock held by another session.
  ASSERT_TRUE(dst_->Execute("BEGIN; SELECT COUNT(*) FROM shop.d").ok());
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.d ADD COLUMN extra INT").ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto n = dst_->QueryValue(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE "
            "'Waiting for table metadata lock' AND INFO LIKE 'ALTER TABLE%'");
        return n.ok() && *n != "0";
      },
      seconds(10)));
  ContinueAtExit resume{dst_->pid()};
  ASSERT_EQ(::kill(dst_->pid(), SIGSTOP), 0);
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(20), "dst"));
  std::string error = ErrorText(PipelineStatus("p"));
  EXPECT_NE(error.find(fmt::format("127.0.0.1:{}", dst_->port())), std::string::npos) << error;
  ASSERT_EQ(::kill(dst_->pid(), SIGCONT), 0);
  resume.pid = -1;
  ASSERT_TRUE(dst_->Execute("COMMIT").ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto n = dst_->QueryValue(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND "
            "TABLE_NAME = 'd' AND COLUMN_NAME = 'extra'");
        return n.ok() && *n == "1";
      },
      seconds(30)));
  ASSERT_TRUE(Transactions(*src_, 6, 5).ok());
  EXPECT_TRUE(ConvergesExactly(10));
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
