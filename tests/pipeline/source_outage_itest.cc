// The source side of `sluice run` under outages (issue 9): a source restarted
// (SIGTERM or kill -9) between a DDL and the rows after it, a hung source
// (SIGSTOP), a second replica with the same server_id, a user without
// REPLICATION SLAVE, and the delay while the source is away.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Counts the lines of `log` that contain `needle`.
size_t CountLines(const std::string& log, const std::string& needle) {
  size_t n = 0;
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + needle.size())) ++n;
  return n;
}

class SourceOutageTest : public FaultTest {
 protected:
  void TearDown() override {
    // A test that stopped the source must never leave it stopped: the
    // harness could not shut it down, and later tests would hang on it.
    if (stopped_pid_ > 0) ::kill(stopped_pid_, SIGCONT);
    FaultTest::TearDown();
  }

  // Source (unless one was started) and target with mr2.t; sluice selects
  // mr2.* only, from the source's binlog end, as root or as `source_url` says.
  void StartMr2(const std::string& source_url = "") {
    if (!src_) src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    const char* schema = "CREATE DATABASE mr2; CREATE TABLE mr2.t (a INT PRIMARY KEY); CREATE DATABASE other";
    ASSERT_TRUE(src_->Execute(schema).ok());
    ASSERT_TRUE(dst_->Execute(schema).ok());
    PipelineOptions o;
    o.start = BinlogEnd(*src_);
    ASSERT_FALSE(o.start.empty());
    o.tables = "      - match: \"mr2.*\"\n";
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, source_url.empty() ? src_->Url() : source_url, dst_->Url(), o));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }

  // The issue's reproduction: a keyless table outside the selection gets a
  // key (DDL, so the schema cache is dropped), then a selected row.
  void DdlElsewhereThenRow(const std::string& table, int row) {
    ASSERT_TRUE(src_->Execute(fmt::format("CREATE TABLE other.{0} (a INT NOT NULL, b INT); "
                                          "INSERT INTO other.{0} VALUES (1, 1), (2, 2); "
                                          "ALTER TABLE other.{0} ADD PRIMARY KEY (a); "
                                          "UPDATE other.{0} SET b = b + 1; "
                                          "INSERT INTO mr2.t VALUES ({1})",
                                          table, row))
                    .ok());
  }

  ::testing::AssertionResult Mr2Converges() {
    return Converges(*src_, "SELECT a FROM mr2.t ORDER BY a", *dst_, "SELECT a FROM mr2.t ORDER BY a", seconds(30));
  }

  // The source restarted (cleanly or by kill -9) between two rounds of the
  // reproduction: the second round's row must arrive, without a reconnect storm.
  void RestartBetweenDdlRounds(bool crash) {
    ASSERT_NO_FATAL_FAILURE(StartMr2());
    ASSERT_NO_FATAL_FAILURE(DdlElsewhereThenRow("zz2", 6));
    ASSERT_TRUE(Mr2Converges());

    if (crash) {
      ASSERT_TRUE(src_->Crash().ok());
    }
    ASSERT_TRUE(src_->Restart().ok());
    ASSERT_NO_FATAL_FAILURE(DdlElsewhereThenRow("zz3", 7));
    EXPECT_TRUE(Mr2Converges());
    // And again: the connection that replaced the dead one keeps working.
    ASSERT_TRUE(src_->Restart().ok());
    ASSERT_NO_FATAL_FAILURE(DdlElsewhereThenRow("zz4", 8));
    EXPECT_TRUE(Mr2Converges());
    EXPECT_TRUE(WaitForState("p", "running", seconds(10)));

    // No reconnect storm: two restarts take a handful of reconnects.
    std::string log = sluice_->FullLog();
    EXPECT_LT(CountLines(log, "binlog connection lost"), 12u) << log.substr(0, 4000);
    EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
    EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  }

  pid_t stopped_pid_ = -1;
};

TEST_F(SourceOutageTest, DdlAfterCleanRestartDoesNotWedgeCapture) { RestartBetweenDdlRounds(false); }

TEST_F(SourceOutageTest, DdlAfterKillNineDoesNotWedgeCapture) { RestartBetweenDdlRounds(true); }

// A hung source (SIGSTOP): the stream hears neither events nor heartbeats,
// which must read as a dead connection: `retrying`, an error naming the
// server, a growing delay; after SIGCONT it recovers by itself.
TEST_F(SourceOutageTest, HungSourceRetriesAndRecovers) {
  ASSERT_NO_FATAL_FAILURE(StartMr2());
  ASSERT_TRUE(src_->Execute("INSERT INTO mr2.t VALUES (1)").ok());
  ASSERT_TRUE(Mr2Converges());
  ASSERT_TRUE(WaitForState("p", "running", seconds(10)));

  stopped_pid_ = src_->pid();
  ASSERT_GT(stopped_pid_, 0);
  ASSERT_EQ(::kill(stopped_pid_, SIGSTOP), 0);
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(20)));
  std::string where = fmt::format("127.0.0.1:{}", src_->port());
  Json st = PipelineStatus("p");
  EXPECT_NE(ErrorText(st).find(where), std::string::npos) << st.dump();
  // The delay grows while the source is unreachable.
  int64_t first = Int(st, "delay_ms");
  EXPECT_GT(first, 1000) << st.dump();
  EXPECT_TRUE(WaitUntil([&] { return Int(PipelineStatus("p"), "delay_ms") > first + 1000; }, seconds(10)))
      << PipelineStatus("p").dump();

  // The stream's own words: silence past the heartbeats asked for.
  EXPECT_NE(sluice_->FullLog().find("no event and no heartbeat from root@" + where), std::string::npos)
      << sluice_->Log();

  ASSERT_EQ(::kill(stopped_pid_, SIGCONT), 0);
  stopped_pid_ = -1;
  ASSERT_TRUE(src_->Execute("INSERT INTO mr2.t VALUES (2)").ok());
  EXPECT_TRUE(Mr2Converges());
  EXPECT_TRUE(WaitForState("p", "running", seconds(30)));
  EXPECT_TRUE(WaitUntil([&] { return Int(PipelineStatus("p"), "delay_ms") < 1000; }, seconds(10)))
      << PipelineStatus("p").dump();
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// While the source is down the pipeline's delay grows from the last moment
// the capture knew it was caught up; once the source is back it returns to ~0.
TEST_F(SourceOutageTest, DelayGrowsWhileSourceIsDown) {
  ASSERT_NO_FATAL_FAILURE(StartMr2());
  ASSERT_TRUE(src_->Execute("INSERT INTO mr2.t VALUES (1)").ok());
  ASSERT_TRUE(Mr2Converges());
  ASSERT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_LT(Int(PipelineStatus("p"), "delay_ms"), 1000);

  ASSERT_TRUE(src_->Crash().ok());
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(10)));
  EXPECT_TRUE(WaitUntil([&] { return Int(PipelineStatus("p"), "delay_ms") > 2000; }, seconds(10)))
      << PipelineStatus("p").dump();
  int64_t earlier = Int(PipelineStatus("p"), "delay_ms");
  EXPECT_TRUE(WaitUntil([&] { return Int(PipelineStatus("p"), "delay_ms") > earlier + 1000; }, seconds(10)))
      << PipelineStatus("p").dump();
  EXPECT_EQ(PipelineStatus("p").value("state", ""), "retrying");
  // The gauge an alert watches says the same.
  HttpReply m = HttpGet(http_port_, "/metrics");
  EXPECT_GT(MetricValue(m.body, "sluice_apply_delay_seconds", {"pipeline=\"p\"", "target=\"dst\""}), 2.0) << m.body;

  ASSERT_TRUE(src_->Restart().ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO mr2.t VALUES (2)").ok());
  EXPECT_TRUE(Mr2Converges());
  EXPECT_TRUE(WaitForState("p", "running", seconds(30)));
  EXPECT_TRUE(WaitUntil([&] { return Int(PipelineStatus("p"), "delay_ms") < 1000; }, seconds(10)))
      << PipelineStatus("p").dump();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A second replica registering with the pipeline's server_id makes the
// server cut the pipeline's stream (error 4052): the pipeline retries and
// says why, instead of failing for good; once the other replica is gone it
// streams again.
TEST_F(SourceOutageTest, ServerIdCollisionRetriesAndExplains) {
  ASSERT_NO_FATAL_FAILURE(StartMr2());
  ASSERT_TRUE(src_->Execute("INSERT INTO mr2.t VALUES (1)").ok());
  ASSERT_TRUE(Mr2Converges());

  // The same server_id as the pipeline (FaultConfig: 4242, pipeline index 0).
  std::string tail_log = (dir_ / "tail.out").string();
  auto tail = SpawnProcess({SLUICE_BINARY, "tail", "--source", src_->Url(), "--server-id", "4242", "--start", "latest"},
                           tail_log);
  ASSERT_TRUE(tail.ok()) << tail.status().message();
  Json last;
  bool explained = WaitUntil(
      [&] {
        last = PipelineStatus("p");
        return ErrorText(last).find("server_id 4242") != std::string::npos;
      },
      seconds(30));
  EXPECT_TRUE(explained) << last.dump() << "\n" << sluice_->Log();
  EXPECT_NE(ErrorText(last).find("another replica"), std::string::npos) << last.dump();
  EXPECT_NE(ErrorText(last).find(fmt::format("127.0.0.1:{}", src_->port())), std::string::npos) << last.dump();
  EXPECT_NE(last.value("state", ""), "failed") << last.dump();
  (void)StopProcess(*tail, SIGKILL, seconds(5));

  ASSERT_TRUE(src_->Execute("INSERT INTO mr2.t VALUES (2)").ok());
  EXPECT_TRUE(Mr2Converges());
  EXPECT_TRUE(WaitForState("p", "running", seconds(30)));
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A source user without REPLICATION SLAVE: the error names the missing
// privilege and the GRANT to run, not an "access denied" that reads like a
// wrong password.
TEST_F(SourceOutageTest, MissingReplicationSlavePrivilegeIsNamed) {
  src_ = StartServer(1);
  ASSERT_TRUE(src_);
  ASSERT_TRUE(src_->CreateUser("noslave", "pw", "SELECT, BINLOG MONITOR, REPLICATION CLIENT ON *.*").ok());
  ASSERT_NO_FATAL_FAILURE(StartMr2(src_->Url("noslave", "pw")));
  ASSERT_TRUE(WaitForState("p", "failed", seconds(20)));
  std::string err = ErrorText(PipelineStatus("p"));
  EXPECT_NE(err.find("REPLICATION SLAVE"), std::string::npos) << err;
  EXPECT_NE(err.find("GRANT REPLICATION SLAVE ON *.* TO 'noslave'"), std::string::npos) << err;
  EXPECT_NE(err.find(fmt::format("127.0.0.1:{}", src_->port())), std::string::npos) << err;
  EXPECT_EQ(err.find("password"), std::string::npos) << err;

  // `sluice tail` says the same.
  std::string tail_log = (dir_ / "tail.out").string();
  auto tail =
      SpawnProcess({SLUICE_BINARY, "tail", "--source", src_->Url("noslave", "pw"), "--start", "latest"}, tail_log);
  ASSERT_TRUE(tail.ok());
  auto code = WaitForExit(*tail, seconds(20));
  ASSERT_TRUE(code.ok() && code->has_value());
  EXPECT_NE(**code, 0);
  std::string out = TailOfFile(tail_log, 0, 4000);
  EXPECT_NE(out.find("GRANT REPLICATION SLAVE ON *.* TO 'noslave'"), std::string::npos) << out;
}

}  // namespace
}  // namespace sluice::testing
