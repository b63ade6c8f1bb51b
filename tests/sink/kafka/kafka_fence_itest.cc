// Fencing on a Kafka target with exactly_once (design §10): the successor's
// producer, with the same transactional.id, fences the former owner's
// inside Kafka; the former owner's next batch then fails with kFenced.
// librdkafka 2.0.2's mock cluster does not itself refuse the older
// producer epoch after a second InitProducerId (checked: its commit goes
// through), so the test has it answer the former owner's EndTxn with
// PRODUCER_FENCED, as a real broker does. Without exactly_once the sink is
// not fenced (the pipeline pauses it instead).

#include <gtest/gtest.h>

#include "core/url.h"
#include "harness/kafka_mock.h"
#include "sink/fence_fixture.h"
#include "sink/kafka/kafka_sink.h"

namespace sluice::sink::kafka {
namespace {

using fence_test::EndOf;
using fence_test::Txn;
using sluice::testing::KafkaMock;

class KafkaFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = KafkaMock::Start();
    ASSERT_TRUE(k.ok()) << k.status().message();
    kafka_ = std::move(k).value();
    ASSERT_TRUE(kafka_->CreateTopic("shop.t", 1).ok());
    table_ = fence_test::ShopTable(/*keyed=*/true);
  }
  Result<std::unique_ptr<KafkaSink>> Open(uint64_t epoch, bool exactly_once = true) {
    SinkOptions o;
    o.pipeline = "p";
    o.target = "bus";
    auto url = Url::Parse(kafka_->Url());
    EXPECT_TRUE(url.ok());
    o.url = *url;
    o.exactly_once = exactly_once;
    o.epoch = epoch;
    return KafkaSink::Open(o);
  }
  // Applies and waits until it is recorded, like the pipeline when idle.
  static Status ApplyAndFlush(KafkaSink& sink, const std::vector<SinkChange>& batch, const BatchEnd& end) {
    Status st = sink.ApplyBatch(batch, end);
    if (st.ok()) st = sink.Flush();
    return st;
  }
  std::unique_ptr<KafkaMock> kafka_;
  TargetTablePtr table_;
};

TEST_F(KafkaFenceTest, SuccessorFencesTheFormerOwnerOut) {
  auto first = Open(1);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE((*first)->fenced());
  ASSERT_TRUE(ApplyAndFlush(**first, Txn(table_, 1, 1, 4), EndOf(1)).ok());

  auto second = Open(2);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ((*second)->checkpoint().global.ToString(), EndOf(1).pos.ToString());
  kafka_->PushRequestErrors(sluice::testing::kafka_api::kEndTxn, {RD_KAFKA_RESP_ERR_PRODUCER_FENCED});
  Status st = ApplyAndFlush(**first, Txn(table_, 2, 5, 8), EndOf(2));
  EXPECT_EQ(st.code(), StatusCode::kFenced) << st.message();
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("pipeline p target bus: epoch 1 is fenced off"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("transactional.id"), std::string::npos) << st.message();

  ASSERT_TRUE(ApplyAndFlush(**second, Txn(table_, 2, 5, 8), EndOf(2)).ok());
  EXPECT_EQ((*second)->checkpoint().global.ToString(), EndOf(2).pos.ToString());
}

// Once fenced, the former owner's producer stays fenced: a Reconnect (the
// pipeline's answer to a retryable error, which a fenced producer may also
// report first) must not make a new producer, whose init_transactions would
// take the transactional.id back and fence the successor in turn.
TEST_F(KafkaFenceTest, AFencedProducerIsNotMadeAgainOnReconnect) {
  auto first = Open(1);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(ApplyAndFlush(**first, Txn(table_, 1, 1, 4), EndOf(1)).ok());
  auto second = Open(2);
  ASSERT_TRUE(second.ok()) << second.status().message();
  kafka_->PushRequestErrors(sluice::testing::kafka_api::kEndTxn, {RD_KAFKA_RESP_ERR_PRODUCER_FENCED});
  ASSERT_EQ(ApplyAndFlush(**first, Txn(table_, 2, 5, 8), EndOf(2)).code(), StatusCode::kFenced);

  Status st = (*first)->Reconnect();
  EXPECT_EQ(st.code(), StatusCode::kFenced) << st.message();
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("not making a new producer"), std::string::npos) << st.message();
  st = ApplyAndFlush(**first, Txn(table_, 2, 5, 8), EndOf(2));
  EXPECT_EQ(st.code(), StatusCode::kFenced) << st.message();
  ASSERT_TRUE(ApplyAndFlush(**second, Txn(table_, 2, 5, 8), EndOf(2)).ok());
  EXPECT_EQ((*second)->checkpoint().global.ToString(), EndOf(2).pos.ToString());
}

TEST_F(KafkaFenceTest, WithoutExactlyOnceNotFenced) {
  auto sink = Open(1, /*exactly_once=*/false);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  EXPECT_FALSE((*sink)->fenced());
  auto zero = Open(0);
  ASSERT_TRUE(zero.ok()) << zero.status().message();
  EXPECT_FALSE((*zero)->fenced());
}

}  // namespace
}  // namespace sluice::sink::kafka
