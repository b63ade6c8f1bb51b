// MysqlLoader with batches in flight (ApplyBatchTakingOver, the pipeline's
// call): up to two batches on the partitions at once, each partition's two
// connections ("slots") taking turns.
//
//   a key changed in consecutive batches -> the later batch writes it after the earlier one (never before)
//   on_error: stop in a batch in flight -> the target holds exactly the transactions before the rejected one,
//                                          nothing of the batch behind it
//   a restart -> each partition's progress is the later of its two checkpoint rows: nothing replayed twice

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/sync_point.h"
#include "sink/mysql/loader_fixture.h"

namespace sluice::sink::mysql {
namespace {

class MysqlLoaderFlightTest : public MysqlLoaderTest {
 protected:
  void TearDown() override {
    SetSyncPointAction("mysql.partition.applies", nullptr);
    SetSyncPointAction("mysql.partition.before_commit", nullptr);
    MysqlLoaderTest::TearDown();
  }
  // Batch `b`: one upsert per id in `ids`, value b * 1000 + id, each its own
  // source transaction (b * 100 + index).
  std::vector<SinkChange> Batch(const TargetTablePtr& t, int b, int first_id, int last_id) {
    std::vector<SinkChange> out;
    for (int id = first_id; id <= last_id; ++id) {
      out.push_back(Change(SinkChange::Kind::kUpsert, t, {Value::Int(id), Value::Int(b * 1000 + id)},
                           Pos(static_cast<uint64_t>(b * 100 + id - first_id))));
    }
    return out;
  }
  static BatchEnd EndOfBatch(int b, int rows) { return EndOf(static_cast<uint64_t>(b * 100 + rows - 1)); }
  std::string Dump(const std::string& query) {
    auto v = dst_->QueryValue(query);
    return v.ok() ? *v : "error: " + v.status().message();
  }
};

TEST_F(MysqlLoaderFlightTest, ConsecutiveBatchesOfTheSameKeysSettleInOrder) {
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE crm; CREATE TABLE crm.k (id INT PRIMARY KEY, v INT)").ok());
  auto loader = Open(4);
  ASSERT_TRUE(loader);
  auto t = Table("crm", "k", {"id", "v"}, {0});
  for (int b = 1; b <= 6; ++b) {
    std::vector<SinkChange> batch = Batch(t, b, 1, 20);
    ASSERT_TRUE(loader->ApplyBatchTakingOver(batch, EndOfBatch(b, 20)).ok()) << "batch " << b;
    EXPECT_TRUE(batch.empty()) << "batch " << b << " was copied, not taken over";
    EXPECT_TRUE(loader->in_flight());
  }
  ASSERT_TRUE(loader->Flush().ok());
  EXPECT_FALSE(loader->in_flight());
  EXPECT_EQ(loader->checkpoint().global.ToString(), EndOfBatch(6, 20).pos.ToString());
  EXPECT_EQ(loader->rows_applied(), 120u);
  EXPECT_EQ(Dump("SELECT GROUP_CONCAT(v ORDER BY id) FROM crm.k"),
            "6001,6002,6003,6004,6005,6006,6007,6008,6009,6010,6011,6012,6013,6014,6015,6016,6017,6018,6019,6020");
  // Both slots wrote checkpoint rows (parts 4..7 are the second slot's).
  EXPECT_NE(Dump("SELECT COUNT(*) FROM _sluice.checkpoints WHERE part >= 4"), "0");

  // A restart reads each partition's later row: batch 6 again applies nothing.
  ASSERT_TRUE(loader->WriteIdle().ok());
  ASSERT_TRUE(dst_->Execute("UPDATE _sluice.checkpoints SET position = 'binlog.000001:1000#1' WHERE part = -1").ok());
  loader = Open(4);
  ASSERT_TRUE(loader);
  for (StreamPos done : loader->checkpoint().partitions) {
    EXPECT_EQ(done.ToString(), EndOfBatch(6, 20).pos.ToString());
  }
  std::vector<SinkChange> again = Batch(t, 6, 1, 20);
  ASSERT_TRUE(loader->ApplyBatch(again, EndOfBatch(6, 20)).ok());
  EXPECT_EQ(loader->rows_applied(), 0u);
}

// A batch's part of a partition writes its rows only after the batch before
// it voted on its own part: held before it writes, the earlier batch is
// never overtaken on the other slot's connection (the later value would be
// overwritten by the earlier one, or the two would wait on each other).
TEST_F(MysqlLoaderFlightTest, TheBatchBehindWaitsForThePartItFollows) {
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE crm; CREATE TABLE crm.k (id INT PRIMARY KEY, v INT)").ok());
  auto loader = Open(1);
  ASSERT_TRUE(loader);
  auto t = Table("crm", "k", {"id", "v"}, {0});
  std::mutex mu;
  std::condition_variable cv;
  int arrivals = 0;
  bool overtaken = false;
  SetSyncPointAction("mysql.partition.applies", [&] {
    std::unique_lock lock(mu);
    const int me = ++arrivals;
    cv.notify_all();
    if (me != 1) return;
    // The first batch holds here; the second must not get here meanwhile.
    overtaken = cv.wait_for(lock, std::chrono::milliseconds(700), [&] { return arrivals > 1; });
  });
  std::vector<SinkChange> first = Batch(t, 1, 1, 3);
  std::vector<SinkChange> second = Batch(t, 2, 1, 3);
  ASSERT_TRUE(loader->ApplyBatchTakingOver(first, EndOfBatch(1, 3)).ok());
  ASSERT_TRUE(loader->ApplyBatchTakingOver(second, EndOfBatch(2, 3)).ok());
  ASSERT_TRUE(loader->Flush().ok());
  SetSyncPointAction("mysql.partition.applies", nullptr);
  EXPECT_FALSE(overtaken);
  EXPECT_EQ(arrivals, 2);
  EXPECT_EQ(Dump("SELECT GROUP_CONCAT(v ORDER BY id) FROM crm.k"), "2001,2002,2003");
}

// on_error: stop in the second of three batches: the error comes from a
// later call (the batch was in flight), the target holds the first batch and
// the second's transactions before the rejected one, and nothing of the
// third, which was in flight behind it.
TEST_F(MysqlLoaderFlightTest, ARejectionInFlightStopsAtItsTransactionAndNothingBehindCommits) {
  ASSERT_TRUE(
      dst_->Execute("CREATE DATABASE crm; CREATE TABLE crm.clients (id INT PRIMARY KEY, code VARCHAR(3))").ok());
  auto loader = Open(4);
  ASSERT_TRUE(loader);
  auto t = Table("crm", "clients", {"id", "code"}, {0});
  auto batch = [&](int b, int first_id) {
    std::vector<SinkChange> out;
    for (int id = first_id; id < first_id + 20; ++id) {
      out.push_back(Change(SinkChange::Kind::kUpsert, t, {Value::Int(id), Text(id == 30 ? "toolong" : "ab")},
                           Pos(static_cast<uint64_t>(b * 100 + id - first_id))));
    }
    return out;
  };
  std::vector<SinkChange> a = batch(1, 1), b = batch(2, 21), c = batch(3, 41);
  ASSERT_TRUE(loader->ApplyBatchTakingOver(a, EndOfBatch(1, 20)).ok());
  ASSERT_TRUE(loader->ApplyBatchTakingOver(b, EndOfBatch(2, 20)).ok());
  ASSERT_TRUE(loader->ApplyBatchTakingOver(c, EndOfBatch(3, 20)).ok());  // settles the first batch
  Status st = loader->Flush();
  ASSERT_FALSE(st.ok());
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("id=30"), std::string::npos) << st.message();
  std::string want;
  for (int id = 1; id <= 29; ++id) want += (id > 1 ? "," : "") + std::to_string(id);
  EXPECT_EQ(Ids("crm.clients"), want);
  EXPECT_EQ(loader->checkpoint().global.ToString(), Pos(209, 0).ToString());  // id 30 is transaction 209
  EXPECT_TRUE(loader->in_flight());  // the rejected batch and the one behind it are not applied
  EXPECT_EQ(loader->rows_applied(), 29u);
}

// The target's sessions are cut while two batches fly, one partition of the
// first held at its COMMIT: the error surfaces as retryable from a later
// call; after Reconnect the retried call applies both batches, what had
// committed once and nothing twice (a keyless table would show a
// duplicate).
TEST_F(MysqlLoaderFlightTest, ALostConnectionInFlightIsRetriedExactlyOnce) {
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE crm; CREATE TABLE crm.k (id INT PRIMARY KEY, v INT);"
                            "CREATE TABLE crm.log (id INT, v INT)")
                  .ok());
  auto loader = Open(4);
  ASSERT_TRUE(loader);
  auto keyed = Table("crm", "k", {"id", "v"}, {0});
  auto keyless = Table("crm", "log", {"id", "v"}, {});
  auto batch = [&](int b) {
    std::vector<SinkChange> out;
    for (int i = 0; i < 20; ++i) {
      const int id = b * 100 + i;
      out.push_back(Change(SinkChange::Kind::kInsert, i % 2 ? keyed : keyless, {Value::Int(id), Value::Int(b)},
                           Pos(static_cast<uint64_t>(id))));
    }
    return out;
  };
  std::atomic<int> passes{0};
  SetSyncPointAction("mysql.partition.before_commit", [&] {
    if (passes++ != 1) return;  // the second partition to commit: some of the batch has committed
    // Every session but this test's own is ended, the one about to commit included.
    auto ids = dst_->Query("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND "
                           "COMMAND <> 'Daemon' AND USER = 'root'");
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    for (const auto& row : *ids) (void)dst_->Execute("KILL CONNECTION " + row[0].value_or("0"));
  });
  std::vector<SinkChange> a = batch(1), b = batch(2);
  ASSERT_TRUE(loader->ApplyBatchTakingOver(a, EndOfBatch(1, 20)).ok());
  ASSERT_TRUE(loader->ApplyBatchTakingOver(b, EndOfBatch(2, 20)).ok());
  Status st = loader->Flush();
  SetSyncPointAction("mysql.partition.before_commit", nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.retryable()) << st.message();
  EXPECT_TRUE(loader->in_flight());
  for (int attempt = 0; attempt < 5 && !st.ok(); ++attempt) {
    if (!loader->Reconnect().ok()) continue;
    st = loader->Flush();
  }
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FALSE(loader->in_flight());
  EXPECT_EQ(Dump("SELECT CONCAT(COUNT(*), ' ', SUM(v)) FROM crm.log"), "20 30");  // 10 rows of each batch, once
  EXPECT_EQ(Dump("SELECT CONCAT(COUNT(*), ' ', SUM(v)) FROM crm.k"), "20 30");
  EXPECT_EQ(loader->checkpoint().global.ToString(), EndOfBatch(2, 20).pos.ToString());
}

}  // namespace
}  // namespace sluice::sink::mysql
