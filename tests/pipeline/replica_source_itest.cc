// A replica as the source (to spare the primary) that does not log what it
// replicates (log_slave_updates is OFF, MariaDB's default): its binlog holds
// none of the changes sluice is there for. Before, the pipeline ran, green,
// and nothing ever reached the targets.

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

class ReplicaSourceTest : public FaultTest {
 protected:
  // The primary (src_) with kSchema, its replica without log_slave_updates,
  // and sluice reading the replica into dst_.
  void StartOnTheReplica(bool read_only) {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    ASSERT_TRUE(dst_->Execute(kSchema).ok());  // the replica's binlog lacks the CREATE TABLE too
    replica_ = StartReplicaOf(*src_, /*own_names=*/true, /*logs_what_it_applies=*/false);
    ASSERT_TRUE(replica_);
    ASSERT_TRUE(CaughtUp(*replica_, *src_));
    if (read_only) ASSERT_TRUE(replica_->Execute("SET GLOBAL read_only = 1").ok());
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, replica_->Url(), dst_->Url(), options_));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  std::unique_ptr<MariadbServer> replica_;
};

TEST_F(ReplicaSourceTest, AReadOnlyReplicaThatDoesNotLogWhatItAppliesIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartOnTheReplica(/*read_only=*/true));
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(60)));
  const std::string error = ErrorText(PipelineStatus("p"));
  for (const char* part : {"is a replica", "log_slave_updates is OFF", "read-only", "read from the primary"}) {
    EXPECT_NE(error.find(part), std::string::npos) << part << " not in: " << error;
  }
}

// Writable, it may take writes of its own: those are synced, and the log
// says what it does not see.
TEST_F(ReplicaSourceTest, AWritableOneIsReadWithAWarning) {
  ASSERT_NO_FATAL_FAILURE(StartOnTheReplica(/*read_only=*/false));
  EXPECT_TRUE(LogShows("log_slave_updates is OFF"));
  ASSERT_TRUE(replica_->Execute("INSERT INTO shop.orders VALUES (1, 1, 'written on the replica')").ok());
  EXPECT_TRUE(Converges(*replica_, kOrders, *dst_, kOrders));
}

}  // namespace
}  // namespace sluice::testing
