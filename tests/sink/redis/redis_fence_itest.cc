// Fencing on a Redis target (design §10, sink/redis/redis_fence.h): once an
// owner with a higher epoch opened the target, the former owner's
// connections are closed and the ones it opens again find the fence
// raised: its writes fail with kFenced and write nothing.

#include <gtest/gtest.h>

#include "core/url.h"
#include "harness/redis_server.h"
#include "sink/fence_fixture.h"
#include "sink/redis/redis_sink.h"

namespace sluice::sink::redis {
namespace {

using fence_test::ApplyLikeThePipeline;
using fence_test::EndOf;
using fence_test::Txn;
using sluice::testing::RedisServer;

class RedisFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = RedisServer::Start();
    ASSERT_TRUE(r.ok()) << r.status().message();
    redis_ = std::move(r).value();
    table_ = fence_test::ShopTable(/*keyed=*/true);
  }
  Result<std::unique_ptr<RedisSink>> Open(uint64_t epoch) {
    SinkOptions o;
    o.pipeline = "p";
    o.target = "dst";
    auto url = Url::Parse(redis_->Url());
    EXPECT_TRUE(url.ok());
    o.url = *url;
    o.epoch = epoch;
    return RedisSink::Open(o);
  }
  // How many of the table's keys exist.
  long long Keys() {
    auto c = redis_->Connect();
    if (!c.ok()) return -1;
    auto r = (*c)->Command({"EVAL", "return #redis.call('KEYS', 'shop:t:*')", "0"});
    return r.ok() ? r->integer : -1;
  }
  std::string Position() {
    auto c = redis_->Connect();
    if (!c.ok()) return "?";
    auto r = (*c)->Command({"HGET", RedisSink::CheckpointKey("p", "dst"), "position"});
    return r.ok() ? r->str : "?";
  }

  std::unique_ptr<RedisServer> redis_;
  TargetTablePtr table_;
};

TEST_F(RedisFenceTest, SuccessorFencesTheFormerOwnerOut) {
  auto first = Open(1);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE((*first)->fenced());
  ASSERT_TRUE((*first)->ApplyBatch(Txn(table_, 1, 1, 4, SinkChange::Kind::kUpsert), EndOf(1)).ok());

  auto second = Open(2);
  ASSERT_TRUE(second.ok()) << second.status().message();
  Status st = ApplyLikeThePipeline(**first, Txn(table_, 2, 5, 8, SinkChange::Kind::kUpsert), EndOf(2));
  EXPECT_EQ(st.code(), StatusCode::kFenced) << st.message();
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("pipeline p target dst: epoch 1 is fenced off"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("epoch 2"), std::string::npos) << st.message();
  EXPECT_EQ(Keys(), 4);
  EXPECT_EQ(Position(), EndOf(1).pos.ToString());

  EXPECT_EQ((*second)->checkpoint().global.ToString(), EndOf(1).pos.ToString());
  ASSERT_TRUE((*second)->ApplyBatch(Txn(table_, 2, 5, 8, SinkChange::Kind::kUpsert), EndOf(2)).ok());
  auto late = Open(1);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kFenced) << late.status().message();
  EXPECT_EQ(Keys(), 8);
  EXPECT_EQ(Position(), EndOf(2).pos.ToString());
}

TEST_F(RedisFenceTest, EpochZeroKeepsNoFence) {
  auto sink = Open(0);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  EXPECT_FALSE((*sink)->fenced());
  ASSERT_TRUE((*sink)->ApplyBatch(Txn(table_, 1, 1, 2, SinkChange::Kind::kUpsert), EndOf(1)).ok());
  auto c = redis_->Connect();
  ASSERT_TRUE(c.ok());
  auto r = (*c)->Command({"EXISTS", "_sluice:fence:p"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->integer, 0);
}

}  // namespace
}  // namespace sluice::sink::redis
