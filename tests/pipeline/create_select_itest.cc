// CREATE TABLE ... SELECT on the source: MariaDB logs the CREATE (with the
// columns it made) inside the transaction of the copied rows, after its
// BEGIN. The decoder took it for a statement that changes no rows and
// dropped it, so the target never got the table and stopped at its first
// row ("Table doesn't exist"). Now the statement takes its place in the
// transaction, and a kill on either side of it applies it and the rows
// once.

#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class CreateSelectTest : public SyncTest {
 protected:
  void StartPair() {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT); "
                              "INSERT INTO shop.a VALUES (1, 1), (2, 2), (3, 3)")
                    .ok());
    WriteConfig(OneToOneConfig(dir_.string(), *src_, *dst_));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    ASSERT_TRUE(Converges(*src_, kA, *dst_, kA));
  }
  // Both copies hold exactly the source's rows (keyless: a second apply
  // would show as duplicates).
  void ExpectCopies() {
    EXPECT_TRUE(Converges(*src_, "SELECT * FROM shop.c ORDER BY id", *dst_, "SELECT * FROM shop.c ORDER BY id"));
    EXPECT_TRUE(Converges(*src_, "SELECT * FROM shop.d ORDER BY id", *dst_, "SELECT * FROM shop.d ORDER BY id"));
    EXPECT_EQ(*dst_->QueryValue("SELECT COUNT(*) FROM shop.c"), "3");
    auto key = dst_->QueryValue("SELECT COUNT(*) FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = "
                                "'shop' AND TABLE_NAME = 'd' AND CONSTRAINT_NAME = 'PRIMARY'");
    ASSERT_TRUE(key.ok()) << key.status().message();
    EXPECT_EQ(*key, "1");  // the columns and key the CREATE made
  }
  static constexpr const char* kA = "SELECT * FROM shop.a ORDER BY id";
  static constexpr const char* kCreates =
      "CREATE TABLE shop.c AS SELECT id, v * 2 AS w FROM shop.a; "
      "CREATE TABLE shop.d (id INT PRIMARY KEY, note VARCHAR(5) DEFAULT 'x') SELECT id FROM shop.a WHERE id > 1; "
      "INSERT INTO shop.d (id) VALUES (10)";
  std::unique_ptr<MariadbServer> src_, dst_;
};

TEST_F(CreateSelectTest, TheTableAndItsRowsReachTheTarget) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(src_->Execute(kCreates).ok());
  ExpectCopies();
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Killed after the CREATE ran on the target but before it was recorded
// (the restart finds the table there), and after it was recorded but
// before the rows after it committed (the restart goes on after it).
TEST_F(CreateSelectTest, KilledAroundTheCreateAppliesItAndTheRowsOnce) {
  for (const char* crash : {"mysql.ddl.before_checkpoint=crash@1", "mysql.partition.before_commit=crash@1"}) {
    SCOPED_TRACE(crash);
    ASSERT_NO_FATAL_FAILURE(StartPair());
    ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
    ::setenv("SLUICE_SYNC_POINTS", crash, 1);
    StartSluice();
    ::unsetenv("SLUICE_SYNC_POINTS");
    ASSERT_TRUE(src_->Execute(kCreates).ok());
    ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(30))) << "never reached " << crash;
    EXPECT_NE(sluice_->FullLog().find("sync point: crash"), std::string::npos) << sluice_->Log();
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    ExpectCopies();
    EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
    sluice_.reset();
    src_.reset();
    dst_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
}

}  // namespace
}  // namespace sluice::testing
