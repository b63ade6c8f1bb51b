// Foreign keys with actions (design §7: nothing lost silently): the source
// server applies ON DELETE / ON UPDATE CASCADE and SET NULL to the child
// rows without writing them to its binlog. Before, the targets kept the
// child rows (a warning at start said so). Now MySQL targets redo the
// actions: cascades down chains and trees, SET NULL, ON UPDATE CASCADE,
// in order with the changes around them, once each across a kill -9; a
// statement run with foreign_key_checks=0 (which cascades nothing on the
// source) changes nothing on the target either. Keys the rules keep a
// target from following are named at start.

#include <fmt/format.h>

#include "pipeline/fault_fixture.h"
#include "pipeline/foreign_keys_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class ForeignKeysTest : public FaultTest {
 protected:
  ::testing::AssertionResult AllConverge() {
    for (const std::string& t : kForeignKeyTables) {
      const std::string q = fmt::format("SELECT * FROM shop.{} ORDER BY 1, 2", t);
      auto same = Converges(*src_, q, *dst_, q, seconds(60));
      if (!same) return same;
    }
    return Converges(*src_, kAudit, *dst_, kAudit, seconds(30));
  }
};

TEST_F(ForeignKeysTest, TheTargetRedoesWhatTheSourcesForeignKeysDid) {
  options_.parallel = 4;
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    ASSERT_TRUE(src_->Execute(kShopKeys).ok());
    ASSERT_TRUE(FillShopWithKeys(*src_).ok());
  }));
  ASSERT_TRUE(AllConverge());
  ASSERT_TRUE(ChangeShopParents(*src_).ok());
  EXPECT_TRUE(AllConverge());
  // What the source holds, spelled out (so the convergence is not of two wrong states).
  EXPECT_EQ(*dst_->QueryValue("SELECT COUNT(*) FROM shop.carts WHERE customer <= 8 OR customer = 11"), "0");
  EXPECT_EQ(*dst_->QueryValue("SELECT COUNT(*) FROM shop.reviews WHERE customer IS NULL"), "10");
  EXPECT_EQ(*dst_->QueryValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM shop.carts WHERE customer IN (12, 1020)"),
            "200,201,500");
  EXPECT_EQ(*dst_->QueryValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM shop.categories"), "1,20,98,99");
  EXPECT_EQ(*dst_->QueryValue("SELECT COUNT(*) FROM shop.carts WHERE customer = 30"), "2") << "kept, as on the source";
  const std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("foreign key shop.carts.fk_carts (ON DELETE CASCADE, ON UPDATE CASCADE) on shop.carts: the "
                     "source server's changes to the child rows are redone on the MySQL, PostgreSQL and ClickHouse targets"),
            std::string::npos)
      << log;
  ASSERT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(PipelineStatus("p")["events"].dump().find("\"warning\""), std::string::npos)
      << PipelineStatus("p")["events"].dump();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A key added while the pipeline runs is followed from its ALTER on; one
// dropped is no longer (the source then keeps the child rows, so must the target).
TEST_F(ForeignKeysTest, KeysAddedOrDroppedWhileRunningAreFollowedFromTheirStatementOn) {
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    ASSERT_TRUE(src_->Execute(kShopKeys).ok());
    ASSERT_TRUE(FillShopWithKeys(*src_).ok());
    ASSERT_TRUE(src_->Execute("CREATE TABLE shop.notes (id INT PRIMARY KEY, customer INT, KEY (customer));"
                              "INSERT INTO shop.notes SELECT id, id FROM shop.customers")
                    .ok());
  }));
  ASSERT_TRUE(AllConverge());
  // (The keys are read when the pipeline reaches the statement: each step
  // is let through before the next changes them again.)
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.notes ADD CONSTRAINT fk_notes FOREIGN KEY (customer) REFERENCES "
                            "shop.customers (id) ON DELETE CASCADE;"
                            "DELETE FROM shop.customers WHERE id = 1;")
                  .ok());
  const char* notes = "SELECT * FROM shop.notes ORDER BY id";
  EXPECT_TRUE(Converges(*src_, notes, *dst_, notes, seconds(60)));
  EXPECT_TRUE(AllConverge());
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.carts DROP FOREIGN KEY fk_carts;"
                            "DELETE FROM shop.customers WHERE id = 2;")
                  .ok());
  EXPECT_TRUE(Converges(*src_, notes, *dst_, notes, seconds(60)));
  EXPECT_TRUE(AllConverge());
  EXPECT_EQ(*dst_->QueryValue("SELECT COUNT(*) FROM shop.notes WHERE customer IN (1, 2)"), "0");
  EXPECT_EQ(*dst_->QueryValue("SELECT COUNT(*) FROM shop.carts WHERE customer IN (1, 2)"), "2") << "customer 2's";
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Killed inside the transaction that redoes cascades, before and after its
// commit: the restart applies it once (the keyless audit row inside it
// shows a second apply), and the target equals the source.
class ForeignKeysKillTest : public ForeignKeysTest {
 protected:
  void KilledAt(const char* crash) {
    ASSERT_NO_FATAL_FAILURE(StartPair([&] {
      ASSERT_TRUE(src_->Execute(kShopKeys).ok());
      ASSERT_TRUE(FillShopWithKeys(*src_).ok());
    }));
    ASSERT_TRUE(AllConverge());
    ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
    ::setenv("SLUICE_SYNC_POINTS", crash, 1);
    StartSluice();
    ::unsetenv("SLUICE_SYNC_POINTS");
    ASSERT_TRUE(ChangeShopParents(*src_).ok());
    ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(30))) << "never reached the sync point";
    EXPECT_NE(sluice_->FullLog().find("sync point: crash"), std::string::npos) << sluice_->Log();
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    EXPECT_TRUE(AllConverge());
    EXPECT_EQ(*dst_->QueryValue("SELECT COUNT(*) FROM shop.audit"), "2");
    EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  }
};

TEST_F(ForeignKeysKillTest, BeforeTheCommit) { KilledAt("mysql.in_order.before_commit=crash@1"); }
TEST_F(ForeignKeysKillTest, AfterTheCommit) { KilledAt("mysql.in_order.committed=crash@1"); }

// The keys no target can follow are named at start: a rule that leaves out
// the key column. Keys of tables the pipeline does not read, and keys
// without actions, are not mentioned.
TEST_F(ForeignKeysTest, KeysTheRulesKeepFromBeingFollowedAreNamedAtStart) {
  options_.tables =
      "      - match: \"shop.subset\"\n"
      "        columns: [id, note]\n"
      "      - match: \"shop.*\"\n";
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    ASSERT_TRUE(
        src_->Execute("CREATE TABLE shop.parent (id INT PRIMARY KEY);"
                      "CREATE TABLE shop.subset (id INT PRIMARY KEY, pid INT, note VARCHAR(20), CONSTRAINT fk_subset "
                      "FOREIGN KEY (pid) REFERENCES shop.parent (id) ON DELETE CASCADE ON UPDATE SET NULL);"
                      "CREATE TABLE shop.restricts (id INT PRIMARY KEY, pid INT, CONSTRAINT fk_restricts FOREIGN KEY "
                      "(pid) REFERENCES shop.parent (id));"
                      "CREATE DATABASE other; CREATE TABLE other.kid (id INT PRIMARY KEY, pid INT, CONSTRAINT "
                      "fk_other FOREIGN KEY (pid) REFERENCES shop.parent (id) ON DELETE CASCADE)")
            .ok());
  }));
  const std::string log = sluice_->Log();
  EXPECT_NE(log.find("foreign key shop.subset.fk_subset (ON DELETE CASCADE, ON UPDATE SET NULL): the rule of "
                     "shop.subset leaves out its column `pid`"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("fk_restricts"), std::string::npos) << log;
  EXPECT_EQ(log.find("fk_other"), std::string::npos) << log;
  bool shown = false;
  const nlohmann::json status = PipelineStatus("p");
  for (const auto& e : status["events"]) {
    shown |= e.value("what", "") == "warning" && e.value("message", "").find("fk_subset") != std::string::npos;
  }
  EXPECT_TRUE(shown) << status.dump();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
