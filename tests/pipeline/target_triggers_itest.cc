// Triggers on the target tables a pipeline fills (pipeline/target_triggers.h).
// A target made from a schema dump carries the source's triggers; they fire
// again for every row sluice writes. Before, a trigger that inserted an
// audit row left every such row twice on the target, silently.

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

constexpr const char* kAuditTrigger =
    "CREATE TRIGGER shop.orders_ai AFTER INSERT ON shop.orders FOR EACH ROW "
    "INSERT INTO shop.audit VALUES (NEW.id, 'trigger')";

class TargetTriggersTest : public FaultTest {};

// The source's trigger copied to the target writes shop.audit, which the
// pipeline fills from the source's binlog: the start fails naming the
// trigger and the fix; with it dropped, a start converges, nothing twice.
TEST_F(TargetTriggersTest, ACopiedTriggerWritingAFilledTableStopsTheStartNamingIt) {
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    ASSERT_TRUE(src_->Execute(kAuditTrigger).ok());
    ASSERT_TRUE(dst_->Execute(std::string(kSchema) + kAuditTrigger).ok());
  }));
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30)));
  std::string error = ErrorText(PipelineStatus("p"));
  EXPECT_NE(error.find("target dst: trigger `shop`.`orders_ai` (AFTER INSERT on `shop`.`orders`)"), std::string::npos)
      << error;
  EXPECT_NE(error.find("writes shop.audit, which this pipeline also fills"), std::string::npos) << error;
  EXPECT_NE(error.find("DROP TRIGGER `shop`.`orders_ai`"), std::string::npos) << error;
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (1000, 1, 'x')").ok());
  ASSERT_TRUE(dst_->Execute("DROP TRIGGER shop.orders_ai").ok());
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start").status, 200);
  EXPECT_TRUE(Converges(*src_, kAudit, *dst_, kAudit, seconds(30)));
  EXPECT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, seconds(30)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A BEFORE trigger that changes a column sluice writes is refused too; one
// that sets a column only the target has, or writes only a table of the
// target's own, is a warning, and the pipeline runs.
TEST_F(TargetTriggersTest, RowChangingTriggersAreRefusedAndOthersAreNamed) {
  options_.start = "latest";  // the target's tables are its own (one gets a column of its own below)
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    ASSERT_TRUE(dst_->Execute(std::string(kSchema) +
                              "CREATE TRIGGER shop.orders_bi BEFORE INSERT ON shop.orders FOR EACH ROW "
                              "SET NEW.note = UPPER(NEW.note)")
                    .ok());
  }));
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30)));
  std::string error = ErrorText(PipelineStatus("p"));
  EXPECT_NE(error.find("sets NEW.note, which sluice writes"), std::string::npos) << error;
  // A column only the target has, set by a trigger (a load time): its own business.
  ASSERT_TRUE(dst_->Execute("DROP TRIGGER shop.orders_bi; ALTER TABLE shop.orders ADD COLUMN loaded_at DATETIME; "
                            "CREATE TRIGGER shop.orders_bi BEFORE INSERT ON shop.orders FOR EACH ROW "
                            "SET NEW.loaded_at = NOW()").ok());
  ASSERT_TRUE(dst_->Execute("CREATE TABLE shop.local_log (id INT); "
                            "CREATE TRIGGER shop.orders_log AFTER INSERT ON shop.orders FOR EACH ROW "
                            "INSERT INTO shop.local_log VALUES (NEW.id)")
                  .ok());
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start").status, 200);
  ASSERT_TRUE(WaitForState("p", "running", seconds(30)));  // `latest` is where it stands then
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  EXPECT_TRUE(ConvergesExactly(5));
  auto unstamped = dst_->QueryValue("SELECT COUNT(*) FROM shop.orders WHERE loaded_at IS NULL");
  ASSERT_TRUE(unstamped.ok());
  EXPECT_EQ(*unstamped, "0");
  std::string events = PipelineStatus("p")["events"].dump();
  EXPECT_NE(events.find("trigger `shop`.`orders_log` (AFTER INSERT on `shop`.`orders`) fires on every row sluice "
                        "writes there"),
            std::string::npos)
      << events;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
