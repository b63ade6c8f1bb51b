// Topic templates and the position record of the Kafka sink.

#include <gtest/gtest.h>

#include "sink/kafka/checkpoint_record.h"
#include "sink/kafka/topic_template.h"

namespace sluice::sink::kafka {
namespace {

TEST(KafkaTopicTest, ExpandsEveryPlaceholder) {
  EXPECT_EQ(ExpandTopic("${db}.${table}", "p", "shop", "orders"), "shop.orders");
  EXPECT_EQ(ExpandTopic("${pipeline}.ddl", "to_bus", "shop", ""), "to_bus.ddl");
  EXPECT_EQ(ExpandTopic("cdc-${pipeline}-${db}_${table}-${table}", "p", "a", "b"), "cdc-p-a_b-b");
  EXPECT_EQ(ExpandTopic("fixed", "p", "a", "b"), "fixed");
  EXPECT_EQ(ExpandTopic("${other}.${db", "p", "a", "b"), "${other}.${db");
}

TEST(KafkaTopicTest, RefusesWhatKafkaRefuses) {
  EXPECT_TRUE(CheckTopicName("shop.orders_2024-x").ok());
  EXPECT_FALSE(CheckTopicName("").ok());
  EXPECT_FALSE(CheckTopicName(".").ok());
  EXPECT_FALSE(CheckTopicName("..").ok());
  EXPECT_FALSE(CheckTopicName(std::string(250, 'a')).ok());
  EXPECT_TRUE(CheckTopicName(std::string(249, 'a')).ok());
  Status st = CheckTopicName("shop.order$");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("shop.order$"), std::string::npos) << st.message();
  EXPECT_FALSE(CheckTopicName("shop.caf\xc3\xa9").ok());
}

TEST(KafkaCheckpointRecordTest, RoundTrips) {
  BatchEnd end;
  end.pos = StreamPos{"binlog.000003", 1234, 7};
  end.resume_position = "binlog.000003:1234";
  end.gtid_state = "0-1-42";
  auto cp = DecodeCheckpoint(EncodeCheckpoint(end));
  ASSERT_TRUE(cp.ok()) << cp.status().message();
  EXPECT_EQ(cp->global.ToString(), "binlog.000003:1234#7");
  EXPECT_EQ(cp->resume_position, "binlog.000003:1234");
  EXPECT_EQ(cp->gtid_state, "0-1-42");

  end.pos.index = StreamPos::kWholeTransaction;
  cp = DecodeCheckpoint(EncodeCheckpoint(end));
  ASSERT_TRUE(cp.ok());
  EXPECT_TRUE(cp->global == end.pos);
  EXPECT_EQ(CheckpointKey("p", "bus"), "p/bus");
}

TEST(KafkaCheckpointRecordTest, RefusesForeignRecords) {
  EXPECT_FALSE(DecodeCheckpoint("not json").ok());
  EXPECT_FALSE(DecodeCheckpoint("{\"offset\":3}").ok());
  EXPECT_FALSE(DecodeCheckpoint("{\"pos\":\"garbage\"}").ok());
}

}  // namespace
}  // namespace sluice::sink::kafka
