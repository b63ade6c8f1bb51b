#include "cluster/names.h"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

TEST(ClusterNamesTest, Paths) {
  ClusterPaths p("prod");
  EXPECT_EQ(p.node("n1"), "/sluice/prod/nodes/n1");
  EXPECT_EQ(p.candidates("orders"), "/sluice/prod/pipelines/orders/candidates");
  EXPECT_EQ(p.PipelineOf("/sluice/prod/pipelines/orders/candidates/n1-1f-0000000003"), "orders");
  EXPECT_EQ(p.PipelineOf("/sluice/prod/nodes/n1"), "");
  EXPECT_EQ(p.PipelineOf("/sluice/prodx/pipelines/orders"), "");
}

TEST(ClusterNamesTest, SettingKeysBecomeNodeNamesAndBack) {
  EXPECT_EQ(ClusterPaths("prod").settings("orders"), "/sluice/prod/pipelines/orders/settings");
  // Schema history keys hold '/', table names may hold anything.
  for (std::string key : {std::string("selection"), std::string("schema_history/shop/orders"),
                          std::string("schema_history/caf\xc3\xa9/t 1%"), std::string("."), std::string(".."),
                          std::string("a.b-c_d"), std::string("")}) {
    const std::string name = SettingNodeName(key);
    EXPECT_EQ(name.find('/'), std::string::npos) << name;
    EXPECT_NE(name, ".");
    EXPECT_NE(name, "..");
    auto back = SettingKey(name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_EQ(*back, key);
  }
  EXPECT_EQ(SettingNodeName("schema_history/shop/orders"), "schema_history%2Fshop%2Forders");
  // Names it never makes: an unfinished escape, a lowercase one, a raw byte.
  for (std::string name : {"a%2", "a%zz", "a%2f", "a b"}) EXPECT_FALSE(SettingKey(name).has_value()) << name;
}

TEST(ClusterNamesTest, ValidateName) {
  EXPECT_TRUE(ValidateName("node id", "n-1.heavy_A").ok());
  EXPECT_FALSE(ValidateName("node id", "").ok());
  EXPECT_FALSE(ValidateName("node id", "..").ok());
  EXPECT_FALSE(ValidateName("node id", "a/b").ok());
  Status st = ValidateName("pipeline name", std::string("a\nb"));
  EXPECT_NE(st.message().find("pipeline name"), std::string::npos) << st.message();
}

TEST(ClusterNamesTest, CandidateNamesRoundTrip) {
  std::string name = CandidatePrefix("node-a-1", 0x10a2b3c4d5e6f708LL) + "0000000042";
  EXPECT_EQ(name, "node-a-1-10a2b3c4d5e6f708-0000000042");
  auto parsed = ParseCandidateName(name);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->node_id, "node-a-1");
  EXPECT_EQ(parsed->session_id, 0x10a2b3c4d5e6f708LL);
  EXPECT_EQ(parsed->sequence, 42);
  // Session ids use all 64 bits.
  auto high = ParseCandidateName(CandidatePrefix("n", -1) + "0000000001");
  ASSERT_TRUE(high);
  EXPECT_EQ(high->session_id, -1);
}

TEST(ClusterNamesTest, CandidateNamesThatDoNotParse) {
  EXPECT_FALSE(ParseCandidateName("junk"));
  EXPECT_FALSE(ParseCandidateName("n1-1f-00000000x3"));
  EXPECT_FALSE(ParseCandidateName("n1-zz-0000000003"));
  EXPECT_FALSE(ParseCandidateName("-1f-0000000003"));
  EXPECT_FALSE(ParseCandidateName("n1--0000000003"));
  EXPECT_FALSE(ParseCandidateName("n1-1f0000000003"));
}

TEST(ClusterNamesTest, LowestSequenceOwnsAndEachWatchesItsPredecessor) {
  // Sorted by sequence, not by name: "b" was created first.
  std::vector<std::string> names = {"a-1-0000000007", "b-2-0000000003", "c-3-0000000005", "stray"};
  ElectionView b = ViewElection(names, "b-2-0000000003");
  EXPECT_TRUE(b.present);
  EXPECT_TRUE(b.owner);
  EXPECT_EQ(b.predecessor, "");
  ElectionView c = ViewElection(names, "c-3-0000000005");
  EXPECT_FALSE(c.owner);
  EXPECT_EQ(c.predecessor, "b-2-0000000003");
  EXPECT_EQ(c.owner_name, "b-2-0000000003");
  ElectionView a = ViewElection(names, "a-1-0000000007");
  EXPECT_EQ(a.predecessor, "c-3-0000000005");
  ElectionView gone = ViewElection(names, "d-4-0000000009");
  EXPECT_FALSE(gone.present);
  EXPECT_FALSE(gone.owner);
  EXPECT_EQ(ViewElection({}, "x").owner_name, "");
}

}  // namespace
}  // namespace sluice::cluster
