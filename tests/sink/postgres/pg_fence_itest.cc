// Fencing on a PostgreSQL target (design §10, sink/postgres/pg_fence.h):
// once an owner with a higher epoch opened the target, the former owner's
// writes fail with kFenced and write nothing, even a transaction it held
// open while the successor started. Keyless rows show any change applied
// twice.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/sync_point.h"
#include "core/url.h"
#include "harness/postgres_server.h"
#include "sink/fence_fixture.h"
#include "sink/postgres/pg_sink.h"

namespace sluice::sink::postgres {
namespace {

using fence_test::ApplyLikeThePipeline;
using fence_test::EndOf;
using fence_test::Txn;
using sluice::testing::PostgresServer;

class PgFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = PostgresServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status().message();
    pg_ = std::move(pg).value();
    ASSERT_TRUE(pg_->CreateUser("app", "pw").ok());
    ASSERT_TRUE(pg_->CreateDatabase("target", "app").ok());
    ASSERT_TRUE(pg_->Execute("CREATE SCHEMA shop AUTHORIZATION app; CREATE TABLE shop.t (id integer, v integer); "
                             "ALTER TABLE shop.t OWNER TO app",
                             "target")
                    .ok());
    table_ = fence_test::ShopTable(/*keyed=*/false);
  }
  void TearDown() override { SetSyncPointAction("pg.partition.before_commit", nullptr); }

  Result<std::unique_ptr<PgSink>> Open(uint64_t epoch, uint32_t parallel = 2) {
    auto url = Url::Parse(pg_->Url("app", "pw", "target"));
    EXPECT_TRUE(url.ok());
    auto co = sluice::postgres::ConnectOptions::FromUrl(*url);
    EXPECT_TRUE(co.ok());
    PgSinkOptions o;
    o.pipeline = "p";
    o.target = "dst";
    o.connect = *co;
    o.parallel = parallel;
    o.epoch = epoch;
    return PgSink::Open(o);
  }
  std::string Rows() {
    auto v = pg_->QueryValue("SELECT string_agg(id::text, ',' ORDER BY id) FROM shop.t", "target");
    return v.ok() ? *v : "?";
  }
  std::string GlobalCheckpoint() {
    auto v = pg_->QueryValue("SELECT position FROM _sluice.checkpoints WHERE pipeline = 'p' AND part = -1", "target");
    return v.ok() ? *v : "?";
  }

  std::unique_ptr<PostgresServer> pg_;
  TargetTablePtr table_;
};

TEST_F(PgFenceTest, SuccessorFencesTheFormerOwnerOut) {
  for (uint32_t parallel : {1u, 2u}) {
    SCOPED_TRACE(parallel);
    ASSERT_TRUE(pg_->Execute("TRUNCATE shop.t; DROP SCHEMA IF EXISTS _sluice CASCADE", "target").ok());
    auto first = Open(1, parallel);
    ASSERT_TRUE(first.ok()) << first.status().message();
    EXPECT_TRUE((*first)->fenced());
    ASSERT_TRUE((*first)->ApplyBatch(Txn(table_, 1, 1, 4), EndOf(1)).ok());
    ASSERT_TRUE((*first)->AdvanceCheckpoint(EndOf(2)).ok());

    auto second = Open(2, parallel);
    ASSERT_TRUE(second.ok()) << second.status().message();
    Status st = ApplyLikeThePipeline(**first, Txn(table_, 3, 5, 8), EndOf(3));
    EXPECT_EQ(st.code(), StatusCode::kFenced) << st.message();
    EXPECT_FALSE(st.retryable());
    EXPECT_NE(st.message().find("pipeline p target dst: epoch 1 is fenced off"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("epoch 2"), std::string::npos) << st.message();
    EXPECT_EQ((*first)->AdvanceCheckpoint(EndOf(4)).code(), StatusCode::kFenced);
    EXPECT_EQ(Rows(), "1,2,3,4");
    EXPECT_EQ(GlobalCheckpoint(), EndOf(2).pos.ToString());

    ASSERT_TRUE((*second)->ApplyBatch(Txn(table_, 3, 5, 8), EndOf(3)).ok());
    auto late = Open(1, parallel);
    ASSERT_FALSE(late.ok());
    EXPECT_EQ(late.status().code(), StatusCode::kFenced) << late.status().message();
    EXPECT_EQ(Rows(), "1,2,3,4,5,6,7,8");
    EXPECT_EQ(GlobalCheckpoint(), EndOf(3).pos.ToString());
  }
}

// A former owner stopped dead with its partition's rows written and the
// COMMIT not sent, while the successor opens: the successor terminates its
// backend instead of waiting, applies the same transaction, and the former
// owner's COMMIT fails: every row once.
TEST_F(PgFenceTest, TransactionHeldOpenByTheFormerOwnerNeverCommits) {
  auto first = Open(1);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE((*first)->ApplyBatch(Txn(table_, 1, 1, 2), EndOf(1)).ok());

  std::mutex mu;
  std::condition_variable cv;
  bool held = false, release = false;
  std::atomic<int> passes{0};
  SetSyncPointAction("pg.partition.before_commit", [&] {
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
  EXPECT_EQ(first_result.code(), StatusCode::kFenced) << first_result.message();
  EXPECT_EQ(Rows(), "1,2,3,4,5");
  EXPECT_EQ(GlobalCheckpoint(), EndOf(2).pos.ToString());
}

// Epoch 0 (one process): no fence is kept or read.
TEST_F(PgFenceTest, EpochZeroKeepsNoFence) {
  auto sink = Open(0);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  EXPECT_FALSE((*sink)->fenced());
  ASSERT_TRUE((*sink)->ApplyBatch(Txn(table_, 1, 1, 2), EndOf(1)).ok());
  auto fences = pg_->QueryValue("SELECT to_regclass('_sluice.fences') IS NULL", "target");
  ASSERT_TRUE(fences.ok());
  EXPECT_EQ(*fences, "t");
}

}  // namespace
}  // namespace sluice::sink::postgres
