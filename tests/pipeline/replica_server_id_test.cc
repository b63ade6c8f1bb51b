#include <gtest/gtest.h>

#include "pipeline/pipeline.h"

namespace sluice::pipeline {
namespace {

TEST(ReplicaServerIdTest, PipelinesOfOneSourceDifferByIndex) {
  EXPECT_EQ(ReplicaServerId(4242, 0, 0), 4242u);
  EXPECT_EQ(ReplicaServerId(4242, 3, 0), 4245u);
  EXPECT_EQ(ReplicaServerId(0, 3, 0), 0u);  // the source picks
}

TEST(ReplicaServerIdTest, SuccessiveOwnersOfAPipelineRegisterApart) {
  const uint32_t first = ReplicaServerId(4242, 1, 4294967317);
  const uint32_t next = ReplicaServerId(4242, 1, 4294967318);
  EXPECT_NE(first, next);
  EXPECT_NE(first, ReplicaServerId(4242, 1, 0));
  EXPECT_EQ(first & 0xFFFFFFu, 4243u);  // the configured id stays readable in the low bits
  EXPECT_NE(ReplicaServerId(0xFFFFFFFFu - 1, 1, 0), 0u);  // never wraps to "pick one"
}

}  // namespace
}  // namespace sluice::pipeline
