// The fencing vocabulary shared by sinks and the pipeline (design §10):
// the kFenced error's shape, the epoch's way from the pipeline to the sink,
// and the state names the API shows.
#include <gtest/gtest.h>

#include "pipeline/config.h"
#include "pipeline/controller.h"
#include "sink/fence.h"

namespace sluice::sink {
namespace {

TEST(Fence, ErrorNamesPipelineTargetAndBothEpochsAndIsNotRetryable) {
  SinkOptions o;
  o.pipeline = "orders";
  o.target = "search";
  o.epoch = 3;
  Status st = FencedError(o, 4, "fence row of _sluice.fences");
  EXPECT_EQ(st.code(), StatusCode::kFenced);
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("pipeline orders target search: epoch 3 is fenced off"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("epoch 4"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("_sluice.fences"), std::string::npos) << st.message();
}

TEST(Fence, UnknownNewerEpochIsSaidSo) {
  SinkOptions o;
  o.pipeline = "p";
  o.target = "k";
  o.epoch = 7;
  Status st = FencedError(o, 0, "Kafka fenced the transactional producer");
  EXPECT_NE(st.message().find("epoch 7 is fenced off"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("higher epoch"), std::string::npos) << st.message();
}

TEST(Fence, PipelineEpochReachesTheSinkOptions) {
  pipeline::PipelineConfig p;
  p.name = "p";
  pipeline::TargetConfig t;
  t.name = "t";
  EXPECT_EQ(pipeline::TargetSinkOptions(p, t).epoch, 0u);  // single process: no fencing
  p.epoch = 12;
  EXPECT_EQ(pipeline::TargetSinkOptions(p, t).epoch, 12u);
}

TEST(Fence, StateNames) {
  EXPECT_STREQ(pipeline::PipelineStateName(pipeline::PipelineState::kPaused), "paused");
  EXPECT_STREQ(pipeline::PipelineStateName(pipeline::PipelineState::kFenced), "fenced");
}

}  // namespace
}  // namespace sluice::sink
