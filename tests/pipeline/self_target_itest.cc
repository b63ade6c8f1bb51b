// A target that is the source server itself: a copy into another database
// of the same server streams and then goes quiet (the pipeline's own
// transactions there are left out of its stream), and tables written back
// onto the tables the rules read are refused at start.

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

class SelfTargetTest : public FaultTest {
 protected:
  // The source with kSchema, and sluice running pipeline "p" from it into
  // itself with `tables`.
  void StartOnItself(const std::string& tables) {
    src_ = StartServer(1);
    ASSERT_TRUE(src_);
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    options_.tables = tables;
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), src_->Url(), options_));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  // Whether the source's binlog stays where it is for `still`, within 10 s.
  bool BinlogGoesQuiet(std::chrono::milliseconds still) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string end = BinlogEnd(*src_);
    auto since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::string now = BinlogEnd(*src_);
      if (now != end) {
        end = now;
        since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - since >= still) {
        return true;
      }
    }
    return false;
  }
};

// shop.* copied into copy.* on the same server. Before, every checkpoint
// sluice wrote there came back in the binlog as a transaction of its own,
// whose progress it recorded with another checkpoint: the binlog grew for
// ever, a transaction per batch timeout, with nothing changing.
TEST_F(SelfTargetTest, ACopyIntoAnotherDatabaseOfTheSameServerStreamsThenGoesQuiet) {
  ASSERT_NO_FATAL_FAILURE(StartOnItself("      - match: \"shop.*\"\n        to: \"copy.${table}\"\n"));
  ASSERT_TRUE(Transactions(*src_, 1, 30).ok());
  EXPECT_TRUE(Converges(*src_, kOrders, *src_, "SELECT id, amount, note FROM copy.orders ORDER BY id"));
  EXPECT_TRUE(Converges(*src_, kAudit, *src_, "SELECT txn, msg FROM copy.audit ORDER BY txn, msg"));
  EXPECT_TRUE(BinlogGoesQuiet(std::chrono::seconds(2))) << sluice_->Log();
  // Restarted, it goes on where it was: nothing twice in the keyless copy.
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 31, 5).ok());
  EXPECT_TRUE(Converges(*src_, kAudit, *src_, "SELECT txn, msg FROM copy.audit ORDER BY txn, msg"));
  EXPECT_TRUE(BinlogGoesQuiet(std::chrono::seconds(2))) << sluice_->Log();
}

// The source's own tables as the target's (a target URL copied from the
// source's): refused at start, naming them, before anything is written.
// Before, every change came back as a new one, for ever.
TEST_F(SelfTargetTest, TablesWrittenOntoTheTablesTheRulesReadAreRefused) {
  ASSERT_NO_FATAL_FAILURE(StartOnItself("      - match: \"shop.*\"\n"));
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(30)));
  std::string error = ErrorText(PipelineStatus("p"));
  for (const char* part : {"target dst is the source server itself", "`shop`.`orders`", "`shop`.`audit`", "to:"}) {
    EXPECT_NE(error.find(part), std::string::npos) << part << " not in: " << error;
  }
}

}  // namespace
}  // namespace sluice::testing
