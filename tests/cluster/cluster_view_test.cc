#include "cluster/cluster_view.h"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

TEST(ClusterViewTest, EpochRecordRoundTrip) {
  EXPECT_EQ(EpochRecord("n1", 4294967450), R"({"epoch":4294967450,"owner":"n1"})");
  EXPECT_EQ(RecordedEpoch(EpochRecord("n1", 4294967450)), 4294967450);
}

TEST(ClusterViewTest, NoRecordIsEpochZero) {
  EXPECT_EQ(RecordedEpoch(""), 0);
  EXPECT_EQ(RecordedEpoch("{"), 0);
  EXPECT_EQ(RecordedEpoch(R"({"owner":"n1"})"), 0);
  EXPECT_EQ(RecordedEpoch(R"({"epoch":"7"})"), 0);
}

}  // namespace
}  // namespace sluice::cluster
