// A source failover (design §7): the source primary dies and its replica
// (log_slave_updates: the same GTIDs, its own binlog offsets) becomes the
// primary. The targets' checkpoints name the old server's file:offset: each
// is checked against the new server's binlog (the GTID state there must be
// the one the target recorded), and one that names another place, or
// nothing, is moved to where the target's applied GTID state is in the new
// server's binlog; the pipeline goes on exactly once. A stream reconnecting
// to another server (an address moved) stops rather than read another
// server's bytes at its offset. A GTID position is resolved to the server's
// own file:offset and recorded like any other start.

#include <fmt/format.h>

#include "harness/tcp_forwarder.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class SourceFailoverTest : public FaultTest {
 protected:
  // The primary (src_) with kSchema, its replica and the target.
  void StartServers(bool replica_own_names) {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    replica_ = StartReplicaOf(*src_, replica_own_names);
    ASSERT_TRUE(replica_);
    ASSERT_TRUE(src_->Execute(kSchema).ok());
  }
  // sluice reading `source_url` (the primary, or an address in front of
  // it): 20 transactions applied, and the replica has them too.
  void SyncTwenty(const std::string& source_url) {
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, source_url, dst_->Url(), options_));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
    ASSERT_TRUE(ConvergesExactly(20));
    ASSERT_TRUE(CaughtUp(*replica_, *src_));
  }
  std::unique_ptr<MariadbServer> replica_;
  // The primary crashes; the replica stops replicating and takes the writes
  // (transactions first .. first+n-1).
  void Promote(std::unique_ptr<MariadbServer>& replica, int first, int n) {
    ASSERT_TRUE(src_->Crash().ok());
    ASSERT_TRUE(replica->Execute("STOP SLAVE; RESET SLAVE ALL").ok());
    ASSERT_TRUE(Transactions(*replica, first, n).ok());
  }
};

TEST_F(SourceFailoverTest, TheAppliedGtidResumesOnThePromotedReplica) {
  ASSERT_NO_FATAL_FAILURE(StartServers(/*replica_own_names=*/true));
  auto& replica = replica_;
  ASSERT_NO_FATAL_FAILURE(SyncTwenty(src_->Url()));
  // Idle and applied: the target's GTID state is the primary's.
  auto primary_gtid = src_->QueryValue("SELECT @@gtid_binlog_pos");
  ASSERT_TRUE(primary_gtid.ok());
  std::string applied;
  ASSERT_TRUE(WaitUntil(
      [&] {
        nlohmann::json s = PipelineStatus("p");
        applied = s["targets"][0].value("applied_gtid", "");
        return applied == *primary_gtid;
      },
      seconds(10)))
      << applied << " vs " << *primary_gtid;
  ASSERT_TRUE(CaughtUp(*replica, *src_));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  // Failover: the primary is gone; the replica takes the writes.
  ASSERT_TRUE(src_->Crash().ok());
  ASSERT_TRUE(replica->Execute("STOP SLAVE; RESET SLAVE ALL; FLUSH BINARY LOGS").ok());
  ASSERT_TRUE(Transactions(*replica, 21, 20).ok());

  // Pointed at the new primary, the pipeline finds the target's checkpoint
  // is not in this server's binlog, and goes on from its applied GTID there.
  WriteConfig(FaultConfig(dir_, http_port_, replica->Url(), dst_->Url(), options_));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  // ConvergesExactly compares with src_: the replica is the source now.
  src_ = std::move(replica);
  EXPECT_TRUE(ConvergesExactly(40));
  EXPECT_NE(sluice_->FullLog().find(fmt::format("not GTID state {}; a failover?): the target resumes where that GTID "
                                                "state is in this server's binlog, replica-bin.",
                                                applied)),
            std::string::npos)
      << sluice_->FullLog();

  // The GTID set by hand as the position (the way before, and for a
  // target that recorded no GTID state) resumes there too.
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop", "{}").status, 200);
  ASSERT_TRUE(Transactions(*src_, 41, 3).ok());
  HttpReply set = HttpPost(http_port_, "/api/pipelines/p/position", fmt::format(R"({{"position": "{}"}})",
                                                                               PipelineStatus("p")["targets"][0]
                                                                                   .value("applied_gtid", "")));
  ASSERT_EQ(set.status, 200) << set.body;
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start", "{}").status, 200);
  EXPECT_TRUE(ConvergesExactly(43));
  EXPECT_NE(sluice_->Log().find("GTID position 0-1-"), std::string::npos) << sluice_->Log();

  // The resolved position is recorded: a restart before anything more is
  // written resumes there, and later writes arrive once.
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 44, 5).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(ConvergesExactly(48));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The replica's binlog files have the primary's names (binlog.000001, ...)
// but other contents: the target's file:offset exists there and names
// another place. At start each target's checkpoint is checked against the
// server's binlog (BINLOG_GTID_POS there must be the GTID state the target
// recorded); one that does not match is moved to where its GTID state is on
// this server, and the pipeline goes on exactly once, without a hand.
TEST_F(SourceFailoverTest, ACheckpointNamingAnotherPlaceOnTheNewServerMovesToItsGtid) {
  ASSERT_NO_FATAL_FAILURE(StartServers(/*replica_own_names=*/false));
  auto& replica = replica_;
  ASSERT_NO_FATAL_FAILURE(SyncTwenty(src_->Url()));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  auto stopped_at = dst_->QueryValue(
      "SELECT resume_position FROM _sluice.checkpoints WHERE pipeline = 'p' AND part = -1");
  ASSERT_TRUE(stopped_at.ok());
  ASSERT_NO_FATAL_FAILURE(Promote(replica, 21, 20));
  // The file is there on the new primary too, with other contents.
  auto there = replica->QueryValue(fmt::format("SELECT BINLOG_GTID_POS('{}', {})",
                                               stopped_at->substr(0, stopped_at->find(':')),
                                               stopped_at->substr(stopped_at->find(':') + 1)));
  auto files = replica->QueryValue("SELECT COUNT(*) FROM information_schema.GLOBAL_VARIABLES "
                                   "WHERE VARIABLE_NAME = 'LOG_BIN_BASENAME' AND VARIABLE_VALUE LIKE '%/binlog'");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(*files, "1");

  WriteConfig(FaultConfig(dir_, http_port_, replica->Url(), dst_->Url(), options_));
  // Killed once the move is decided, before the target's checkpoint is
  // replaced: the next start finishes it (the store holds it).
  ::setenv("SLUICE_SYNC_POINTS", "pipeline.failover.decided=crash", 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(30))) << "never reached the sync point";
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("is another server than the one target dst stopped on (at " + *stopped_at), std::string::npos)
      << log;
  auto left = dst_->QueryValue(
      "SELECT resume_position FROM _sluice.checkpoints WHERE pipeline = 'p' AND part = -1");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, *stopped_at);
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  src_ = std::move(replica);
  EXPECT_TRUE(ConvergesExactly(40)) << (there.ok() ? *there : there.status().message());
  EXPECT_NE(sluice_->FullLog().find("target dst: finishing its move to "), std::string::npos) << sluice_->FullLog();
  nlohmann::json status = PipelineStatus("p");
  EXPECT_EQ(status.value("state", ""), "running") << status.dump();
  // Recorded in the new server's coordinates: a restart goes on from there.
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 41, 5).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(ConvergesExactly(45));
  EXPECT_EQ(sluice_->FullLog().find("is another server"), std::string::npos) << sluice_->FullLog();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The source's address moves to the replica while sluice runs (a virtual IP
// or DNS name after a failover). The stream's reconnect lands on the other
// server: its binlog at the stream's position is checked first, so the
// capture stops instead of reading another server's bytes at that offset,
// and `sluice run` starts the pipeline again, which follows the GTID.
TEST_F(SourceFailoverTest, AnAddressMovedToTheReplicaWhileRunningIsNotReadAtTheOldOffset) {
  ASSERT_NO_FATAL_FAILURE(StartServers(/*replica_own_names=*/false));
  auto& replica = replica_;
  auto vip = TcpForwarder::Start({src_->port()});
  ASSERT_TRUE(vip.ok()) << vip.status().message();
  ASSERT_NO_FATAL_FAILURE(SyncTwenty(fmt::format("mysql://root@127.0.0.1:{}", (*vip)->ports()[0])));
  (*vip)->Retarget(0, replica->port());
  ASSERT_NO_FATAL_FAILURE(Promote(replica, 21, 20));
  src_ = std::move(replica);
  EXPECT_TRUE(ConvergesExactly(40));
  EXPECT_TRUE(WaitForState("p", "running", seconds(20)));
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("the server is not the one the position was taken on (a failover to a replica, or a restored "
                     "server); restarting the pipeline to follow it by GTID"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("is another server than the one target dst stopped on"), std::string::npos) << log;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}


// A FILE:OFFSET set by hand on the same server is taken as it is (here: past
// three transactions the user chose to skip), not checked against the GTID
// state of the position the pipeline had before.
TEST_F(SourceFailoverTest, APositionSetByHandIsNotCheckedAgainstTheFormerOne) {
  ASSERT_NO_FATAL_FAILURE(StartServers(/*replica_own_names=*/true));
  ASSERT_NO_FATAL_FAILURE(SyncTwenty(src_->Url()));
  // Running from a checkpoint (and its GTID state) first.
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "running", seconds(20))) << sluice_->Log();
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop", "{}").status, 200);
  ASSERT_TRUE(Transactions(*src_, 21, 3).ok());
  auto status = src_->Query("SHOW MASTER STATUS");
  ASSERT_TRUE(status.ok() && !status->empty());
  std::string skip_to = fmt::format("{}:{}", *(*status)[0][0], *(*status)[0][1]);
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/position", fmt::format(R"({{"position": "{}"}})", skip_to)).status,
            200);
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start", "{}").status, 200);
  ASSERT_TRUE(Transactions(*src_, 24, 2).ok());
  auto count = [&](const std::string& sql) {
    auto v = dst_->QueryValue(sql);
    return v.ok() ? *v : v.status().message();
  };
  EXPECT_TRUE(WaitUntil([&] { return count("SELECT COUNT(*) FROM shop.audit WHERE txn = 25") == "1"; }, seconds(30)))
      << sluice_->Log();
  EXPECT_EQ(count("SELECT COUNT(*) FROM shop.audit"), "22");  // 1-20, 24, 25
  EXPECT_TRUE(WaitForState("p", "running", seconds(5))) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The lookup of a target's GTID state on the new server reads its binlog:
// when that server hangs meanwhile, stopping sluice cuts the lookup's
// connections at once (it does not wait out the connect and read timeouts).
TEST_F(SourceFailoverTest, StopIsPromptWhileTheFailoverLookupWaitsOnAHungServer) {
  ASSERT_NO_FATAL_FAILURE(StartServers(/*replica_own_names=*/true));
  ASSERT_NO_FATAL_FAILURE(SyncTwenty(src_->Url()));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_NO_FATAL_FAILURE(Promote(replica_, 21, 5));
  WriteConfig(FaultConfig(dir_, http_port_, replica_->Url(), dst_->Url(), options_));
  const std::string release = (dir_ / "release").string();
  ::setenv("SLUICE_SYNC_POINTS", ("pipeline.failover.lookup=wait:" + release).c_str(), 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(WaitUntil([&] { return sluice_->FullLog().find("pipeline.failover.lookup: waiting") != std::string::npos; },
                        seconds(30)))
      << sluice_->Log();
  ASSERT_EQ(::kill(replica_->pid(), SIGSTOP), 0);
  std::ofstream(release) << "go";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // into the lookup's connect
  auto t0 = std::chrono::steady_clock::now();
  sluice_->Stop();
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(::kill(replica_->pid(), SIGCONT), 0);
  EXPECT_LT(took, seconds(5)) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
