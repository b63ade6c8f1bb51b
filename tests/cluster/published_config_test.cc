#include "cluster/published_config.h"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

TEST(PublishedConfig, RoundTripsAnyText) {
  PublishedConfig in{42, "pipelines:\n  - name: \"é\"\n    x: '\\u0000'\n"};
  auto out = PublishedConfigFromJson(PublishedConfigToJson(in));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->revision, 42);
  EXPECT_EQ(out->yaml, in.yaml);
}

TEST(PublishedConfig, RejectsWhatIsNotOne) {
  for (const char* bad : {"", "[]", "{\"revision\":\"1\",\"yaml\":\"\"}", "{\"revision\":1}", "{\"yaml\":\"x\"}"}) {
    auto out = PublishedConfigFromJson(bad);
    EXPECT_FALSE(out.ok()) << bad;
    if (!out.ok()) {
      EXPECT_EQ(out.status().code(), StatusCode::kCorruption);
    }
  }
}

}  // namespace
}  // namespace sluice::cluster
