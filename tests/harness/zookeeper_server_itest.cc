#include "harness/zookeeper_server.h"

#include <gtest/gtest.h>

#include "harness/tcp_forwarder.h"

namespace sluice::testing {
namespace {

TEST(ZookeeperServerTest, StandaloneServerRestarts) {
  auto zk = ZookeeperEnsemble::Start({1});
  ASSERT_TRUE(zk.ok()) << zk.status().message();
  auto mode = (*zk)->Mode(0);
  ASSERT_TRUE(mode.ok()) << mode.status().message();
  EXPECT_EQ(*mode, "standalone");
  ASSERT_TRUE((*zk)->Kill(0).ok());
  EXPECT_FALSE((*zk)->Mode(0).ok());
  Status restarted = (*zk)->StartServer(0);
  ASSERT_TRUE(restarted.ok()) << restarted.message();
  EXPECT_EQ(*(*zk)->Mode(0), "standalone");
  auto ruok = (*zk)->FourLetterWord(0, "ruok");
  ASSERT_TRUE(ruok.ok());
  EXPECT_EQ(*ruok, "imok");
}

TEST(ZookeeperServerTest, EnsembleOfThreeHasOneLeader) {
  auto zk = ZookeeperEnsemble::Start({3});
  ASSERT_TRUE(zk.ok()) << zk.status().message();
  int leaders = 0;
  for (int i = 0; i < 3; ++i) {
    auto mode = (*zk)->Mode(i);
    ASSERT_TRUE(mode.ok()) << mode.status().message();
    leaders += *mode == "leader";
  }
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ((*zk)->ConnectString().find("127.0.0.1:"), 0u);
}

}  // namespace
}  // namespace sluice::testing
