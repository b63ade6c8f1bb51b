#include "cluster/pipeline_fingerprints.h"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

constexpr const char* kBase = R"(
sources:
  a: {url: "mysql://root@127.0.0.1:3306"}
  b: {url: "mysql://root@127.0.0.1:3307"}
targets:
  t: {url: "mysql://root@127.0.0.1:3308"}
  u: {url: "mysql://root@127.0.0.1:3309"}
pipelines:
  - name: p
    source: a
    targets: [t]
  - name: q
    source: b
    targets: [u]
)";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

TEST(PipelineFingerprintsTest, OnlyThePipelineWhoseEntrySourceOrTargetChangedDiffers) {
  auto base = PipelineFingerprints(kBase);
  ASSERT_EQ(base.size(), 2u);
  // q's source changed: only q differs.
  auto source = PipelineFingerprints(Replace(kBase, "3307", "3317"));
  EXPECT_EQ(source["p"], base["p"]);
  EXPECT_NE(source["q"], base["q"]);
  // p's target changed: only p differs.
  auto target = PipelineFingerprints(Replace(kBase, "3308", "3318"));
  EXPECT_NE(target["p"], base["p"]);
  EXPECT_EQ(target["q"], base["q"]);
  // Formatting alone changes nothing.
  auto spaced = PipelineFingerprints(Replace(kBase, "targets: [t]", "targets:\n      - t"));
  EXPECT_EQ(spaced, base);
}

TEST(PipelineFingerprintsTest, UnreadableTextGivesNone) {
  EXPECT_TRUE(PipelineFingerprints("pipelines: [").empty());
  EXPECT_TRUE(PipelineFingerprints("").empty());
}

}  // namespace
}  // namespace sluice::cluster
