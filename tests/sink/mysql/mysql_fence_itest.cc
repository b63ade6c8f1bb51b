// Fencing on a MySQL/MariaDB target (design §10, sink/mysql/fence.h): once
// an owner with a higher epoch opened the target, the former owner's writes
// fail with kFenced and write nothing, even a transaction it held open
// while the successor started. Keyless rows show any change applied twice.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/sync_point.h"
#include "core/url.h"
#include "harness/mariadb_server.h"
#include "sink/fence_fixture.h"
#include "sink/mysql/mysql_loader.h"

namespace sluice::sink::mysql {
namespace {

using fence_test::ApplyLikeThePipeline;
using fence_test::EndOf;
using fence_test::Txn;
using sluice::testing::MariadbServer;

class MysqlFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MariadbServer::Start({.server_id = 2});
    ASSERT_TRUE(s.ok()) << s.status().message();
    dst_ = std::move(s).value();
    ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT, v INT)").ok());
    table_ = fence_test::ShopTable(/*keyed=*/false);
  }
  void TearDown() override { SetSyncPointAction("mysql.partition.before_commit", nullptr); }

  Result<std::unique_ptr<MysqlLoader>> Open(uint64_t epoch, uint32_t parallel = 2) {
    auto url = Url::Parse(dst_->Url());
    EXPECT_TRUE(url.ok());
    auto co = sluice::mysql::ConnectOptions::FromUrl(*url);
    EXPECT_TRUE(co.ok());
    LoaderOptions o;
    o.pipeline = "p";
    o.target = "dst";
    o.connect = *co;
    o.parallel = parallel;
    o.epoch = epoch;
    return MysqlLoader::Open(o);
  }
  std::string Rows() {
    auto v = dst_->QueryValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM shop.t");
    return v.ok() ? *v : "?";
  }
  std::string GlobalCheckpoint() {
    auto v = dst_->QueryValue("SELECT position FROM _sluice.checkpoints WHERE pipeline = 'p' AND part = -1");
    return v.ok() ? *v : "?";
  }

  std::unique_ptr<MariadbServer> dst_;
  TargetTablePtr table_;
};

TEST_F(MysqlFenceTest, SuccessorFencesTheFormerOwnerOut) {
  auto first = Open(1);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE((*first)->fenced());
  ASSERT_TRUE((*first)->ApplyBatch(Txn(table_, 1, 1, 4), EndOf(1)).ok());
  ASSERT_TRUE((*first)->WriteIdle().ok());  // as the pipeline does once quiet

  auto second = Open(2);
  ASSERT_TRUE(second.ok()) << second.status().message();
  // The former owner's next write: its sessions were ended, and the ones it
  // reconnects with find the fence above its epoch.
  Status st = ApplyLikeThePipeline(**first, Txn(table_, 2, 5, 8), EndOf(2));
  EXPECT_EQ(st.code(), StatusCode::kFenced) << st.message();
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("pipeline p target dst: epoch 1 is fenced off"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("epoch 2"), std::string::npos) << st.message();
  EXPECT_EQ((*first)->AdvanceCheckpoint(EndOf(3)).code(), StatusCode::kFenced);
  EXPECT_EQ((*first)->ApplyDdlSql("shop", "CREATE TABLE shop.u (id INT)", EndOf(4)).code(), StatusCode::kFenced);
  EXPECT_EQ(Rows(), "1,2,3,4");
  EXPECT_EQ(GlobalCheckpoint(), EndOf(1).pos.ToString());

  // The successor goes on from the checkpoint; an owner of a lower epoch
  // cannot even open.
  EXPECT_EQ((*second)->checkpoint().global.ToString(), EndOf(1).pos.ToString());
  ASSERT_TRUE((*second)->ApplyBatch(Txn(table_, 2, 5, 8), EndOf(2)).ok());
  ASSERT_TRUE((*second)->WriteIdle().ok());
  auto late = Open(1);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kFenced) << late.status().message();
  EXPECT_EQ(Rows(), "1,2,3,4,5,6,7,8");
  EXPECT_EQ(GlobalCheckpoint(), EndOf(2).pos.ToString());
}

// A former owner stopped dead inside its transaction (rows written, the
// COMMIT not sent) while the successor opens: the successor does not wait
// for it (its session is ended), applies the same transaction, and the
// former owner's COMMIT then fails: every row once.
TEST_F(MysqlFenceTest, TransactionHeldOpenByTheFormerOwnerNeverCommits) {
  auto first = Open(1, 1);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE((*first)->ApplyBatch(Txn(table_, 1, 1, 2), EndOf(1)).ok());

  std::mutex mu;
  std::condition_variable cv;
  bool held = false, release = false;
  std::atomic<int> passes{0};
  SetSyncPointAction("mysql.partition.before_commit", [&] {
    if (passes++ != 0) return;  // only the former owner's first commit is held
    std::unique_lock lock(mu);
    held = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  Status first_result;
  std::thread former([&] { first_result = ApplyLikeThePipeline(**first, Txn(table_, 2, 3, 5), EndOf(2)); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return held; }));
  }
  auto second = Open(2);
  Status second_result = second.ok() ? (*second)->ApplyBatch(Txn(table_, 2, 3, 5), EndOf(2)) : second.status();
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  former.join();
  ASSERT_TRUE(second_result.ok()) << second_result.message();
  ASSERT_TRUE((*second)->WriteIdle().ok());
  EXPECT_EQ(first_result.code(), StatusCode::kFenced) << first_result.message();
  EXPECT_EQ(Rows(), "1,2,3,4,5");
  EXPECT_EQ(GlobalCheckpoint(), EndOf(2).pos.ToString());
}

// Epoch 0 (one process, no cluster): no fence is read or kept.
TEST_F(MysqlFenceTest, EpochZeroKeepsNoFence) {
  auto loader = Open(0);
  ASSERT_TRUE(loader.ok()) << loader.status().message();
  EXPECT_FALSE((*loader)->fenced());
  ASSERT_TRUE((*loader)->ApplyBatch(Txn(table_, 1, 1, 2), EndOf(1)).ok());
  auto tables = dst_->QueryValue(
      "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '_sluice' AND TABLE_NAME = 'fences'");
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, "0");
}

// A sequence's state is written outside the batch's transactions (MariaDB
// writes sequences so), in a transaction of its own that checks the fence
// first: it works for the owner, and a former owner never sets a sequence
// back once its successor took over.
TEST_F(MysqlFenceTest, AFormerOwnerNeverSetsASequenceBack) {
  ASSERT_TRUE(dst_->Execute("CREATE SEQUENCE shop.ids").ok());
  auto table = std::make_shared<TargetTable>();
  table->db = "shop";
  table->table = "ids";
  table->columns = {"next_not_cached_value", "minimum_value", "maximum_value", "start_value",
                    "increment",             "cache_size",    "cycle_option",  "cycle_count"};
  table->source = "shop.ids";
  table->name_hash = TableNameHash(*table);
  table->sequence = true;
  auto state = [&](int64_t next, uint64_t txn) {
    SinkChange c;
    c.kind = SinkChange::Kind::kInsert;
    c.table = table;
    c.values = {Value::Int(next), Value::Int(1), Value::Int(1000000), Value::Int(1),
                Value::Int(1),    Value::Int(10), Value::Int(0),      Value::Int(0)};
    c.pos = StreamPos{"binlog.000001", 1000 + 100 * txn, 1};
    return std::vector<SinkChange>{c};
  };
  auto next = [&] {
    auto v = dst_->QueryValue("SELECT next_not_cached_value FROM shop.ids");
    return v.ok() ? *v : "?";
  };
  auto first = Open(1);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE((*first)->takes_sequences());
  ASSERT_TRUE((*first)->ApplyBatch(state(500, 1), EndOf(1)).ok());
  EXPECT_EQ(next(), "500");
  auto second = Open(2);
  ASSERT_TRUE(second.ok()) << second.status().message();
  ASSERT_TRUE((*second)->ApplyBatch(state(900, 2), EndOf(2)).ok());
  Status st = ApplyLikeThePipeline(**first, state(600, 2), EndOf(2));
  EXPECT_EQ(st.code(), StatusCode::kFenced) << st.message();
  EXPECT_EQ(next(), "900");
}

}  // namespace
}  // namespace sluice::sink::mysql
