// `sluice flashback` against real MariaDB servers: an UPDATE without WHERE and
// a DELETE of thousands of rows undone exactly (CHECKSUM TABLE as before the
// accident), applied and printed into the server, from the server and from
// its binlog files; the refusals (rows changed after the range, partial row
// images); and the same range undone by `mariadb-binlog --flashback`.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/run_command.h"
#include "harness/mariadb_server.h"

namespace sluice::testing {
namespace {

// Every type family, NULLs included, over `n` rows.
constexpr const char* kCreate =
    "CREATE DATABASE shop; CREATE TABLE shop.t (id INT UNSIGNED PRIMARY KEY, big BIGINT UNSIGNED, "
    "price DECIMAL(12,4), made DATETIME(6), seen TIMESTAMP(3) NULL, day DATE, dur TIME(2), size ENUM('s','m','l'), "
    "tags SET('a','b','c'), doc JSON, raw VARBINARY(8), bin BINARY(4), blb BLOB, flag BIT(3), ratio FLOAT, "
    "dbl DOUBLE, note VARCHAR(40), yr YEAR, small TINYINT, txt TEXT CHARACTER SET latin1)";

std::string Populate(int n) {
  return fmt::format(
      "USE shop; INSERT INTO shop.t SELECT seq, 18446744073709551615 - seq, seq * 1.2345 - 5000, "
      "TIMESTAMPADD(MICROSECOND, seq * 1234567, '2024-01-31 12:34:56.000001'), "
      "IF(seq % 7 = 0, NULL, FROM_UNIXTIME(1700000000 + seq + 0.125)), DATE_ADD('2024-02-29', INTERVAL seq DAY), "
      "SEC_TO_TIME(CAST(seq AS SIGNED) * 37 - 100000 + 0.25), ELT(seq % 3 + 1, 's', 'm', 'l'), IF(seq % 4 = 0, '', 'a,c'), "
      "IF(seq % 5 = 0, NULL, JSON_OBJECT('k', seq, 'q', 'it''s \\\\ \"x\"')), UNHEX(HEX(seq * 257)), "
      "IF(seq % 2, x'00ff0000', x'41000042'), IF(seq % 9 = 0, NULL, REPEAT(x'00ff27', seq % 50)), seq % 8, "
      "seq / 3, seq / 7, IF(seq % 11 = 0, NULL, CONCAT('caf', _utf8mb4 x'C3A9', ' ', seq)), 1901 + seq % 255, "
      "CAST(seq % 256 AS SIGNED) - 128, CONCAT('\\'quote\\' ', seq) FROM seq_1_to_{}",
      n);
}

// An UPDATE without WHERE, then a DELETE of thousands of rows (two transactions).
constexpr const char* kAccident =
    "UPDATE shop.t SET note = 'oops', price = 0, seen = NULL, doc = '[]'; DELETE FROM shop.t WHERE id > 1500";

std::string Checksum(MariadbServer& s, std::string_view table = "shop.t") {
  auto v = s.Query(fmt::format("CHECKSUM TABLE {}", table));
  EXPECT_TRUE(v.ok()) << v.status().message();
  if (!v.ok() || v->empty() || !(*v)[0][1]) return "?";
  return *(*v)[0][1];
}

std::string Position(MariadbServer& s) {
  auto rows = s.Query("SHOW MASTER STATUS");
  EXPECT_TRUE(rows.ok() && !rows->empty());
  if (!rows.ok() || rows->empty()) return "?";
  return *(*rows)[0][0] + ":" + *(*rows)[0][1];
}

std::string File(const std::string& pos) { return pos.substr(0, pos.find(':')); }
std::string Offset(const std::string& pos) { return pos.substr(pos.find(':') + 1); }

int Shell(const std::string& cmd) {
  int rc = std::system(("bash -o pipefail -c " + ShellQuote(cmd)).c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string Client(MariadbServer& s) { return "mariadb --socket=" + ShellQuote(s.socket_path()) + " -uroot"; }

class FlashbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MariadbServer::Start({.relaxed_durability = true});
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(*s);
    Status st = server_->Execute(kCreate);
    ASSERT_TRUE(st.ok()) << st.message();
    st = server_->Execute(Populate(5000));
    ASSERT_TRUE(st.ok()) << st.message();
    before_ = Checksum(*server_);
    start_ = Position(*server_);
  }
  // The accident: an UPDATE without WHERE, then a DELETE of thousands of rows.
  void Accident() {
    ASSERT_TRUE(server_->Execute(kAccident).ok());
    ASSERT_EQ(*server_->QueryValue("SELECT COUNT(*) FROM shop.t"), "1500");
    after_ = Checksum(*server_);
    ASSERT_NE(after_, before_);
    stop_ = Position(*server_);
  }
  std::string Range() const { return fmt::format("--start {} --stop {}", start_, stop_); }

  std::unique_ptr<MariadbServer> server_;
  std::string before_, after_, start_, stop_;
};

TEST_F(FlashbackTest, ApplyUndoesAnUpdateWithoutWhereAndAMassDelete) {
  Accident();
  auto r = RunSluice(fmt::format("flashback --source {} {} --apply {}", ShellQuote(server_->Url()), Range(),
                                 ShellQuote(server_->Url())));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("undid 2 transactions (8500 row changes)"), std::string::npos) << r.err;
  EXPECT_EQ(Checksum(*server_), before_);
  // Undone again: the rows are no longer as the range left them.
  auto again = RunSluice(fmt::format("flashback --source {} {} --apply {}", ShellQuote(server_->Url()), Range(),
                                     ShellQuote(server_->Url())));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("changed after the range"), std::string::npos) << again.err;
  EXPECT_EQ(Checksum(*server_), before_);
}

// Rows larger than the server's max_allowed_packet as SQL (3 MB of bytes is
// a 6 MB literal; the packet is 4 MiB): each undo statement stays within it,
// a row too large for one is written in pieces.
TEST(FlashbackBigRowsTest, RowsLargerThanThePacketAreUndoneInPieces) {
  auto s = MariadbServer::Start({.relaxed_durability = true, .extra_args = {"--max-allowed-packet=4M"}});
  ASSERT_TRUE(s.ok()) << s.status().message();
  MariadbServer& server = **s;
  ASSERT_TRUE(server.Execute("CREATE DATABASE shop; CREATE TABLE shop.docs (id INT PRIMARY KEY, note VARCHAR(20), "
                             "body LONGBLOB, txt LONGTEXT)")
                  .ok());
  ASSERT_TRUE(server.Execute("INSERT INTO shop.docs VALUES (1, 'one', REPEAT(x'00ff27', 1000000), 'small'); "
                             "INSERT INTO shop.docs VALUES (2, 'two', REPEAT(x'0a5c00', 1000000), REPEAT('a\xc3\xa9', 1000000)); "
                             "INSERT INTO shop.docs VALUES (3, 'three', 'x', NULL)")
                  .ok());
  const std::string before = Checksum(server, "shop.docs");
  const std::string start = Position(server);
  ASSERT_TRUE(server.Execute("UPDATE shop.docs SET note = 'oops'; DELETE FROM shop.docs WHERE id >= 2").ok());
  const std::string stop = Position(server);
  ASSERT_NE(Checksum(server, "shop.docs"), before);
  const std::string flashback = fmt::format("flashback --source {} --start {} --stop {} --apply {}",
                                            ShellQuote(server.Url()), start, stop, ShellQuote(server.Url()));
  // Large rows are compared by digest: one byte more after the range is seen.
  ASSERT_TRUE(server.Execute("UPDATE shop.docs SET body = CONCAT(body, 'x') WHERE id = 1").ok());
  auto refused = RunSluice(flashback);
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("changed after the range"), std::string::npos) << refused.err;
  ASSERT_TRUE(server.Execute("UPDATE shop.docs SET body = LEFT(body, LENGTH(body) - 1) WHERE id = 1").ok());
  auto r = RunSluice(flashback);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Checksum(server, "shop.docs"), before);
}

// A parent's delete set off foreign key actions the server did not log:
// flashback restores the parents and says which child rows it cannot.
TEST(FlashbackCascadeTest, ChildRowsTheServerChangedUnloggedAreNamed) {
  auto s = MariadbServer::Start({.relaxed_durability = true});
  ASSERT_TRUE(s.ok()) << s.status().message();
  MariadbServer& server = **s;
  ASSERT_TRUE(server.Execute("CREATE DATABASE shop; CREATE TABLE shop.customers (id INT PRIMARY KEY); "
                             "CREATE TABLE shop.carts (id INT PRIMARY KEY, customer INT, CONSTRAINT fk_carts FOREIGN "
                             "KEY (customer) REFERENCES shop.customers (id) ON DELETE CASCADE); "
                             "CREATE TABLE shop.notes (id INT PRIMARY KEY, customer INT, CONSTRAINT fk_notes FOREIGN "
                             "KEY (customer) REFERENCES shop.customers (id)); "
                             "INSERT INTO shop.customers VALUES (1), (2); INSERT INTO shop.carts VALUES (10, 1), (20, 2)")
                  .ok());
  const std::string start = Position(server);
  ASSERT_TRUE(server.Execute("DELETE FROM shop.customers WHERE id = 1").ok());
  const std::string stop = Position(server);
  auto r = RunSluice(fmt::format("flashback --source {} --start {} --stop {} --apply {}", ShellQuote(server.Url()),
                                 start, stop, ShellQuote(server.Url())));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(*server.QueryValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM shop.customers"), "1,2");
  EXPECT_NE(r.err.find("warning: foreign key shop.carts.fk_carts (ON DELETE CASCADE): the server changed rows of "
                       "shop.carts for the changes of shop.customers in the range without logging them, and they are "
                       "not restored"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("fk_notes"), std::string::npos) << r.err;
}

TEST_F(FlashbackTest, PrintedSqlPipedIntoTheServerUndoesTheAccident) {
  Accident();
  auto r = RunSluice(fmt::format("flashback --source {} {} --print", ShellQuote(server_->Url()), Range()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Newest first: the deleted rows come back before the update is undone.
  size_t del = r.out.find("-- undo of 0-1-5 @ "), update = r.out.find("-- undo of 0-1-4 @ ");
  ASSERT_NE(del, std::string::npos) << r.out.substr(0, 300);
  ASSERT_NE(update, std::string::npos);
  EXPECT_LT(del, update);
  // Checked rows of a table with one unique key: updates back in multi-row upserts.
  EXPECT_NE(r.out.find("ON DUPLICATE KEY UPDATE", update), std::string::npos);
  EXPECT_EQ(Checksum(*server_), after_);  // printing changed nothing
  auto path = std::filesystem::path(server_->dir()) / "undo.sql";
  std::ofstream(path, std::ios::binary) << r.out;
  ASSERT_EQ(Shell(Client(*server_) + " < " + ShellQuote(path.string())), 0);
  EXPECT_EQ(Checksum(*server_), before_);
}

// The accident spans a binlog rotation: read from the server and from the
// files, the range gives the same SQL (unchecked: an UPDATE per row), and the
// files' undo applies.
TEST_F(FlashbackTest, BinlogFilesAreASourceAndRangesCrossRotations) {
  ASSERT_TRUE(server_->Execute("UPDATE shop.t SET note = 'oops', price = 0; FLUSH BINARY LOGS; "
                               "DELETE FROM shop.t WHERE id > 1500")
                  .ok());
  stop_ = Position(*server_);
  ASSERT_NE(File(stop_), File(start_));
  ASSERT_TRUE(server_->Execute("FLUSH BINARY LOGS").ok());
  std::string url = "file://" + server_->datadir() + "/" + File(start_);
  auto unchecked = RunSluice(fmt::format("flashback --source {} {}", ShellQuote(url), Range()));
  EXPECT_EQ(unchecked.exit_code, 2);  // nothing to check the rows against
  EXPECT_NE(unchecked.err.find("--force"), std::string::npos) << unchecked.err;
  auto from_files = RunSluice(fmt::format("flashback --source {} {} --force", ShellQuote(url), Range()));
  ASSERT_EQ(from_files.exit_code, 0) << from_files.err;
  auto from_server = RunSluice(fmt::format("flashback --source {} {} --force", ShellQuote(server_->Url()), Range()));
  ASSERT_EQ(from_server.exit_code, 0) << from_server.err;
  EXPECT_EQ(from_files.out, from_server.out);
  EXPECT_NE(from_files.out.find("-- undo of 0-1-5 @ " + File(stop_) + ":"), std::string::npos)
      << from_files.out.substr(0, 300);
  auto r = RunSluice(fmt::format("flashback --source {} {} --apply {}", ShellQuote(url), Range(),
                                 ShellQuote(server_->Url())));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("undid 2 transactions (8500 row changes)"), std::string::npos) << r.err;
  EXPECT_EQ(Checksum(*server_), before_);
}

TEST_F(FlashbackTest, GtidRangeAndUntil) {
  std::string gtid_before = *server_->QueryValue("SELECT @@gtid_binlog_pos");
  Accident();
  std::string gtid_after = *server_->QueryValue("SELECT @@gtid_binlog_pos");
  // A later, unrelated transaction outside the range.
  ASSERT_TRUE(server_->Execute("CREATE TABLE shop.other (id INT PRIMARY KEY); INSERT INTO shop.other VALUES (1)").ok());
  auto r = RunSluice(fmt::format("flashback --source {} --start {} --stop {} --print", ShellQuote(server_->Url()),
                                 gtid_before, gtid_after));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("shop`.`other"), std::string::npos);
  EXPECT_NE(r.out.find("-- undo of " + gtid_after), std::string::npos) << r.out.substr(0, 400);
  // A GTID start with an open end: the range ends at the server's GTID
  // position when the job started (here: nothing after the start).
  std::string gtid_now = *server_->QueryValue("SELECT @@gtid_binlog_pos");
  auto open_end = RunSluice(fmt::format("flashback --source {} --start {} --until '2099-01-01 00:00:00'",
                                        ShellQuote(server_->Url()), gtid_now),
                            20);
  ASSERT_EQ(open_end.exit_code, 0) << open_end.err;
  EXPECT_NE(open_end.err.find("no row changes in the range"), std::string::npos) << open_end.err;
  auto to_end = RunSluice(fmt::format("flashback --source {} --start {} --until '2099-01-01 00:00:00' --tables "
                                      "'shop.t'",
                                      ShellQuote(server_->Url()), gtid_before),
                          20);
  ASSERT_EQ(to_end.exit_code, 0) << to_end.err;
  EXPECT_NE(to_end.out.find("-- undo of " + gtid_after), std::string::npos);
  // --until now: everything to the end, the later insert too, which --tables leaves out.
  auto until = RunSluice(fmt::format("flashback --source {} --start {} --until '2099-01-01 00:00:00' --tables "
                                     "'shop.t' --apply {}",
                                     ShellQuote(server_->Url()), start_, ShellQuote(server_->Url())));
  ASSERT_EQ(until.exit_code, 0) << until.err;
  EXPECT_NE(until.err.find("warning: DDL inside the range is not undone: CREATE TABLE shop.other"), std::string::npos)
      << until.err;
  EXPECT_EQ(Checksum(*server_), before_);
  EXPECT_EQ(*server_->QueryValue("SELECT COUNT(*) FROM shop.other"), "1");
  // --until before the accident: nothing in range.
  auto none = RunSluice(fmt::format("flashback --source {} --start {} --until '2000-01-01 00:00:00' --print",
                                    ShellQuote(server_->Url()), start_));
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out.find("BEGIN"), std::string::npos) << none.out;
  EXPECT_NE(none.err.find("no row changes in the range"), std::string::npos) << none.err;
}

TEST_F(FlashbackTest, RowChangedAfterTheRangeIsRefusedUnlessForced) {
  Accident();
  ASSERT_TRUE(server_->Execute("UPDATE shop.t SET note = 'fixed by hand' WHERE id = 42").ok());
  std::string args = fmt::format("flashback --source {} {} --apply {}", ShellQuote(server_->Url()), Range(),
                                 ShellQuote(server_->Url()));
  std::string changed = Checksum(*server_);
  auto r = RunSluice(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("row id=42 of `shop`.`t` changed after the range"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(Checksum(*server_), changed);  // nothing written
  // A row the range deleted and that was inserted again after it is caught as well.
  ASSERT_TRUE(server_->Execute("UPDATE shop.t SET note = 'oops' WHERE id = 42; INSERT INTO shop.t (id) VALUES (4000)").ok());
  auto print = RunSluice(fmt::format("flashback --source {} {}", ShellQuote(server_->Url()), Range()));
  EXPECT_EQ(print.exit_code, 1);
  EXPECT_NE(print.err.find("row id=4000 of `shop`.`t` changed after the range"), std::string::npos) << print.err;
  EXPECT_NE(print.err.find("has a row with that key again"), std::string::npos) << print.err;
  EXPECT_TRUE(print.out.empty());
  ASSERT_TRUE(server_->Execute("DELETE FROM shop.t WHERE id = 4000; UPDATE shop.t SET note = 'fixed by hand' WHERE id = 42").ok());
  auto forced = RunSluice(args + " --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(Checksum(*server_), before_);  // the later change is overwritten too
}

// With --force a statement of the undo can fail (a deleted row's key was
// taken again): its transaction rolls back, the newer ones stay undone, and
// the message says so.
TEST_F(FlashbackTest, AFailedUndoTransactionRollsBackAndSaysWhatWasUndone) {
  ASSERT_TRUE(server_->Execute("DELETE FROM shop.t WHERE id > 1500").ok());
  std::string deleted = Checksum(*server_);
  ASSERT_TRUE(server_->Execute("UPDATE shop.t SET note = 'oops'").ok());
  stop_ = Position(*server_);
  ASSERT_TRUE(server_->Execute("INSERT INTO shop.t (id) VALUES (4000)").ok());
  auto r = RunSluice(fmt::format("flashback --source {} {} --force --apply {}", ShellQuote(server_->Url()), Range(),
                                 ShellQuote(server_->Url())));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("undo of transaction 0-1-4 @ "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rolled back; 1 newer transactions of 2 were undone and committed"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("Duplicate entry '4000'"), std::string::npos) << r.err;
  ASSERT_TRUE(server_->Execute("DELETE FROM shop.t WHERE id = 4000").ok());
  EXPECT_EQ(Checksum(*server_), deleted);  // the update undone, the delete not
}

TEST_F(FlashbackTest, PartialRowImagesAreRefused) {
  ASSERT_TRUE(server_->Execute("SET SESSION binlog_row_image = 'MINIMAL'; UPDATE shop.t SET note = 'x' WHERE id < 10; "
                               "SET SESSION binlog_row_image = 'FULL'")
                  .ok());
  stop_ = Position(*server_);
  auto r = RunSluice(fmt::format("flashback --source {} {} --apply {}", ShellQuote(server_->Url()), Range(),
                                 ShellQuote(server_->Url())));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("binlog_row_image is not FULL"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("`shop`.`t`"), std::string::npos) << r.err;
  EXPECT_EQ(*server_->QueryValue("SELECT COUNT(*) FROM shop.t WHERE note = 'x'"), "9");  // nothing undone
}

// Several tables in one transaction, a keyless table with duplicate rows and
// values that differ only in case or trailing spaces, key changes, and a row
// inserted, updated and deleted within the range.
TEST_F(FlashbackTest, KeylessTablesKeyChangesAndMixedTransactions) {
  ASSERT_TRUE(server_->Execute("CREATE TABLE shop.log (k INT, v VARCHAR(10), amount DECIMAL(6,2)); INSERT INTO "
                               "shop.log VALUES (1,'a',1.00),(1,'a',1.00),(2,'B',NULL),(3,'b ',2.50),(3,'b',2.50)")
                  .ok());
  start_ = Position(*server_);
  std::string log_before = Checksum(*server_, "shop.log");
  ASSERT_TRUE(server_->Execute(
                     "BEGIN; UPDATE shop.t SET id = id + 100000 WHERE id <= 10; INSERT INTO shop.t (id, note) VALUES "
                     "(7, 'new'); DELETE FROM shop.log WHERE k = 1 LIMIT 1; UPDATE shop.log SET v = 'b' WHERE k = 2; "
                     "UPDATE shop.log SET amount = 9 WHERE v = 'b' AND k = 3; INSERT INTO shop.log VALUES (9,'z',0); "
                     "UPDATE shop.t SET note = 'twice' WHERE id = 100007; DELETE FROM shop.t WHERE id = 7; COMMIT; "
                     "UPDATE shop.log SET amount = amount * 2")
                  .ok());
  ASSERT_NE(Checksum(*server_, "shop.log"), log_before);
  stop_ = Position(*server_);
  auto r = RunSluice(fmt::format("flashback --source {} {} --apply {}", ShellQuote(server_->Url()), Range(),
                                 ShellQuote(server_->Url())));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Checksum(*server_), before_);
  EXPECT_EQ(Checksum(*server_, "shop.log"), log_before);
  EXPECT_EQ(*server_->QueryValue("SELECT GROUP_CONCAT(CONCAT(k, ':', v, ':', IFNULL(amount, 'n')) ORDER BY k, HEX(v)) "
                                 "FROM shop.log"),
            "1:a:1.00,1:a:1.00,2:B:n,3:b:2.50,3:b :2.50");
}

// A second unique key: updates back stay single UPDATEs in order (an upsert
// could land on the row holding the unique value), so a swap of unique
// values inside one transaction is undone.
TEST_F(FlashbackTest, UniqueValuesSwappedInsideATransaction) {
  ASSERT_TRUE(server_->Execute("CREATE TABLE shop.u (id INT PRIMARY KEY, code VARCHAR(5) NOT NULL UNIQUE, n INT); "
                               "INSERT INTO shop.u VALUES (1,'a',1),(2,'b',2),(3,'c',3)")
                  .ok());
  start_ = Position(*server_);
  ASSERT_TRUE(server_->Execute("BEGIN; UPDATE shop.u SET code = 'tmp' WHERE id = 1; UPDATE shop.u SET code = 'a' "
                               "WHERE id = 2; UPDATE shop.u SET code = 'b' WHERE id = 1; UPDATE shop.u SET n = 0; "
                               "COMMIT")
                  .ok());
  stop_ = Position(*server_);
  auto r = RunSluice(fmt::format("flashback --source {} {} --print", ShellQuote(server_->Url()), Range()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("ON DUPLICATE KEY"), std::string::npos);
  auto path = std::filesystem::path(server_->dir()) / "undo.sql";
  std::ofstream(path, std::ios::binary) << r.out;
  ASSERT_EQ(Shell(Client(*server_) + " < " + ShellQuote(path.string())), 0);
  EXPECT_EQ(*server_->QueryValue("SELECT GROUP_CONCAT(id, code, n ORDER BY id) FROM shop.u"), "1a1,2b2,3c3");
}

// Generated columns (stored and virtual) are left to the server: the undo
// writes the columns they are computed from.
TEST_F(FlashbackTest, GeneratedColumnsAreComputedNotWritten) {
  ASSERT_TRUE(server_->Execute("CREATE TABLE shop.g (id INT PRIMARY KEY, a INT, b INT AS (a * 2) STORED, "
                               "c INT AS (a + 1) VIRTUAL, note VARCHAR(10)); INSERT INTO shop.g (id, a, note) "
                               "SELECT seq, seq, 'x' FROM seq_1_to_100")
                  .ok());
  ASSERT_TRUE(server_->Execute("CREATE TABLE shop.g0 AS SELECT id, a, b, c, note FROM shop.g").ok());  // the expected rows
  start_ = Position(*server_);
  ASSERT_TRUE(server_->Execute("UPDATE shop.g SET a = 0; DELETE FROM shop.g WHERE id > 50; INSERT INTO shop.g (id, a) "
                               "VALUES (1000, 7)")
                  .ok());
  stop_ = Position(*server_);
  std::string args = fmt::format("flashback --source {} {} ", ShellQuote(server_->Url()), Range());
  auto print = RunSluice(args + "--print");
  ASSERT_EQ(print.exit_code, 0) << print.err;
  EXPECT_NE(print.out.find("`a`="), std::string::npos);
  EXPECT_EQ(print.out.find("`b`="), std::string::npos);
  EXPECT_EQ(print.out.find("`c`="), std::string::npos);
  auto apply = RunSluice(args + "--apply " + ShellQuote(server_->Url()));
  ASSERT_EQ(apply.exit_code, 0) << apply.err;
  // (CHECKSUM TABLE is not stable over virtual columns: compared row by row with a copy.)
  EXPECT_EQ(*server_->QueryValue("SELECT COUNT(*) FROM shop.g"), "100");
  EXPECT_EQ(*server_->QueryValue("SELECT COUNT(*) FROM shop.g JOIN shop.g0 USING (id) WHERE g.a <=> g0.a AND "
                                 "g.b <=> g0.b AND g.c <=> g0.c AND g.note <=> g0.note COLLATE utf8mb4_bin"),
            "100");
  EXPECT_EQ(*server_->QueryValue("SELECT SUM(b) + SUM(c) FROM shop.g"), "15250");
}

// The same range undone by mariadb-binlog --flashback on a copy and by sluice
// on the original: both tables end equal to the one before the accident.
TEST_F(FlashbackTest, AgreesWithMariadbBinlogFlashback) {
  Accident();
  // The copy: the same statements (the data is deterministic), so the same
  // rows before and after the accident.
  auto copy = MariadbServer::Start({.server_id = 2, .relaxed_durability = true});
  ASSERT_TRUE(copy.ok()) << copy.status().message();
  ASSERT_TRUE((*copy)->Execute(kCreate).ok());
  ASSERT_TRUE((*copy)->Execute(Populate(5000)).ok());
  ASSERT_EQ(Checksum(**copy), before_);
  ASSERT_TRUE((*copy)->Execute(kAccident).ok());
  ASSERT_EQ(Checksum(**copy), after_);
  // mariadb-binlog undoes the original's range on the copy; sluice on the original.
  std::string binlog = server_->datadir() + "/" + File(start_);
  ASSERT_EQ(Shell(fmt::format("mariadb-binlog --flashback --start-position={} --stop-position={} {} | {}",
                              Offset(start_), Offset(stop_), ShellQuote(binlog), Client(**copy))),
            0);
  auto r = RunSluice(fmt::format("flashback --source {} {} --apply {}", ShellQuote(server_->Url()), Range(),
                                 ShellQuote(server_->Url())));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Checksum(**copy), before_);
  EXPECT_EQ(Checksum(*server_), before_);
}

}  // namespace
}  // namespace sluice::testing
