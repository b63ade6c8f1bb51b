// Tables a changed configuration newly selects (pipeline/selection.h): a
// table added to `tables:` (or whose rule now carries other rows) holds rows
// the stream never carried, and its target table may not exist. Before,
// the stream's first change of such a table stopped the target ("Table
// 'shop.audit' doesn't exist"). Now its target table is created before
// anything is captured; with `snapshot: initial` its rows are copied
// alongside the stream (a keyless one before the stream starts, which then
// leaves out its changes the copy holds), with `snapshot: never` a warning
// names the command that copies them.

#include <functional>

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

constexpr const char* kCustomers = "SELECT id, name FROM shop.customers ORDER BY id";

class SelectionTest : public FaultTest {
 protected:
  // The shop schema, a keyed table with 500 rows, 20 transactions; sluice
  // runs `tables` (with `extra` pipeline keys) until the orders converge.
  void RunWith(const std::string& tables, const std::string& extra) {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    std::string rows;
    for (int i = 1; i <= 500; ++i) rows += fmt::format("{}({}, 'customer {}')", i > 1 ? ", " : "", i, i);
    ASSERT_TRUE(src_->Execute("CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(40)); "
                              "INSERT INTO shop.customers VALUES " + rows)
                    .ok());
    ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
    http_port_ = FreePort();
    options_.tables = tables;
    options_.extra = extra;
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    ASSERT_TRUE(WaitForState("p", "running", seconds(60)));
    ASSERT_TRUE(Transactions(*src_, 21, 5).ok());
    ASSERT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, seconds(60)));
  }
  // sluice stopped, `meanwhile` done, the rules changed to `tables`, started again.
  void RestartWith(const std::string& tables, const std::function<void()>& meanwhile = {}) {
    ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
    if (meanwhile) meanwhile();
    options_.tables = tables;
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  static size_t Count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
    return n;
  }
  std::string Events() { return PipelineStatus("p")["events"].dump(); }
  // The events once one holds `what` (or after a minute): a copy's or a
  // repair's last rows can land before it reports itself done.
  std::string EventsOnceOneHolds(const std::string& what) {
    std::string events;
    WaitUntil([&] { return (events = Events()).find(what) != std::string::npos; }, seconds(60));
    return events;
  }
};

TEST_F(SelectionTest, TablesAddedToTheRulesAreCreatedAndCopiedAlongsideTheStream) {
  ASSERT_NO_FATAL_FAILURE(RunWith("      - match: \"shop.orders\"\n", "    snapshot: initial\n"));
  ASSERT_FALSE(dst_->QueryValue("SELECT COUNT(*) FROM shop.customers").ok()) << "not selected yet";
  // Written while sluice is stopped: after the target's checkpoint, so the
  // stream replays them, and before the keyless audit table's copy, which
  // holds them: its rows must not land twice.
  ASSERT_NO_FATAL_FAILURE(
      RestartWith("      - match: \"shop.*\"\n", [&] { ASSERT_TRUE(Transactions(*src_, 26, 3).ok()); }));
  // Changes of the new tables at once: to rows the copy has or has not reached.
  ASSERT_TRUE(src_->Execute("UPDATE shop.customers SET name = 'renamed' WHERE id IN (1, 250, 500); "
                            "DELETE FROM shop.customers WHERE id = 2; INSERT INTO shop.customers VALUES (501, 'new')")
                  .ok());
  ASSERT_TRUE(Transactions(*src_, 29, 5).ok());
  EXPECT_TRUE(Converges(*src_, kCustomers, *dst_, kCustomers, seconds(60)));
  EXPECT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, seconds(60)));
  // shop.audit has no key: copied before the stream starts, each row once.
  EXPECT_TRUE(Converges(*src_, kAudit, *dst_, kAudit, seconds(60)));
  ASSERT_TRUE(WaitForState("p", "running", seconds(10)));
  std::string events = EventsOnceOneHolds("new table(s) copied");
  EXPECT_NE(events.find("newly selected keyless table(s) copied"), std::string::npos) << events;
  // Recorded: the next start copies nothing again.
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"shop.*\"\n"));
  ASSERT_TRUE(Transactions(*src_, 34, 2).ok());
  EXPECT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, seconds(60)));
  EXPECT_TRUE(Converges(*src_, kAudit, *dst_, kAudit, seconds(60)));
  EXPECT_EQ(Count(sluice_->FullLog(), "the rules newly select"), 0u) << sluice_->FullLog();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A newly selected table whose DEFAULT takes a sequence's NEXTVAL: the
// sequence is created on the target first (before, creating the table
// failed the start: "Table 'shop.ids' doesn't exist").
TEST_F(SelectionTest, ANewlySelectedTableFindsTheSequenceItsDefaultTakes) {
  ASSERT_NO_FATAL_FAILURE(RunWith("      - match: \"shop.orders\"\n", "    snapshot: initial\n"));
  ASSERT_TRUE(src_->Execute("CREATE SEQUENCE shop.ids START WITH 40 CACHE 2; CREATE TABLE shop.tickets (id BIGINT "
                            "PRIMARY KEY DEFAULT (NEXTVAL(shop.ids)), v INT); INSERT INTO shop.tickets (v) VALUES "
                            "(1), (2), (3)")
                  .ok());
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"shop.*\"\n"));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.tickets (v) VALUES (4), (5), (6)").ok());
  const std::string tickets = "SELECT id, v FROM shop.tickets ORDER BY id", ids = "SELECT * FROM shop.ids";
  EXPECT_TRUE(Converges(*src_, tickets, *dst_, tickets, seconds(60)));
  EXPECT_TRUE(Converges(*src_, ids, *dst_, ids, seconds(60)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A filter widened: the rows it now selects were never carried; they are
// copied like a new table's.
TEST_F(SelectionTest, AWidenedFilterCopiesTheRowsItNowSelects) {
  ASSERT_NO_FATAL_FAILURE(RunWith("      - match: \"shop.customers\"\n        where: \"id <= 100\"\n"
                                  "      - match: \"shop.orders\"\n",
                                  "    snapshot: initial\n"));
  ASSERT_TRUE(Converges(*src_, "SELECT id, name FROM shop.customers WHERE id <= 100 ORDER BY id", *dst_, kCustomers,
                        seconds(60)));
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"shop.customers\"\n      - match: \"shop.orders\"\n"));
  ASSERT_TRUE(src_->Execute("UPDATE shop.customers SET name = 'renamed' WHERE id IN (1, 300)").ok());
  EXPECT_TRUE(Converges(*src_, kCustomers, *dst_, kCustomers, seconds(60)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A table selected again holds, on its target, rows deleted on the source
// while it was not selected: the copy upserts the source's rows and leaves
// those. Before, nothing said so; now the copied tables are compared with
// their targets and the old rows named with the command that removes them.
TEST_F(SelectionTest, RowsATableSelectedAgainNoLongerHasAreReported) {
  const std::string both = "      - match: \"shop.orders\"\n      - match: \"shop.customers\"\n";
  ASSERT_NO_FATAL_FAILURE(RunWith(both, "    snapshot: initial\n"));
  ASSERT_TRUE(Converges(*src_, kCustomers, *dst_, kCustomers, seconds(60)));
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"shop.orders\"\n"));
  // Deleted while not selected; the orders after them move the checkpoint on.
  ASSERT_TRUE(src_->Execute("DELETE FROM shop.customers WHERE id IN (7, 8, 9)").ok());
  ASSERT_TRUE(Transactions(*src_, 26, 2).ok());
  ASSERT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, seconds(60)));
  ASSERT_NO_FATAL_FAILURE(RestartWith(both));
  ASSERT_TRUE(Transactions(*src_, 28, 2).ok());
  ASSERT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, seconds(60)));
  std::string events = EventsOnceOneHolds("compared with their targets");
  EXPECT_NE(events.find("shop.customers on dst: 3 extra, 0 missing, 0 different (first: id=7)"), std::string::npos)
      << events;
  EXPECT_NE(events.find("--pipeline p --repair"), std::string::npos) << events;
  auto count = dst_->QueryValue("SELECT COUNT(*) FROM shop.customers");
  ASSERT_TRUE(count.ok()) << count.status().message();
  EXPECT_EQ(*count, "500") << "reported, not removed";
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A narrowed filter (`where:` with materialized-view meaning): the rows it now
// leaves out were on the target and stayed there; with `check: {repair:
// true}` the comparison after the copy removes them.
TEST_F(SelectionTest, ANarrowedFilterRemovesTheRowsItNowLeavesOutWhenChecksRepair) {
  const std::string extra = "    snapshot: initial\n    check: {repair: true}\n";
  ASSERT_NO_FATAL_FAILURE(RunWith("      - match: \"shop.customers\"\n      - match: \"shop.orders\"\n", extra));
  ASSERT_TRUE(Converges(*src_, kCustomers, *dst_, kCustomers, seconds(60)));
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"shop.customers\"\n        where: \"id <= 100\"\n"
                                      "      - match: \"shop.orders\"\n"));
  ASSERT_TRUE(src_->Execute("UPDATE shop.customers SET name = 'renamed' WHERE id IN (1, 300)").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT id, name FROM shop.customers WHERE id <= 100 ORDER BY id", *dst_, kCustomers,
                        seconds(60)));
  std::string events = EventsOnceOneHolds("400 rows repaired");
  EXPECT_NE(events.find("400 rows repaired"), std::string::npos) << events;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Shards merged into one target table, one of them selected again: its
// target table is compared as the union of every shard, so the repair after
// the copy removes the selected-again shard's old rows and never the rows of
// the shard that stayed selected.
TEST_F(SelectionTest, AShardSelectedAgainIsComparedWithTheOtherShardsOfItsTable) {
  const std::string extra = "    snapshot: initial\n    check: {repair: true}\n";
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_TRUE(src_->Execute("CREATE DATABASE sh; CREATE TABLE sh.c_1 (id INT PRIMARY KEY, name VARCHAR(40)); "
                            "CREATE TABLE sh.c_2 LIKE sh.c_1; INSERT INTO sh.c_1 VALUES (1, 'a'), (3, 'c'), (5, 'e'); "
                            "INSERT INTO sh.c_2 VALUES (2, 'b'), (4, 'd'), (6, 'f')")
                  .ok());
  http_port_ = FreePort();
  options_.extra = extra;
  options_.tables = "      - match: \"sh.c_*\"\n        to: \"report.c\"\n      - match: \"shop.orders\"\n";
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  const std::string merged = "SELECT id, name FROM report.c ORDER BY id";
  const std::string shards = "SELECT id, name FROM sh.c_1 UNION ALL SELECT id, name FROM sh.c_2 ORDER BY id";
  ASSERT_TRUE(Converges(*src_, shards, *dst_, merged, seconds(60)));
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"sh.c_1\"\n        to: \"report.c\"\n"
                                      "      - match: \"shop.orders\"\n"));
  ASSERT_TRUE(src_->Execute("DELETE FROM sh.c_2 WHERE id = 4").ok());
  ASSERT_TRUE(Transactions(*src_, 1, 2).ok());  // the checkpoint moves past the delete
  ASSERT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, seconds(60)));
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"sh.c_*\"\n        to: \"report.c\"\n"
                                      "      - match: \"shop.orders\"\n"));
  std::string events = EventsOnceOneHolds("compared with their targets");
  EXPECT_NE(events.find("1 rows repaired: report.c on dst: 1 extra"), std::string::npos) << events;
  EXPECT_TRUE(Converges(*src_, shards, *dst_, merged, seconds(60)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A rule that now maps more columns (a widened `columns:`, a column renamed
// to a new name): the existing target table lacks them. Before, the start
// failed ("target table `shop`.`customers` has no column `name`") until the
// column was added by hand; now it is added with the source's type, and the
// copy fills it.
TEST_F(SelectionTest, ColumnsARuleNowMapsAreAddedToTheTargetTable) {
  ASSERT_NO_FATAL_FAILURE(RunWith("      - match: \"shop.orders\"\n      - match: \"shop.customers\"\n"
                                  "        columns: [id]\n",
                                  "    snapshot: initial\n"));
  ASSERT_TRUE(Converges(*src_, "SELECT id FROM shop.customers ORDER BY id", *dst_,
                        "SELECT * FROM shop.customers ORDER BY id", seconds(60)));
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"shop.orders\"\n      - match: \"shop.customers\"\n"
                                      "        rename_columns: {name: title}\n"));
  ASSERT_TRUE(src_->Execute("UPDATE shop.customers SET name = 'renamed' WHERE id IN (1, 300)").ok());
  EXPECT_TRUE(Converges(*src_, kCustomers, *dst_, "SELECT id, title FROM shop.customers ORDER BY id", seconds(60)));
  // Renamed again: `label` is added beside `title`, which keeps its values.
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"shop.orders\"\n      - match: \"shop.customers\"\n"
                                      "        rename_columns: {name: label}\n"));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.customers VALUES (501, 'new')").ok());
  EXPECT_TRUE(Converges(*src_, kCustomers, *dst_, "SELECT id, label FROM shop.customers ORDER BY id", seconds(60)));
  auto columns = dst_->QueryValue("SELECT GROUP_CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE ORDER BY ORDINAL_POSITION) "
                                  "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = "
                                  "'customers'");
  ASSERT_TRUE(columns.ok()) << columns.status().message();
  EXPECT_EQ(*columns, "id int(11),title varchar(40),label varchar(40)");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A narrowed `columns:`: the target table keeps the column the rule no
// longer maps, NOT NULL without a default as the source made it, and every
// insert then stopped the target ("Field 'amount' doesn't have a default
// value"). Now such a column is made NULL-able (its earlier values kept).
TEST_F(SelectionTest, AColumnTheRuleNoLongerMapsDoesNotStopInserts) {
  ASSERT_NO_FATAL_FAILURE(RunWith("      - match: \"shop.orders\"\n", "    snapshot: initial\n"));
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"shop.orders\"\n        columns: [id, note]\n"));
  ASSERT_TRUE(Transactions(*src_, 26, 3).ok());
  const std::string kept = "SELECT id, note FROM shop.orders ORDER BY id";
  EXPECT_TRUE(Converges(*src_, kept, *dst_, kept, seconds(60)));
  auto amounts = dst_->QueryValue("SELECT CONCAT(COUNT(amount), '/', COUNT(*)) FROM shop.orders");
  ASSERT_TRUE(amounts.ok()) << amounts.status().message();
  EXPECT_EQ(*amounts, "25/28") << "earlier values kept, none for the new rows";
  auto nullable = dst_->QueryValue("SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' "
                                   "AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'amount'");
  ASSERT_TRUE(nullable.ok()) << nullable.status().message();
  EXPECT_EQ(*nullable, "YES");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// sluice killed right after its first copy, before the stream started: the
// rules that copy carried are recorded all the same. Before, nothing was, so
// the next start with a widened rule took it as the first start and never
// copied the columns it now maps (they stayed NULL on the target).
TEST_F(SelectionTest, RulesAreRecordedOnceTheFirstCopyIsDone) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_TRUE(src_->Execute("CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(40)); "
                            "INSERT INTO shop.customers VALUES (1, 'a'), (2, 'b'), (3, 'c')")
                  .ok());
  http_port_ = FreePort();
  options_.tables = "      - match: \"shop.customers\"\n        columns: [id]\n      - match: \"shop.orders\"\n";
  options_.extra = "    snapshot: initial\n";
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
  StartSluiceWithSyncPoints("pipeline.initial_copy.done=crash");
  ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(60))) << "never reached the sync point";
  options_.tables = "      - match: \"shop.customers\"\n      - match: \"shop.orders\"\n";
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), options_));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(Converges(*src_, kCustomers, *dst_, kCustomers, seconds(60)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// `snapshot: never`: the target table is created and later changes applied
// (no stop), and a warning names the command that copies the rest; that
// command then completes the table.
TEST_F(SelectionTest, WithoutSnapshotsTheTableIsCreatedAndTheCopyCommandNamed) {
  ASSERT_NO_FATAL_FAILURE(RunWith("      - match: \"shop.orders\"\n", ""));
  ASSERT_NO_FATAL_FAILURE(RestartWith("      - match: \"shop.orders\"\n      - match: \"shop.customers\"\n"));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.customers VALUES (501, 'new')").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT id, name FROM shop.customers WHERE id > 500", *dst_, kCustomers, seconds(60)));
  ASSERT_TRUE(WaitForState("p", "running", seconds(10)));
  std::string events = Events();
  EXPECT_NE(events.find("shop.customers newly selected"), std::string::npos) << events;
  EXPECT_NE(events.find("sluice snapshot -c"), std::string::npos) << events;
  Status snapshot = RunCommand({SLUICE_BINARY, "snapshot", "-c", config_, "--pipeline", "p", "--progress", "plain"},
                               (dir_ / "snapshot.log").string());
  ASSERT_TRUE(snapshot.ok()) << snapshot.message();
  EXPECT_TRUE(Converges(*src_, kCustomers, *dst_, kCustomers, seconds(60)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
