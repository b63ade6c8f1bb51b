// MysqlLoader against a real MariaDB target, batch by batch (issue 9): the
// batches here are built by hand, so what one batch holds is exact, not left
// to the timing of a running pipeline.
//
//   on_error: stop -> the target holds exactly the transactions before the rejected one, in every partition
//   keyless tables -> a row found by FLOAT/DOUBLE/text values; one that matches nothing is an error
//   a hung target -> a bounded, retryable error naming the server; recovery exactly once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <deque>
#include <set>
#include <thread>

#include "core/url.h"
#include "harness/mariadb_server.h"
#include "sink/merge.h"
#include "sink/mysql/loader_fixture.h"
#include "sink/mysql/mysql_loader.h"
#include "sink/mysql/sql_builder.h"

namespace sluice::sink::mysql {
namespace {

// One batch of 40 single-row transactions over 4 partitions; transaction 17
// is rejected. Every partition stops before it: ids 1..16 are applied and no
// later one, the global checkpoint resumes at transaction 17, and after the
// fix the same batch finishes exactly.
TEST_F(MysqlLoaderTest, StopAtRejectedTransactionCommitsNoLaterOne) {
  ASSERT_TRUE(
      dst_->Execute("CREATE DATABASE crm; CREATE TABLE crm.clients (id INT PRIMARY KEY, code VARCHAR(3))").ok());
  auto loader = Open(4);
  ASSERT_TRUE(loader);
  auto t = Table("crm", "clients", {"id", "code"}, {0});
  std::vector<SinkChange> batch;
  std::set<uint64_t> later_partitions;
  for (int id = 1; id <= 40; ++id) {
    batch.push_back(Change(SinkChange::Kind::kUpsert, t, {Value::Int(id), Text(id == 17 ? "toolong" : "ab")}, Pos(id)));
    if (id > 17) later_partitions.insert(KeyHash(batch.back()) % 4);
  }
  ASSERT_GE(later_partitions.size(), 3u);  // later transactions in other partitions than 17's
  Status st = loader->ApplyBatch(batch, EndOf(40));
  ASSERT_FALSE(st.ok());
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("id=17"), std::string::npos) << st.message();
  EXPECT_EQ(Ids("crm.clients"), "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16");
  EXPECT_EQ(loader->rows_applied(), 16u);
  EXPECT_EQ(loader->checkpoint().global.ToString(), Pos(17, 0).ToString());
  EXPECT_EQ(loader->checkpoint().resume_position, "binlog.000001:" + std::to_string(1000 + 100 * 17));

  // A restart (a new loader) after the fix resumes at transaction 17.
  ASSERT_TRUE(dst_->Execute("ALTER TABLE crm.clients MODIFY code VARCHAR(20)").ok());
  loader = Open(4);
  ASSERT_TRUE(loader);
  EXPECT_EQ(loader->checkpoint().global.ToString(), Pos(17, 0).ToString());
  ASSERT_TRUE(loader->ApplyBatch(batch, EndOf(40)).ok());
  auto n = dst_->QueryValue("SELECT COUNT(*) FROM crm.clients");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, "40");
  EXPECT_EQ(loader->rows_applied(), 24u);
}

// The global checkpoint row of a batch is not written in a transaction of
// its own: it rides in the next batch's first transaction, or WriteIdle
// writes it once the input is quiet. A crash before either (a new loader
// over the same target) replays the batch, and the partition rows keep every
// change, keyless ones included, from being applied twice.
TEST_F(MysqlLoaderTest, GlobalRowRidesWithTheNextBatchAndReplaysNothing) {
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.k (id INT PRIMARY KEY, v INT);"
                            "CREATE TABLE shop.l (id INT, v INT)")
                  .ok());
  auto keyed = Table("shop", "k", {"id", "v"}, {0});
  auto keyless = Table("shop", "l", {"id", "v"}, {});
  auto txn = [&](uint64_t n) {
    std::vector<SinkChange> out;
    for (int i = 1; i <= 8; ++i) {
      const int id = static_cast<int>(n) * 100 + i;
      out.push_back(Change(SinkChange::Kind::kInsert, i % 2 ? keyed : keyless, {Value::Int(id), Value::Int(id)},
                           Pos(n, static_cast<uint64_t>(i))));
    }
    return out;
  };
  auto global_row = [&] {
    auto v = dst_->QueryValue("SELECT position FROM _sluice.checkpoints WHERE pipeline = 'p' AND part = -1");
    return v.ok() ? *v : std::string("none");
  };
  auto count = [&] {
    auto v = dst_->QueryValue("SELECT (SELECT COUNT(*) FROM shop.k) + (SELECT COUNT(*) FROM shop.l)");
    return v.ok() ? *v : std::string("?");
  };
  auto loader = Open(4);
  ASSERT_TRUE(loader);
  ASSERT_TRUE(loader->ApplyBatch(txn(1), EndOf(1)).ok());
  EXPECT_EQ(global_row(), "none");  // kept back
  EXPECT_EQ(loader->checkpoint().global.ToString(), EndOf(1).pos.ToString());
  ASSERT_TRUE(loader->ApplyBatch(txn(2), EndOf(2)).ok());
  EXPECT_EQ(global_row(), EndOf(1).pos.ToString());  // carried by batch 2

  // "Crash": a new loader; the stream replays from the global row.
  loader = Open(4);
  ASSERT_TRUE(loader);
  EXPECT_EQ(loader->checkpoint().global.ToString(), EndOf(1).pos.ToString());
  ASSERT_TRUE(loader->ApplyBatch(txn(2), EndOf(2)).ok());
  EXPECT_EQ(count(), "16");
  EXPECT_EQ(loader->rows_applied(), 0u);  // every change of batch 2 was already there
  ASSERT_TRUE(loader->ApplyBatch(txn(3), EndOf(3)).ok());
  EXPECT_EQ(count(), "24");

  // Quiet: the pipeline calls WriteIdle, which writes the kept-back row once.
  ASSERT_TRUE(loader->WriteIdle().ok());
  EXPECT_EQ(global_row(), EndOf(3).pos.ToString());
  ASSERT_TRUE(dst_->Execute("DELETE FROM _sluice.checkpoints WHERE part = -1").ok());
  ASSERT_TRUE(loader->WriteIdle().ok());
  EXPECT_EQ(global_row(), "none");  // nothing kept back any more: no write
}

// Deletes beside inserts in another partition of the same small table: an
// IN list of keys would be a full scan there, waiting for the other
// partition's uncommitted rows while that partition waits for it to be
// ready to commit (a stall until innodb_lock_wait_timeout, every batch).
// Each delete is a lookup by key, so no partition ever waits for another.
TEST_F(MysqlLoaderTest, DeletesBesideInsertsInOtherPartitionsNeverWaitForThem) {
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.s (id INT PRIMARY KEY, v INT);"
                            "SET GLOBAL innodb_lock_wait_timeout = 5")
                  .ok());
  auto loader = Open(2);
  ASSERT_TRUE(loader);
  auto t = Table("shop", "s", {"id", "v"}, {0});
  auto lock_waits = [&] {
    auto rows = dst_->Query("SHOW GLOBAL STATUS LIKE 'Innodb_row_lock_waits'");
    return rows.ok() && !rows->empty() ? std::stoll((*rows)[0][1].value_or("-1")) : -1;
  };
  const int64_t waits_before = lock_waits();
  // Each round replaces the table's 12 rows: deletes of the previous
  // round's ids and inserts of new ones, spread over both partitions.
  for (uint64_t round = 1; round <= 12; ++round) {
    std::vector<SinkChange> batch;
    for (int i = 1; i <= 12; ++i) {
      const int id = static_cast<int>(round) * 100 + i;
      batch.push_back(Change(SinkChange::Kind::kInsert, t, {Value::Int(id), Value::Int(i)}, Pos(round, 2 * i - 1)));
      if (round > 1) {
        batch.push_back(
            Change(SinkChange::Kind::kDelete, t, {Value::Int(id - 100), Value::Int(i)}, Pos(round, 2 * i)));
      }
    }
    ASSERT_TRUE(loader->ApplyBatch(batch, EndOf(round)).ok()) << "round " << round;
  }
  EXPECT_EQ(Ids("shop.s"), "1201,1202,1203,1204,1205,1206,1207,1208,1209,1210,1211,1212");
  EXPECT_EQ(lock_waits(), waits_before);
}

// On MariaDB the loader sends upserts and deletes as bulk statements
// (prepared once, one round trip per slice): every type must land exactly as
// the same rows sent as SQL text (sql_builder.h) land, and a delete must find
// its row by a composite key of INT, VARCHAR and a 30-digit DECIMAL.
TEST_F(MysqlLoaderTest, BulkStatementsWriteExactlyWhatSqlTextWrites) {
  const std::string columns =
      "a INT NOT NULL, b VARCHAR(10) NOT NULL, d DECIMAL(30,10) NOT NULL, n INT NULL, dt DATETIME(3), "
      "ts TIMESTAMP(3) NULL, vb VARBINARY(20), bl BLOB, e ENUM('x','y','z'), st SET('p','q'), j JSON, f FLOAT, "
      "dbl DOUBLE, bt BIT(12), dte DATE, tm TIME(2), yr YEAR, u BIGINT UNSIGNED, txt TEXT CHARACTER SET latin1, "
      "g GEOMETRY NULL, PRIMARY KEY (a, b, d)";
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE ty; CREATE TABLE ty.bulk (" + columns + "); CREATE TABLE ty.text (" +
                            columns + ")")
                  .ok());
  const std::vector<std::string> names{"a", "b", "d", "n", "dt", "ts", "vb", "bl", "e", "st",
                                       "j", "f", "dbl", "bt", "dte", "tm", "yr", "u", "txt", "g"};
  auto bulk = Table("ty", "bulk", names, {0, 1, 2});
  auto text = Table("ty", "text", names, {0, 1, 2});
  auto str = [&](ValueKind k, std::string v) { return Value::Str(k, texts_.emplace_back(std::move(v))); };
  const std::string point("\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40", 21);
  auto row = [&](int a, const char* b, const char* d, int variant) {
    if (variant == 0) {
      return std::vector<Value>{Value::Int(a), Text(b), str(ValueKind::kDecimal, d), Value::Null(),
                                Value::Null(), Value::Null(), Value::Null(), Value::Null(), Value::Null(),
                                Value::Null(), Value::Null(), Value::Null(), Value::Null(), Value::Null(),
                                Value::Null(), Value::Null(), Value::Null(), Value::Null(), Value::Null(),
                                Value::Null()};
    }
    return std::vector<Value>{
        Value::Int(a), Text(b), str(ValueKind::kDecimal, d), Value::Int(-2147483648 + variant),
        str(ValueKind::kDateTime, variant == 1 ? "2024-01-31 12:34:56.789" : "9999-12-31 23:59:59.999"),
        str(ValueKind::kTimestamp, "2038-01-19 03:14:07.000"),
        str(ValueKind::kBytes, std::string("\x00\xff\x27\x5c\x0a", 5)), str(ValueKind::kBytes, ""),
        str(ValueKind::kEnum, variant == 1 ? "y" : "z"), str(ValueKind::kSet, "p,q"),
        str(ValueKind::kJson, "{\"k\": [1, 2.5, \"s\\\"'\"]}"), Value::Float(variant == 1 ? 0.1f : -3.4e38f),
        Value::Double(variant == 1 ? 3.141592653589793 : -2.5e-300), Value::Bit(variant == 1 ? 0xABC : 0),
        str(ValueKind::kDate, "1000-01-01"), str(ValueKind::kTime, variant == 1 ? "-838:59:59.99" : "00:00:00.01"),
        Value::Year(variant == 1 ? 1901 : 2155), Value::UInt(18446744073709551615ull),
        Text(variant == 1 ? "café\t'\\" : "x\ny"), str(ValueKind::kGeometry, point)};
  };
  // Both tables get the same changes: through the loader (bulk), and as the
  // SQL text the loader would otherwise send, on a session set up like its.
  auto apply_both = [&](const std::vector<std::tuple<SinkChange::Kind, int, const char*, const char*, int>>& spec,
                        uint64_t txn) {
    std::vector<SinkChange> batch, same;
    uint64_t i = 0;
    for (const auto& [kind, a, b, d, variant] : spec) {
      batch.push_back(Change(kind, bulk, row(a, b, d, variant), Pos(txn, ++i)));
      same.push_back(Change(kind, text, row(a, b, d, variant), Pos(txn, i)));
    }
    ASSERT_TRUE(loader_->ApplyBatch(batch, EndOf(txn)).ok());
    std::vector<const SinkChange*> upserts, deletes;
    for (const SinkChange& c : same) (c.kind == SinkChange::Kind::kDelete ? deletes : upserts).push_back(&c);
    std::string sql = "SET NAMES utf8mb4; SET time_zone = '+00:00'";
    if (!deletes.empty()) {
      sql += ";";
      ASSERT_TRUE(BuildDeleteEach(sql, *text, deletes).ok());
    }
    if (!upserts.empty()) {
      sql += ";";
      ASSERT_TRUE(BuildUpsert(sql, *text, upserts).ok());
    }
    ASSERT_TRUE(dst_->Execute(sql).ok()) << sql;
  };
  auto rows_of = [&](const char* table) {
    auto r = dst_->Query(fmt::format(
        "SELECT a, b, d, n, dt, ts, HEX(vb), HEX(bl), e, st, j, f, dbl, bt + 0, dte, tm, "
        "yr, u, HEX(txt), ST_AsText(g) FROM ty.{} ORDER BY a, b, d",
        table));
    EXPECT_TRUE(r.ok()) << r.status().message();
    std::string out;
    if (!r.ok()) return out;
    for (const auto& line : *r) {
      for (const auto& v : line) out += v.value_or("NULL") + "|";
      out += "\n";
    }
    return out;
  };
  auto status = [&](const char* name) {
    auto v = dst_->Query(fmt::format("SHOW GLOBAL STATUS LIKE '{}'", name));
    return v.ok() && !v->empty() ? std::stoll((*v)[0][1].value_or("0")) : -1;
  };
  // Prepared, and never redone in SQL text (which would hide a wrong bind).
  const int64_t prepares_before = status("Com_stmt_prepare");
  const int64_t redone_before = status("Com_rollback_to_savepoint");
  loader_ = Open(2);
  ASSERT_TRUE(loader_);
  using K = SinkChange::Kind;
  const char* big = "12345678901234567890.0123456789";
  apply_both({{K::kUpsert, 1, "a", big, 1},
              {K::kUpsert, 1, "a", "-0.0000000001", 2},
              {K::kUpsert, 2, "émoji😀", "0.0000000000", 0},
              {K::kUpsert, 3, "x", big, 2},
              {K::kUpsert, 4, "y", "1.0000000000", 1}},
             1);
  EXPECT_GT(status("Com_stmt_prepare"), prepares_before);
  const std::string first = rows_of("bulk");
  EXPECT_EQ(first, rows_of("text"));
  EXPECT_NE(first.find("12345678901234567890.0123456789|-2147483647|2024-01-31 12:34:56.789|"), std::string::npos)
      << first;
  EXPECT_NE(first.find("|18446744073709551615|636166E909275C|POINT(1 2)|"), std::string::npos) << first;
  // Updates (whole rows) and deletes by the whole composite key; a key one
  // digit off in the DECIMAL's 30 must not match.
  apply_both({{K::kUpsert, 1, "a", big, 2},
              {K::kDelete, 1, "a", "-0.0000000001", 0},
              {K::kDelete, 3, "x", "12345678901234567890.0123456788", 0},
              {K::kDelete, 2, "émoji😀", "0.0000000000", 0},
              {K::kUpsert, 5, "z", "-99999999999999999999.9999999999", 1}},
             2);
  const std::string second = rows_of("bulk");
  EXPECT_EQ(second, rows_of("text"));
  auto keys = dst_->QueryValue("SELECT GROUP_CONCAT(a ORDER BY a, b, d) FROM ty.bulk");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, "1,3,4,5");
  EXPECT_EQ(status("Com_rollback_to_savepoint"), redone_before);
}

// Rows whose values of one column bind differently (here an integer and a
// text for one VARCHAR column) cannot share a bulk statement: they go as
// SQL text, and land all the same.
TEST_F(MysqlLoaderTest, RowsThatCannotShareABulkStatementGoAsText) {
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.m (id INT PRIMARY KEY, v VARCHAR(10))").ok());
  loader_ = Open(1);
  ASSERT_TRUE(loader_);
  auto t = Table("shop", "m", {"id", "v"}, {0});
  std::vector<SinkChange> batch{Change(SinkChange::Kind::kUpsert, t, {Value::Int(1), Text("seven")}, Pos(1, 1)),
                                Change(SinkChange::Kind::kUpsert, t, {Value::Int(2), Value::Int(8)}, Pos(1, 2))};
  ASSERT_TRUE(loader_->ApplyBatch(batch, EndOf(1)).ok());
  auto v = dst_->QueryValue("SELECT GROUP_CONCAT(CONCAT(id, '=', v) ORDER BY id) FROM shop.m");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "1=seven,2=8");
}

// A snapshot builds the plain indexes of tables it creates at its end
// (`_sluice`.`deferred_indexes`). A DDL statement on such a table arriving
// before that end runs against the table with its indexes built: dropping
// one of them, or a column one covers, then does what it did on the source
// (instead of being skipped as done, or leaving an index the snapshot could
// not build). A record whose table the snapshot has not created yet stays.
TEST_F(MysqlLoaderTest, DdlOnATableWithDeferredIndexesBuildsThemFirst) {
  ASSERT_TRUE(dst_->Execute(
                      "CREATE DATABASE _sluice; CREATE TABLE _sluice.deferred_indexes (db VARCHAR(64) NOT NULL, "
                      "tbl VARCHAR(64) NOT NULL, ddl MEDIUMTEXT NOT NULL, PRIMARY KEY (db, tbl));"
                      "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, c INT, d INT);"
                      "CREATE TABLE shop.u (id INT PRIMARY KEY, c INT, d INT);"
                      "INSERT INTO _sluice.deferred_indexes VALUES "
                      "('shop', 't', 'ALTER TABLE `shop`.`t` ADD KEY `kc` (`c`), ADD KEY `kd` (`d`)'), "
                      "('shop', 'u', 'ALTER TABLE `shop`.`u` ADD KEY `kc` (`c`), ADD KEY `kcd` (`c`, `d`)'), "
                      "('shop', 'v', 'ALTER TABLE `shop`.`v` ADD KEY `kc` (`c`)')")
                  .ok());
  loader_ = Open(2);
  ASSERT_TRUE(loader_);
  auto ddl = [](std::string query, std::string table) {
    DdlChange d;
    d.db = "shop";
    d.query = std::move(query);
    d.target_db = "shop";
    d.target_table = std::move(table);
    return d;
  };
  auto indexes = [&](const char* table) {
    auto v = dst_->QueryValue(fmt::format("SELECT IFNULL(GROUP_CONCAT(DISTINCT INDEX_NAME ORDER BY INDEX_NAME), '') "
                                          "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'shop' AND "
                                          "TABLE_NAME = '{}'",
                                          table));
    return v.ok() ? *v : "?";
  };
  auto records = [&] {
    auto v = dst_->QueryValue("SELECT IFNULL(GROUP_CONCAT(tbl ORDER BY tbl), '') FROM _sluice.deferred_indexes");
    return v.ok() ? *v : "?";
  };
  ASSERT_TRUE(loader_->ApplyDdl(ddl("ALTER TABLE t DROP INDEX kc", "t"), EndOf(1)).ok());
  EXPECT_EQ(indexes("t"), "kd,PRIMARY");
  EXPECT_EQ(records(), "u,v");
  ASSERT_TRUE(loader_->ApplyDdl(ddl("ALTER TABLE u DROP COLUMN c", "u"), EndOf(2)).ok());
  EXPECT_EQ(indexes("u"), "kcd,PRIMARY");  // MariaDB drops the column from the index
  EXPECT_EQ(records(), "v");
  // Without a table named (here CREATE DATABASE): every record is built; v's
  // table does not exist yet, so its record stays for the snapshot's end.
  DdlChange create;
  create.query = "CREATE DATABASE other";
  ASSERT_TRUE(loader_->ApplyDdl(create, EndOf(3)).ok());
  EXPECT_EQ(records(), "v");
  ASSERT_TRUE(dst_->Execute("CREATE TABLE shop.v (id INT PRIMARY KEY, c INT)").ok());
  ASSERT_TRUE(loader_->ApplyDdl(ddl("ALTER TABLE v ADD COLUMN e INT", "v"), EndOf(4)).ok());
  EXPECT_EQ(indexes("v"), "kc,PRIMARY");
  EXPECT_EQ(records(), "");
}

// Keyless rows are found by every value: FLOAT as stored, text exactly. A
// row the target does not hold is divergence, an error, never silent.
TEST_F(MysqlLoaderTest, KeylessRowsAreMatchedExactlyOrTheChangeFails) {
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.f (f FLOAT, d DOUBLE, c VARCHAR(4) COLLATE "
                            "utf8mb4_general_ci, t INT)")
                  .ok());
  auto loader = Open(2);
  ASSERT_TRUE(loader);
  auto t = Table("shop", "f", {"f", "d", "c", "t"}, {});
  auto row = [&](float f, double d, const char* c, int v) {
    return std::vector<Value>{Value::Float(f), Value::Double(d), Text(c), Value::Int(v)};
  };
  using K = SinkChange::Kind;
  std::vector<SinkChange> insert{Change(K::kInsert, t, row(0.1f, 0.1, "a", 1), Pos(1, 1)),
                                 Change(K::kInsert, t, row(1.5f, 1e-300, "A", 1), Pos(1, 2)),
                                 Change(K::kInsert, t, row(0.123456789f, 1.5, "a ", 1), Pos(1, 3))};
  ASSERT_TRUE(loader->ApplyBatch(insert, EndOf(1)).ok());
  // The source's UPDATE f SET t = 2 on rows 1 and 3, as keyless updates come: delete exact + insert.
  std::vector<SinkChange> update{Change(K::kDeleteExact, t, row(0.1f, 0.1, "a", 1), Pos(2, 1)),
                                 Change(K::kInsert, t, row(0.1f, 0.1, "a", 2), Pos(2, 1)),
                                 Change(K::kDeleteExact, t, row(0.123456789f, 1.5, "a ", 1), Pos(2, 2)),
                                 Change(K::kInsert, t, row(0.123456789f, 1.5, "a ", 2), Pos(2, 2))};
  ASSERT_TRUE(loader->ApplyBatch(update, EndOf(2)).ok());
  auto rows = dst_->Query("SELECT CAST(f AS DOUBLE), d, HEX(c), t FROM shop.f ORDER BY 3, 1");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0][2].value_or(""), "41");  // 'A' untouched
  EXPECT_EQ((*rows)[0][3].value_or(""), "1");
  EXPECT_EQ((*rows)[1][2].value_or(""), "61");
  EXPECT_EQ((*rows)[1][3].value_or(""), "2");
  EXPECT_EQ((*rows)[2][2].value_or(""), "6120");
  EXPECT_EQ((*rows)[2][3].value_or(""), "2");

  // A row the target does not hold (t = 7 was never there).
  std::vector<SinkChange> missing{Change(K::kDeleteExact, t, row(1.5f, 1e-300, "A", 7), Pos(3, 1))};
  Status st = loader->ApplyBatch(missing, EndOf(3));
  ASSERT_FALSE(st.ok());
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("diverged"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("`shop`.`f`"), std::string::npos) << st.message();
  auto n = dst_->QueryValue("SELECT COUNT(*) FROM shop.f");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, "3");
}

// A target that stops answering (SIGSTOP) fails the batch within the read
// timeout, retryably, naming the server; after SIGCONT a reconnect applies
// the batch exactly once (keyless rows would show a second apply).
TEST_F(MysqlLoaderTest, HungTargetIsABoundedRetryableErrorThenExactlyOnce) {
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (n INT)").ok());
  auto loader = Open(2, "?read_timeout=2&write_timeout=2&connect_timeout=2");
  ASSERT_TRUE(loader);
  auto t = Table("shop", "a", {"n"}, {});
  std::vector<SinkChange> batch;
  for (int i = 1; i <= 5; ++i) batch.push_back(Change(SinkChange::Kind::kInsert, t, {Value::Int(i)}, Pos(i)));
  ASSERT_EQ(::kill(dst_->pid(), SIGSTOP), 0);
  stopped_ = true;
  auto t0 = std::chrono::steady_clock::now();
  Status st = loader->ApplyBatch(batch, EndOf(5));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15));
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.retryable()) << st.message();
  EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(dst_->port())), std::string::npos) << st.message();
  Status again = loader->Reconnect();
  EXPECT_FALSE(again.ok());
  EXPECT_TRUE(again.retryable()) << again.message();
  ASSERT_EQ(::kill(dst_->pid(), SIGCONT), 0);
  stopped_ = false;
  Status done;
  for (int attempt = 0; attempt < 20; ++attempt) {
    Status rc = loader->Reconnect();
    done = rc.ok() ? loader->ApplyBatch(batch, EndOf(5)) : rc;
    if (done.ok() || !done.retryable()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(done.ok()) << done.message();
  auto n = dst_->QueryValue("SELECT COUNT(*) FROM shop.a");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, "5");
}

}  // namespace
}  // namespace sluice::sink::mysql
