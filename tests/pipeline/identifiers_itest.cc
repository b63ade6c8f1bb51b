// Names that need quoting everywhere sluice writes SQL: a database with a
// dash, a table and columns named by reserved words, a column with a space,
// a backtick in a name, and names beyond ASCII. Copied (snapshot: initial),
// streamed (inserts, updates, deletes, a column added), and checked, on a
// MySQL target and on a PostgreSQL one.

#include "pipeline/fault_fixture.h"
#include "sink/postgres/pg_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kOddSchema = R"sql(
CREATE DATABASE `my-app`;
CREATE TABLE `my-app`.`order` (`key` INT PRIMARY KEY, `desc` VARCHAR(40), `group` INT, `first name` VARCHAR(20),
  `it``s` INT, `日期` DATE);
CREATE TABLE `my-app`.`订单 items` (`select` INT NOT NULL, `from` VARCHAR(10));
INSERT INTO `my-app`.`order` VALUES (1, 'one', 1, 'Ann', 1, '2024-01-01'), (2, 'two', 2, 'Bo', 2, NULL);
INSERT INTO `my-app`.`订单 items` VALUES (1, 'a'), (1, 'a'), (2, 'b');
)sql";
constexpr const char* kOrder = "SELECT `key`, `desc`, `group`, `first name`, `it``s`, `日期` FROM `my-app`.`order` "
                               "ORDER BY `key`";
constexpr const char* kItems = "SELECT `select`, `from` FROM `my-app`.`订单 items` ORDER BY 1, 2";
constexpr const char* kOddChanges =
    "INSERT INTO `my-app`.`order` VALUES (3, 'three', 3, 'Cy', 3, '2024-03-03'); "
    "UPDATE `my-app`.`order` SET `desc` = 'uno', `first name` = NULL WHERE `key` = 1; "
    "DELETE FROM `my-app`.`order` WHERE `key` = 2; "
    "UPDATE `my-app`.`订单 items` SET `from` = 'c' WHERE `select` = 2; "
    "DELETE FROM `my-app`.`订单 items` WHERE `select` = 1 LIMIT 1; "
    "ALTER TABLE `my-app`.`order` ADD COLUMN `where` INT DEFAULT 7; "
    "INSERT INTO `my-app`.`order` (`key`, `where`) VALUES (4, 8)";

// `sluice check` of pipeline p exits 0: source and target hold the same rows.
void ExpectCheckFindsNoDifference(const std::filesystem::path& dir, const std::string& config) {
  const std::string out = (dir / "check.out").string();
  Status check = RunCommand({SLUICE_BINARY, "check", "-c", config, "--pipeline", "p"}, out);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(check.ok()) << check.message() << "\n" << text;
}

TEST_F(FaultTest, NamesThatNeedQuotingAreCopiedStreamedAndChecked) {
  options_.tables = "      - match: \"my-app.*\"\n";
  options_.extra = "    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(StartPair([&] { ASSERT_TRUE(src_->Execute(kOddSchema).ok()); }));
  ASSERT_TRUE(Converges(*src_, kOrder, *dst_, kOrder));
  ASSERT_TRUE(Converges(*src_, kItems, *dst_, kItems));
  ASSERT_TRUE(src_->Execute(kOddChanges).ok());
  const std::string with_where = "SELECT `key`, `desc`, `first name`, `where` FROM `my-app`.`order` ORDER BY `key`";
  EXPECT_TRUE(Converges(*src_, with_where, *dst_, with_where));
  EXPECT_TRUE(Converges(*src_, kItems, *dst_, kItems));
  ExpectCheckFindsNoDifference(dir_, config_);
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSyncTest, NamesThatNeedQuotingAreCopiedStreamedAndChecked) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kOddSchema).ok());
  PipelineOptions o;
  o.tables = "      - match: \"my-app.*\"\n";
  o.extra = "    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  const std::string pg_order = "SELECT \"key\", \"desc\", \"group\", \"first name\", \"it`s\", \"日期\" FROM "
                               "\"my-app\".\"order\" ORDER BY \"key\"";
  const std::string pg_items = "SELECT \"select\", \"from\" FROM \"my-app\".\"订单 items\" ORDER BY 1, 2";
  ASSERT_TRUE(PgConverges(kOrder, pg_order));
  ASSERT_TRUE(PgConverges(kItems, pg_items));
  ASSERT_TRUE(src_->Execute(kOddChanges).ok());
  EXPECT_TRUE(PgConverges("SELECT `key`, `desc`, `first name`, `where` FROM `my-app`.`order` ORDER BY `key`",
                          "SELECT \"key\", \"desc\", \"first name\", \"where\" FROM \"my-app\".\"order\" "
                          "ORDER BY \"key\""));
  EXPECT_TRUE(PgConverges(kItems, pg_items));
  ExpectCheckFindsNoDifference(dir_, config_);
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
