// Two `sluice run` processes of the same configuration (a copy on a second
// host, a deploy overlapping the old instance, one forgotten in a terminal)
// against one MySQL target: before, each applied every transaction (a
// keyless table got every row twice). Now one applies and the other waits,
// naming it; the waiting one takes over once the first is gone, from where
// it got to. Every transaction lands once throughout.

#include <fmt/format.h>

#include <fstream>

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class OneProcessTest : public FaultTest {
 protected:
  void StartSecond() {
    second_.Start(dir_ / "second", [&](const std::filesystem::path& dir, uint16_t port) {
      return FaultConfig(dir, port, src_->Url(), dst_->Url(), options_);
    });
  }
  int64_t AuditRows() {
    auto n = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
    return n.ok() ? std::stoll(*n) : -1;
  }
  SecondSluice second_;
};

TEST_F(OneProcessTest, ASecondProcessWaitsAndTakesOverOnlyOnceTheFirstIsGone) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 50).ok());
  ASSERT_TRUE(ConvergesExactly(50));
  ASSERT_NO_FATAL_FAILURE(StartSecond());
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(second_.port); }, seconds(30))) << second_.process->Log();
  // Named once, not "target dst: pipeline p target dst: ...".
  const std::string waiting = HttpGet(second_.port, "/api/pipelines/p/status").body;
  EXPECT_EQ(waiting.find("target dst: pipeline p"), std::string::npos) << waiting;

  Status written;
  std::jthread writer([&] { written = Transactions(*src_, 51, 300, milliseconds(5)); });
  // The first dies (kill -9): the second takes over from where it got to.
  ASSERT_TRUE(WaitUntil([&] { return AuditRows() >= 120; }, seconds(60))) << sluice_->Log();
  sluice_->Kill();
  EXPECT_TRUE(LogsWithin(*second_.process, "taking over from a sluice process that is gone", seconds(30)));
  // Started again, the first now waits for the second.
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(http_port_); }, seconds(30))) << sluice_->Log();

  // The second dies too: the first takes over again.
  ASSERT_TRUE(WaitUntil([&] { return AuditRows() >= 250; }, seconds(60))) << second_.process->Log();
  second_.process->Kill();
  EXPECT_TRUE(LogsWithin(*sluice_, "taking over from a sluice process that is gone", seconds(30)));
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(ConvergesExactly(350));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The owner frozen with its sessions open on the target (a host that died
// without closing its connections, a paused virtual machine): the server
// would keep them for hours. The waiting process takes over once the
// owner's session has been idle for takeover_after, ending its sessions
// (and what they held open); the owner, thawed, finds another alive and
// waits.
TEST_F(OneProcessTest, AFrozenOwnerIsTakenOverAfterTakeoverAfterAndWaitsOnceThawed) {
  options_.extra = "    takeover_after: 2s\n";
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 50).ok());
  ASSERT_TRUE(ConvergesExactly(50));
  ASSERT_NO_FATAL_FAILURE(StartSecond());
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(second_.port); }, seconds(30))) << second_.process->Log();

  Status written;
  std::jthread writer([&] { written = Transactions(*src_, 51, 200, milliseconds(5)); });
  ASSERT_TRUE(WaitUntil([&] { return AuditRows() >= 80; }, seconds(60))) << sluice_->Log();
  sluice_->Freeze();
  EXPECT_TRUE(LogsWithin(*second_.process, "shows no sign of life", seconds(40)));
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(ConvergesExactly(250)) << second_.process->Log();

  // Thawed, the first finds its sessions ended and the second alive.
  sluice_->Thaw();
  ASSERT_TRUE(Transactions(*src_, 251, 20).ok());
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(http_port_); }, seconds(30))) << sluice_->Log();
  EXPECT_TRUE(ConvergesExactly(270));
  // An owner that lives is not taken for frozen however long it has nothing
  // to apply: it keeps its lock's session busy.
  std::this_thread::sleep_for(seconds(4));
  EXPECT_TRUE(WaitsForAnotherProcess(http_port_)) << sluice_->Log();
  EXPECT_EQ(sluice_->FullLog().find("shows no sign of life"), std::string::npos) << sluice_->Log();

  // The second stops: the first takes over from where it got to.
  EXPECT_EQ(second_.process->Stop(), 0) << second_.process->Log();
  ASSERT_TRUE(Transactions(*src_, 271, 20).ok());
  EXPECT_TRUE(ConvergesExactly(290)) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The exact moment that matters: the owner frozen with a transaction
// written and not yet committed (it holds the owner record in share mode).
// The takeover ends that session, so the transaction rolls back and the
// new owner applies it once; the former owner, thawed, commits nothing.
TEST_F(OneProcessTest, AFrozenOwnersTransactionHeldAtCommitIsRolledBackByTheTakeover) {
  options_.extra = "    takeover_after: 2s\n";
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 50).ok());
  ASSERT_TRUE(ConvergesExactly(50));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  const std::string go = (dir_ / "go").string();
  StartSluiceWithSyncPoints("mysql.partition.before_commit=wait:" + go + ",mysql.in_order.before_commit=wait:" + go);
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_NO_FATAL_FAILURE(StartSecond());
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(second_.port); }, seconds(30))) << second_.process->Log();

  ASSERT_TRUE(Transactions(*src_, 51, 1).ok());
  EXPECT_TRUE(LogsWithin(*sluice_, "before_commit: waiting", seconds(30)));
  sluice_->Freeze();
  std::ofstream(go).flush();  // it may go on once thawed
  EXPECT_TRUE(LogsWithin(*second_.process, "shows no sign of life", seconds(40)));
  EXPECT_TRUE(ConvergesExactly(51)) << second_.process->Log();

  sluice_->Thaw();
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(http_port_); }, seconds(30))) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 52, 20).ok());
  EXPECT_TRUE(ConvergesExactly(71)) << sluice_->Log();
  EXPECT_EQ(second_.process->Stop(), 0) << second_.process->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
