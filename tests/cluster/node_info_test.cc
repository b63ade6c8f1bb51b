#include "cluster/node_info.h"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

TEST(NodeInfoTest, JsonRoundTrip) {
  NodeInfo in{"n1", {"heavy", "eu"}, "127.0.0.1:8711"};
  std::string json = NodeInfoToJson(in);
  EXPECT_EQ(json, R"({"http":"127.0.0.1:8711","id":"n1","labels":["heavy","eu"],"state":"online"})");
  auto out = NodeInfoFromJson(json);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->id, "n1");
  EXPECT_EQ(out->labels, in.labels);
  EXPECT_EQ(out->http, in.http);
  EXPECT_FALSE(out->draining);
  in.draining = true;
  EXPECT_TRUE(NodeInfoFromJson(NodeInfoToJson(in))->draining);
}

TEST(NodeInfoTest, BadJson) {
  EXPECT_FALSE(NodeInfoFromJson("{").ok());
  EXPECT_FALSE(NodeInfoFromJson(R"({"labels":[]})").ok());
  EXPECT_FALSE(NodeInfoFromJson(R"({"id":"n1","labels":"heavy"})").ok());
  EXPECT_FALSE(NodeInfoFromJson(R"({"id":"n1","labels":[1]})").ok());
}

TEST(NodeInfoTest, EligibleWithEveryRequiredLabel) {
  EXPECT_TRUE(IsEligible({"heavy", "eu"}, {}));
  EXPECT_TRUE(IsEligible({"heavy", "eu"}, {"eu", "heavy"}));
  EXPECT_FALSE(IsEligible({"heavy"}, {"heavy", "eu"}));
  EXPECT_EQ(MissingLabel({"heavy"}, {"heavy", "eu"}), "eu");
  EXPECT_FALSE(IsEligible({}, {"heavy"}));
}

}  // namespace
}  // namespace sluice::cluster
