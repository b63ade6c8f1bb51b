// The Kafka sink's producer thread (kafka_sink.h "Threads"): ApplyBatch
// hands a batch over and returns; a batch that fails on that thread makes a
// later call fail (retryable), the position stays behind it, and after
// Reconnect the failed batch is sent again before the ones handed over
// after it, in order (at least once: what timed out may be there twice). Against librdkafka's mock cluster
// with every broker down while the batch is in flight.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/url.h"
#include "harness/kafka_mock.h"
#include "sink/fence_fixture.h"
#include "sink/kafka/kafka_sink.h"

namespace sluice::sink::kafka {
namespace {

using fence_test::EndOf;
using fence_test::Txn;
using sluice::testing::KafkaMessage;
using sluice::testing::KafkaMock;
using sluice::testing::ReadTopic;

TEST(KafkaProducerThreadTest, AFailedBatchIsReportedLaterAndSentAgainInOrderAfterReconnect) {
  auto k = KafkaMock::Start();
  ASSERT_TRUE(k.ok()) << k.status().message();
  std::unique_ptr<KafkaMock> kafka = std::move(k).value();
  ASSERT_TRUE(kafka->CreateTopic("shop.t", 1).ok());
  TargetTablePtr table = fence_test::ShopTable(/*keyed=*/true);
  SinkOptions o;
  o.pipeline = "p";
  o.target = "bus";
  // Messages the brokers never answer fail after 2 s instead of 30.
  auto url = Url::Parse(kafka->Url() + "?message.timeout.ms=2000");
  ASSERT_TRUE(url.ok()) << url.status().message();
  o.url = *url;
  auto opened = KafkaSink::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  KafkaSink& sink = **opened;

  ASSERT_TRUE(sink.ApplyBatch(Txn(table, 1, 1, 4), EndOf(1)).ok());
  ASSERT_TRUE(sink.Flush().ok());
  EXPECT_EQ(sink.checkpoint().global.ToString(), EndOf(1).pos.ToString());

  for (int32_t broker = 1; broker <= 3; ++broker) ASSERT_TRUE(kafka->SetBrokerDown(broker).ok());
  // Handed over: the call returns before Kafka answers.
  ASSERT_TRUE(sink.ApplyBatch(Txn(table, 2, 5, 8), EndOf(2)).ok());
  EXPECT_TRUE(sink.in_flight());
  Status failed = Status::Ok();
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       failed.ok() && std::chrono::steady_clock::now() < deadline;) {
    failed = sink.Poll();
    if (failed.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(failed.ok()) << "the failed batch was never reported";
  EXPECT_TRUE(failed.retryable()) << failed.message();
  EXPECT_NE(failed.message().find("pipeline p target bus"), std::string::npos) << failed.message();
  EXPECT_EQ(sink.checkpoint().global.ToString(), EndOf(1).pos.ToString());
  EXPECT_TRUE(sink.in_flight());

  for (int32_t broker = 1; broker <= 3; ++broker) ASSERT_TRUE(kafka->SetBrokerUp(broker).ok());
  // What the pipeline does after a retryable error: Reconnect, then call
  // again (the brokers may take a few tries to be reached again).
  Status st = sink.Reconnect();
  ASSERT_TRUE(st.ok() || st.retryable()) << st.message();
  st = sink.ApplyBatch(Txn(table, 3, 9, 12), EndOf(3));
  for (int attempt = 0; attempt < 20 && !st.ok() && st.retryable(); ++attempt) {
    Status rc = sink.Reconnect();
    ASSERT_TRUE(rc.ok() || rc.retryable()) << rc.message();
    st = sink.ApplyBatch(Txn(table, 3, 9, 12), EndOf(3));
  }
  ASSERT_TRUE(st.ok()) << st.message();
  st = sink.Flush();
  for (int attempt = 0; attempt < 20 && !st.ok() && st.retryable(); ++attempt) {
    Status rc = sink.Reconnect();
    ASSERT_TRUE(rc.ok() || rc.retryable()) << rc.message();
    st = sink.Flush();
  }
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(sink.checkpoint().global.ToString(), EndOf(3).pos.ToString());
  EXPECT_FALSE(sink.in_flight());

  auto messages = ReadTopic(kafka->bootstraps(), "shop.t");
  ASSERT_TRUE(messages.ok()) << messages.status().message();
  // Every id once, in stream order (batch 2's messages ahead of batch 3's).
  std::vector<int> ids;
  for (const KafkaMessage& m : *messages) {
    ASSERT_TRUE(m.value.has_value());
    size_t at = m.value->find("\"id\":");
    ASSERT_NE(at, std::string::npos) << *m.value;
    ids.push_back(std::atoi(m.value->c_str() + at + 5));
  }
  // At least once: a message that timed out may have reached the broker
  // all the same, and is sent again with every later one. What was
  // recorded before the failure is not sent again, and the last message of
  // each key comes in stream order.
  ASSERT_GE(ids.size(), 12u);
  EXPECT_EQ(std::vector<int>(ids.begin(), ids.begin() + 4), (std::vector<int>{1, 2, 3, 4}));
  std::vector<int> last_of;  // ids in the order of their last message
  for (size_t i = 0; i < ids.size(); ++i) {
    if (std::find(ids.begin() + static_cast<std::ptrdiff_t>(i) + 1, ids.end(), ids[i]) == ids.end()) {
      last_of.push_back(ids[i]);
    }
  }
  std::vector<int> want;
  for (int id = 1; id <= 12; ++id) want.push_back(id);
  EXPECT_EQ(last_of, want) << ::testing::PrintToString(ids);
}

}  // namespace
}  // namespace sluice::sink::kafka
