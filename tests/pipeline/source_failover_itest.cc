// A source failover (design §7): the source primary dies and its replica
// (log_slave_updates: the same GTIDs, its own binlog files and offsets)
// becomes the primary. The targets' checkpoints name the old server's
// file:offset, which the new one does not have: the pipeline stops saying so,
// the status gives the GTID state the targets applied, and that GTID set as
// the position resumes on the new primary exactly where applying stopped.
// A GTID position is resolved to the server's own file:offset and recorded
// like any other start.

#include <fmt/format.h>

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class SourceFailoverTest : public FaultTest {
 protected:
  std::unique_ptr<MariadbServer> StartReplicaOf(MariadbServer& primary) {
    MariadbServerOptions o;
    o.server_id = 3;
    // Its own binlog names (as servers named after their hosts have), so
    // the primary's file:offset names nothing there.
    o.extra_args = {"--log-slave-updates", "--log-bin=replica-bin"};
    auto s = MariadbServer::Start(o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (!s.ok()) return nullptr;
    Status st = (*s)->Execute(fmt::format(
        "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'root', "
        "MASTER_USE_GTID = slave_pos; START SLAVE",
        primary.port()));
    EXPECT_TRUE(st.ok()) << st.message();
    return std::move(s).value();
  }
  ::testing::AssertionResult CaughtUp(MariadbServer& replica, MariadbServer& primary) {
    auto pos = primary.QueryValue("SELECT @@gtid_binlog_pos");
    if (!pos.ok()) return ::testing::AssertionFailure() << pos.status().message();
    auto waited = replica.QueryValue(fmt::format("SELECT MASTER_GTID_WAIT('{}', 30)", *pos));
    if (!waited.ok() || *waited != "0") return ::testing::AssertionFailure() << "replica did not catch up";
    return ::testing::AssertionSuccess();
  }
};

TEST_F(SourceFailoverTest, TheAppliedGtidResumesOnThePromotedReplica) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  auto replica = StartReplicaOf(*src_);
  ASSERT_TRUE(replica);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  http_port_ = FreePort();
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));
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

  WriteConfig(FaultConfig(dir_, http_port_, replica->Url(), dst_->Url(), options_));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "failed", seconds(20))) << sluice_->Log();
  EXPECT_NE(ErrorText(PipelineStatus("p")).find("applied_gtid"), std::string::npos) << PipelineStatus("p").dump();
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop", "{}").status, 200);
  HttpReply set = HttpPost(http_port_, "/api/pipelines/p/position", fmt::format(R"({{"position": "{}"}})", applied));
  ASSERT_EQ(set.status, 200) << set.body;
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start", "{}").status, 200);
  // ConvergesExactly compares with src_: the replica is the source now.
  src_ = std::move(replica);
  EXPECT_TRUE(ConvergesExactly(40));
  EXPECT_NE(sluice_->Log().find(fmt::format("GTID position {} is at", applied)), std::string::npos) << sluice_->Log();

  // The resolved position is recorded: a restart before anything more is
  // written resumes there, and later writes arrive once.
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 41, 5).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(ConvergesExactly(45));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
