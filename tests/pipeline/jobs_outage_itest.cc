// Snapshots and checks when a server hangs or restarts (issue 9): their
// connections have bounded read/write timeouts, a lost or silent server is
// retried per chunk, a check fails naming the server, and a stop (Ctrl-C of
// `sluice snapshot`, SIGTERM of `sluice run`) is not held by a hung server.
//
//   hung source (SIGSTOP)   -> `sluice snapshot` retries the chunk (the read timed out, naming the server) and,
//                              after SIGCONT, completes with exactly the source's rows
//   SIGTERM while hung      -> `sluice snapshot` exits at once (130), resumable
//   hung source, `run`      -> the periodic check fails naming the source; SIGTERM of sluice exits at once
//   restarts                -> kill -9 / clean restart of the source or the target mid-copy: the copy resumes
//   restart while planning  -> the plan is retried, not the snapshot failed
//
// Stop points are exact: a row lock the test holds on the target holds the
// copy in a known chunk (the worker waits writing it), or a table lock on the
// source holds the planning; the servers are stopped or restarted while the
// copy waits there. Every stopped server gets SIGCONT in TearDown.

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <mysql.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kRows = 4000;
constexpr int kBlockedRow = 3000;  // the copy waits in the chunk holding this row

// WaitUntil with a short poll, for states that last a moment.
template <typename Pred>
bool WaitClosely(Pred done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// A session of its own on a server, for holding locks.
class Session {
 public:
  explicit Session(MariadbServer& server) : m_(mysql_init(nullptr)) {
    unsigned protocol = MYSQL_PROTOCOL_SOCKET;
    mysql_optionsv(m_, MYSQL_OPT_PROTOCOL, &protocol);
    if (!mysql_real_connect(m_, "localhost", "root", "", nullptr, 0, server.socket_path().c_str(), 0)) {
      error_ = mysql_error(m_);
    }
  }
  ~Session() { mysql_close(m_); }
  ::testing::AssertionResult Run(const std::string& sql) {
    if (!error_.empty()) return ::testing::AssertionFailure() << "connect: " << error_;
    if (mysql_query(m_, sql.c_str()) != 0) return ::testing::AssertionFailure() << mysql_error(m_) << " in " << sql;
    if (MYSQL_RES* r = mysql_store_result(m_)) mysql_free_result(r);
    return ::testing::AssertionSuccess();
  }

 private:
  MYSQL* m_;
  std::string error_;
};

class JobsOutageTest : public SyncTest {
 protected:
  void TearDown() override {
    for (pid_t pid : stopped_) ::kill(pid, SIGCONT);
    if (snapshot_pid_ > 0) {
      ::kill(snapshot_pid_, SIGKILL);
      (void)WaitForExit(snapshot_pid_, seconds(10));
    }
    SyncTest::TearDown();
  }

  void StartPair() {
    for (uint32_t id : {1u, 2u}) {
      MariadbServerOptions o;
      o.server_id = id;
      auto s = MariadbServer::Start(o);
      ASSERT_TRUE(s.ok()) << s.status().message();
      (id == 1 ? src_ : dst_) = std::move(s).value();
    }
    const char* table =
        "CREATE DATABASE shop; USE shop; CREATE TABLE shop.big (id INT PRIMARY KEY, v INT, note "
        "VARCHAR(40))";
    ASSERT_TRUE(src_->Execute(table).ok());
    ASSERT_TRUE(dst_->Execute(table).ok());
    ASSERT_TRUE(src_->Execute(fmt::format("INSERT INTO shop.big SELECT seq, seq % 97, CONCAT('row ', seq) FROM "
                                          "seq_1_to_{}",
                                          kRows))
                    .ok());
  }

  // A snapshot config: one worker, chunks of 100 rows. `source_params`: URL
  // parameters of the source ("" or "?read_timeout=3...").
  void Configure(const std::string& source_params, const std::string& extra = "") {
    http_port_ = FreePort();
    WriteConfig(fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{http}
sources:
  src: {{url: "{src}{params}", server_id: 4343, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: p
    source: src
    targets: [dst]
    start: latest
    tables: [{{match: "shop.big"}}]
    batch: {{size: 200, timeout_ms: 50}}
    parallel: 1
    chunk_rows: 100
{extra})",
                            fmt::arg("dir", dir_.string()), fmt::arg("http", http_port_), fmt::arg("src", src_->Url()),
                            fmt::arg("params", source_params), fmt::arg("dst", dst_->Url()), fmt::arg("extra", extra)));
  }

  void SpawnSnapshot() {
    log_ = (dir_ / "snapshot.log").string();
    auto pid = SpawnProcess({SLUICE_BINARY, "snapshot", "-c", config_, "--pipeline", "p", "--progress", "plain"}, log_);
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    snapshot_pid_ = *pid;
  }
  std::string SnapshotLog() const { return TailOfFile(log_, 0, 20000); }
  // Exit status of the snapshot within `timeout`; nullopt if still running.
  std::optional<int> WaitSnapshot(seconds timeout) {
    auto st = WaitForExit(snapshot_pid_, timeout);
    if (!st.ok() || !st->has_value()) return std::nullopt;
    snapshot_pid_ = -1;
    int ws = **st;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  }

  // Holds the row kBlockedRow on the target: the copy waits writing its chunk.
  void BlockCopy() {
    blocker_ = std::make_unique<Session>(*dst_);
    ASSERT_TRUE(blocker_->Run("BEGIN"));
    ASSERT_TRUE(blocker_->Run(fmt::format("INSERT INTO shop.big VALUES ({}, 0, 'blocker')", kBlockedRow)));
  }
  // Until the copy waits for the blocker's row lock.
  ::testing::AssertionResult CopyIsBlocked() {
    bool ok = WaitUntil(
        [&] {
          auto n = dst_->QueryValue(
              "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT INTO `shop`.`big`%' OR "
              "INFO LIKE 'LOAD DATA LOCAL INFILE % INTO TABLE `shop`.`big`%'");
          return n.ok() && *n != "0";
        },
        seconds(30));
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "the copy never waited for the blocked row\n" << SnapshotLog();
  }
  void Unblock() {
    if (blocker_) (void)blocker_->Run("ROLLBACK");
    blocker_.reset();
  }
  int DoneChunks() {
    auto n = dst_->QueryValue("SELECT COALESCE(SUM(done), 0) FROM `_sluice`.`snapshot_chunks` WHERE pipeline = 'p'");
    return n.ok() ? std::stoi(*n) : -1;
  }

  void Hang(MariadbServer& server) {
    ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0);
    stopped_.push_back(server.pid());
  }
  void Resume(MariadbServer& server) { ASSERT_EQ(::kill(server.pid(), SIGCONT), 0); }

  ::testing::AssertionResult SameRows() {
    const char* q = "SELECT id, v, note FROM shop.big ORDER BY id";
    auto a = src_->Query(q);
    auto b = dst_->Query(q);
    if (!a.ok() || !b.ok()) return ::testing::AssertionFailure() << "query failed";
    std::string want = RowsToText(*a), got = RowsToText(*b);
    if (want == got) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << RowsDiff(want, got);
  }
  std::string SourceAddress() const { return fmt::format("127.0.0.1:{}", src_->port()); }

  std::unique_ptr<MariadbServer> src_, dst_;
  std::unique_ptr<Session> blocker_;
  std::vector<pid_t> stopped_;
  pid_t snapshot_pid_ = -1;
  std::string log_;
};

// The source hangs between two chunks: the next read times out (3 s here),
// the chunk is retried naming the source, and once the source runs again the
// copy completes with exactly its rows. Without a read timeout the worker
// would wait on the hung read and never say so.
TEST_F(JobsOutageTest, SnapshotRetriesAHungSourceAndCompletes) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  Configure("?read_timeout=3&write_timeout=3");
  ASSERT_NO_FATAL_FAILURE(BlockCopy());
  ASSERT_NO_FATAL_FAILURE(SpawnSnapshot());
  ASSERT_TRUE(CopyIsBlocked());
  ASSERT_NO_FATAL_FAILURE(Hang(*src_));
  Unblock();  // the held chunk commits; the next one reads the hung source
  EXPECT_TRUE(WaitUntil(
      [&] {
        std::string log = SnapshotLog();
        return log.find("retrying") != std::string::npos && log.find(SourceAddress()) != std::string::npos;
      },
      seconds(40)))
      << "no retry naming the source " << SourceAddress() << ":\n"
      << SnapshotLog();
  Resume(*src_);
  auto code = WaitSnapshot(seconds(120));
  ASSERT_TRUE(code.has_value()) << "the snapshot did not finish after SIGCONT:\n" << SnapshotLog();
  EXPECT_EQ(*code, 0) << SnapshotLog();
  EXPECT_TRUE(SameRows());
}

// SIGTERM of `sluice snapshot` while its worker waits on a hung source (the
// default read timeout, minutes): it exits at once, resumable, instead of
// waiting for the server.
TEST_F(JobsOutageTest, SnapshotStopsAtOnceWhileTheSourceHangs) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  Configure("");
  ASSERT_NO_FATAL_FAILURE(BlockCopy());
  ASSERT_NO_FATAL_FAILURE(SpawnSnapshot());
  ASSERT_TRUE(CopyIsBlocked());
  int done = DoneChunks();
  ASSERT_NO_FATAL_FAILURE(Hang(*src_));
  Unblock();
  // The held chunk is committed: the worker goes on to read the hung source.
  ASSERT_TRUE(WaitUntil([&] { return DoneChunks() > done; }, seconds(60))) << SnapshotLog();
  std::this_thread::sleep_for(milliseconds(300));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(snapshot_pid_, SIGTERM), 0);
  // Bounds far below the 120 s read timeout it would otherwise wait out,
  // loose enough for a loaded 2-core machine.
  auto code = WaitSnapshot(seconds(40));
  auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(code.has_value()) << "sluice snapshot did not exit within 40 s of SIGTERM:\n" << SnapshotLog();
  EXPECT_EQ(*code, 130) << SnapshotLog();
  EXPECT_LT(took, seconds(30));

  // And it resumes once the source runs again.
  Resume(*src_);
  ASSERT_NO_FATAL_FAILURE(SpawnSnapshot());
  auto again = WaitSnapshot(seconds(120));
  ASSERT_TRUE(again.has_value()) << SnapshotLog();
  EXPECT_EQ(*again, 0) << SnapshotLog();
  EXPECT_TRUE(SameRows());
}

// A periodic check of `sluice run` meets a hung source: it fails naming the
// source (read timeout 3 s here) instead of staying "running"; SIGTERM of
// sluice during the hang exits at once.
TEST_F(JobsOutageTest, PeriodicCheckOnAHungSourceFailsNamingItAndStopIsPrompt) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(dst_->Execute("INSERT INTO shop.big SELECT * FROM (SELECT seq, seq % 97, CONCAT('row ', seq) FROM "
                            "shop.seq_1_to_4000) x")
                  .ok());
  Configure("?read_timeout=3&write_timeout=3", "    check: {every: 1s}\n");
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  // A check is under way (4000 rows in chunks of 100): hang the source now.
  nlohmann::json check;
  ASSERT_TRUE(WaitClosely(
      [&] {
        nlohmann::json s = PipelineStatus("p");
        if (!s.is_object() || !s["check"].is_object()) return false;
        check = s["check"];
        return check.value("state", "") == "running";
      },
      seconds(30)))
      << sluice_->Log();
  ASSERT_NO_FATAL_FAILURE(Hang(*src_));
  EXPECT_TRUE(WaitUntil(
      [&] {
        nlohmann::json s = PipelineStatus("p");
        if (!s.is_object() || !s["check"].is_object()) return false;
        check = s["check"];
        return check.value("state", "") == "failed";
      },
      seconds(40)))
      << check.dump() << "\n"
      << sluice_->Log();
  EXPECT_NE(check.value("error", "").find(SourceAddress()), std::string::npos) << check.dump();

  // The capture notices the hung source within its own silence bound (5 s);
  // the check must not add its read timeout (120 s by default) to that.
  auto t0 = std::chrono::steady_clock::now();
  sluice_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(30)) << sluice_->Log();
  Resume(*src_);
}

// `sluice check` against a source that hangs while the check reads it (a
// table lock the test holds keeps the check's read waiting, then the
// server stops): it fails (exit 2) naming the source once the read times
// out (3 s here), instead of hanging.
TEST_F(JobsOutageTest, CheckCommandOnAHungSourceFailsNamingIt) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  Configure("?read_timeout=3&write_timeout=3");
  Session locker(*src_);
  ASSERT_TRUE(locker.Run("LOCK TABLES shop.big WRITE"));
  log_ = (dir_ / "check.log").string();
  auto pid = SpawnProcess({SLUICE_BINARY, "check", "-c", config_, "--pipeline", "p"}, log_);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  snapshot_pid_ = *pid;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto n = src_->QueryValue(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table metadata lock%'");
        return n.ok() && *n != "0";
      },
      seconds(30)))
      << SnapshotLog();
  ASSERT_NO_FATAL_FAILURE(Hang(*src_));
  auto code = WaitSnapshot(seconds(60));
  ASSERT_TRUE(code.has_value()) << "sluice check still waits on the hung source:\n" << SnapshotLog();
  EXPECT_EQ(*code, 2) << SnapshotLog();
  EXPECT_NE(SnapshotLog().find(SourceAddress()), std::string::npos) << SnapshotLog();
  Resume(*src_);
}

// `sluice check` started while the source hangs (SIGSTOP: the handshake
// never comes) with a long connect_timeout: SIGTERM ends its wait for the
// handshake at once.
TEST_F(JobsOutageTest, CheckStopsAtOnceWhileConnectingToAHungSource) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  Configure("?connect_timeout=120");
  const int before = ConnectionsTo(src_->port());
  ASSERT_NO_FATAL_FAILURE(Hang(*src_));
  log_ = (dir_ / "check.log").string();
  auto pid = SpawnProcess({SLUICE_BINARY, "check", "-c", config_, "--pipeline", "p"}, log_);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  snapshot_pid_ = *pid;
  ASSERT_TRUE(WaitUntil([&] { return ConnectionsTo(src_->port()) > before; }, seconds(30))) << SnapshotLog();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(snapshot_pid_, SIGTERM), 0);
  auto code = WaitSnapshot(seconds(60));
  auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(code.has_value()) << "sluice check still waits for the hung source:\n" << SnapshotLog();
  EXPECT_NE(*code, 0) << SnapshotLog();
  EXPECT_LT(took, seconds(10)) << SnapshotLog();  // the connect timeout is 120 s
  Resume(*src_);
}

// The same with the default timeouts (minutes): the check waits on the hung
// source, and SIGTERM of sluice still exits at once.
TEST_F(JobsOutageTest, RunStopsAtOnceWhileItsCheckWaitsOnAHungSource) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(dst_->Execute("INSERT INTO shop.big SELECT * FROM (SELECT seq, seq % 97, CONCAT('row ', seq) FROM "
                            "shop.seq_1_to_4000) x")
                  .ok());
  Configure("", "    check: {every: 1s}\n");
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitClosely(
      [&] {
        nlohmann::json s = PipelineStatus("p");
        return s.is_object() && s["check"].is_object() && s["check"].value("state", "") == "running";
      },
      seconds(30)))
      << sluice_->Log();
  ASSERT_NO_FATAL_FAILURE(Hang(*src_));
  std::this_thread::sleep_for(milliseconds(500));
  // The capture notices the hung source within its own silence bound (5 s);
  // the check must not add its read timeout (120 s by default) to that.
  auto t0 = std::chrono::steady_clock::now();
  sluice_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(30)) << sluice_->Log();
  Resume(*src_);
}

// kill -9 or a clean restart of the source or the target while a chunk is
// being copied: the chunk is retried, the copy resumes and completes.
struct RestartCase {
  const char* name;
  bool target;
  bool crash;
};

class JobsRestartTest : public JobsOutageTest, public ::testing::WithParamInterface<RestartCase> {};

TEST_P(JobsRestartTest, SnapshotResumesAfterAServerRestart) {
  const RestartCase& c = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartPair());
  Configure("");
  ASSERT_NO_FATAL_FAILURE(BlockCopy());
  ASSERT_NO_FATAL_FAILURE(SpawnSnapshot());
  ASSERT_TRUE(CopyIsBlocked());
  MariadbServer& server = c.target ? *dst_ : *src_;
  if (c.crash) {
    ASSERT_TRUE(server.Crash().ok());
    std::this_thread::sleep_for(milliseconds(500));
  }
  if (!c.target) Unblock();  // the next chunk reads the source that is down
  ASSERT_TRUE(server.Restart().ok());
  Unblock();
  auto code = WaitSnapshot(seconds(120));
  ASSERT_TRUE(code.has_value()) << SnapshotLog();
  EXPECT_EQ(*code, 0) << SnapshotLog();
  EXPECT_TRUE(SameRows());
}

INSTANTIATE_TEST_SUITE_P(Servers, JobsRestartTest,
                         ::testing::Values(RestartCase{"SourceKilled", false, true},
                                           RestartCase{"SourceRestarted", false, false},
                                           RestartCase{"TargetKilled", true, true},
                                           RestartCase{"TargetRestarted", true, false}),
                         [](const auto& info) { return std::string(info.param.name); });

// The source is lost while the snapshot plans (its chunk reads wait for a
// table lock the test holds on the source): planning is retried after the
// restart instead of failing the snapshot.
TEST_F(JobsOutageTest, SnapshotPlanningSurvivesASourceCrash) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  Configure("");
  Session locker(*src_);
  ASSERT_TRUE(locker.Run("LOCK TABLES shop.big WRITE"));
  ASSERT_NO_FATAL_FAILURE(SpawnSnapshot());
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto n = src_->QueryValue(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table metadata lock%'");
        return n.ok() && *n != "0";
      },
      seconds(30)))
      << SnapshotLog();
  ASSERT_TRUE(src_->Crash().ok());
  std::this_thread::sleep_for(milliseconds(500));
  ASSERT_TRUE(src_->Restart().ok());
  auto code = WaitSnapshot(seconds(120));
  ASSERT_TRUE(code.has_value()) << SnapshotLog();
  EXPECT_EQ(*code, 0) << SnapshotLog();
  EXPECT_TRUE(SameRows());
}

// SnapshotTest.AlongsideARunningStreamConverges stalled under load for 50 s
// at a time (innodb_lock_wait_timeout), both the copy and the stream: a
// chunk locks the pipeline's checkpoint rows one after another and waited
// for the row of a stream partition that had written its checkpoint, while
// holding the rows before it; that partition waits in the loader (partitions
// commit together) for another partition, which waits for a row the chunk
// holds. InnoDB sees no cycle. Forced here with two sessions in the roles of
// the two partitions: "partition 1" holds its checkpoint row and commits
// only after "partition 0" wrote its own. The chunk must give way.
TEST_F(JobsOutageTest, ChunkLockGivesWayToAStreamWaitingForItsOtherPartitions) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  Configure("");
  // A first snapshot makes the `_sluice` tables and the checkpoint; then the
  // rows of two stream partitions, as a streaming loader leaves them.
  ASSERT_NO_FATAL_FAILURE(SpawnSnapshot());
  auto first = WaitSnapshot(seconds(120));
  ASSERT_TRUE(first.has_value() && *first == 0) << SnapshotLog();
  for (int part : {0, 1}) {
    ASSERT_TRUE(dst_->Execute(fmt::format("INSERT INTO `_sluice`.`checkpoints` (pipeline, target, part, position, "
                                          "resume_position, gtid_state) SELECT pipeline, target, {}, position, "
                                          "resume_position, gtid_state FROM `_sluice`.`checkpoints` WHERE pipeline = "
                                          "'p' AND target = 'dst' AND part = -1",
                                          part))
                    .ok());
  }
  ASSERT_TRUE(src_->Execute("UPDATE shop.big SET note = 'changed' WHERE id % 7 = 0").ok());

  // Partition 1 has written its checkpoint row and waits for partition 0.
  Session partition1(*dst_);
  ASSERT_TRUE(partition1.Run("BEGIN"));
  ASSERT_TRUE(
      partition1.Run("SELECT part FROM `_sluice`.`checkpoints` WHERE pipeline = 'p' AND target = 'dst' AND "
                     "part = 1 FOR UPDATE"));
  ASSERT_NO_FATAL_FAILURE(SpawnSnapshot());
  // The chunk waits for partition 1's row, holding the rows before it.
  ASSERT_TRUE(WaitClosely(
      [&] {
        auto n = dst_->QueryValue(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT part FROM "
            "`_sluice`.`checkpoints`%LOCK IN SHARE MODE'");
        return n.ok() && *n != "0";
      },
      seconds(30)))
      << SnapshotLog();
  // Partition 0 writes its checkpoint row: it must get it, the chunk giving way.
  Session partition0(*dst_);
  ASSERT_TRUE(partition0.Run("SET SESSION innodb_lock_wait_timeout = 15"));
  ASSERT_TRUE(partition0.Run("BEGIN"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(
      partition0.Run("UPDATE `_sluice`.`checkpoints` SET gtid_state = 'p0' WHERE pipeline = 'p' AND target = "
                     "'dst' AND part = 0"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(10));
  // The partitions commit together; the copy goes on and completes.
  ASSERT_TRUE(partition0.Run("COMMIT"));
  ASSERT_TRUE(partition1.Run("COMMIT"));
  auto code = WaitSnapshot(seconds(120));
  ASSERT_TRUE(code.has_value()) << SnapshotLog();
  EXPECT_EQ(*code, 0) << SnapshotLog();
  EXPECT_TRUE(SameRows());
}

}  // namespace
}  // namespace sluice::testing
