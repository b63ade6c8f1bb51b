// MysqlLoader against a real MariaDB target, batch by batch (issue 9): the
// batches here are built by hand, so what one batch holds is exact, not left
// to the timing of a running pipeline.
//
//   on_error: stop -> the target holds exactly the transactions before the rejected one, in every partition
//   keyless tables -> a row found by FLOAT/DOUBLE/text values; one that matches nothing is an error
//   a hung target -> a bounded, retryable error naming the server; recovery exactly once

#include <gtest/gtest.h>

#include <signal.h>

#include <deque>
#include <set>
#include <thread>

#include "core/url.h"
#include "harness/mariadb_server.h"
#include "sink/merge.h"
#include "sink/mysql/mysql_loader.h"

namespace sluice::sink::mysql {
namespace {

using sluice::testing::MariadbServer;

class MysqlLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MariadbServer::Start({.server_id = 2});
    ASSERT_TRUE(s.ok()) << s.status().message();
    dst_ = std::move(s).value();
  }
  void TearDown() override {
    if (stopped_) ::kill(dst_->pid(), SIGCONT);
  }
  std::unique_ptr<MysqlLoader> Open(uint32_t parallel, const std::string& params = "") {
    auto url = Url::Parse(dst_->Url() + params);
    EXPECT_TRUE(url.ok());
    auto co = sluice::mysql::ConnectOptions::FromUrl(*url);
    EXPECT_TRUE(co.ok()) << co.status().message();
    LoaderOptions o;
    o.pipeline = "p";
    o.target = "dst";
    o.connect = *co;
    o.parallel = parallel;
    auto loader = MysqlLoader::Open(o);
    EXPECT_TRUE(loader.ok()) << loader.status().message();
    return loader.ok() ? std::move(loader).value() : nullptr;
  }
  TargetTablePtr Table(const std::string& db, const std::string& name, std::vector<std::string> columns,
                       std::vector<uint32_t> key) {
    auto t = std::make_shared<TargetTable>();
    t->db = db;
    t->table = name;
    t->columns = std::move(columns);
    t->key = std::move(key);
    t->source = db + "." + name;
    t->name_hash = TableNameHash(*t);
    return t;
  }
  // Source transaction `txn` (its start at offset 1000 + 100 * txn), row `index`.
  static StreamPos Pos(uint64_t txn, uint64_t index = 1) { return StreamPos{"binlog.000001", 1000 + 100 * txn, index}; }
  static BatchEnd EndOf(uint64_t txn) {
    return BatchEnd{StreamPos{"binlog.000001", 1000 + 100 * txn, StreamPos::kWholeTransaction},
                    "binlog.000001:" + std::to_string(1100 + 100 * txn), ""};
  }
  Value Text(std::string s) { return Value::Str(ValueKind::kText, texts_.emplace_back(std::move(s))); }
  SinkChange Change(SinkChange::Kind kind, const TargetTablePtr& t, std::vector<Value> values, StreamPos pos) {
    SinkChange c;
    c.kind = kind;
    c.table = t;
    c.values = std::move(values);
    c.pos = std::move(pos);
    return c;
  }
  std::string Ids(const std::string& table) {
    auto v = dst_->QueryValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM " + table);
    return v.ok() ? *v : "";
  }

  std::unique_ptr<MariadbServer> dst_;
  std::deque<std::string> texts_;  // the bytes text Values point at
  bool stopped_ = false;
};

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
