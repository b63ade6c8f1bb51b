// The manager's revision rules (cluster/config_keeper.h) with a recording
// publisher in place of ZooKeeper (the real ensemble: manager_itest.cc).

#include "cluster/config_keeper.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

namespace sluice::cluster {
namespace {

std::string Yaml(const std::string& pipeline) {
  return "store: ./manager.db\n"
         "sources:\n"
         "  main: {url: \"mysql://repl@127.0.0.1:3306\"}\n"
         "targets:\n"
         "  copy: {url: \"mysql://app@127.0.0.1:3307\"}\n"
         "pipelines:\n"
         "  - name: " + pipeline + "\n"
         "    source: main\n"
         "    targets: [copy]\n"
         "    tables: [{match: \"shop.*\"}]\n";
}

// ZooKeeper's part: refuses a revision not newer than the published one.
struct FakeEnsemble {
  int64_t revision = 0;
  std::string yaml;
  int publishes = 0;
  bool down = false;
  ConfigKeeper::Publisher publisher() {
    return [this](int64_t r, const std::string& y) -> Status {
      if (down) return Status::Retryable(StatusCode::kIoError, "zookeeper unreachable");
      if (r <= revision) return Status::Error(StatusCode::kAborted, "revision {} is not newer than {}", r, revision);
      revision = r;
      yaml = y;
      ++publishes;
      return Status::Ok();
    };
  }
};

class ConfigKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-keeper-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<store::ConfigRevisions> OpenStore(const std::string& name) {
    auto r = store::ConfigRevisions::Open((dir_ / name).string());
    EXPECT_TRUE(r.ok()) << r.status().message();
    return std::move(*r);
  }
  std::string ConfigPath() const { return (dir_ / "cluster.yaml").string(); }

  std::filesystem::path dir_;
  FakeEnsemble zk_;
};

TEST_F(ConfigKeeperTest, TheFirstFileBecomesRevisionOneAndIsPublished) {
  auto store = OpenStore("m1.db");
  ConfigKeeper keeper(*store, ConfigPath(), Yaml("p1"), zk_.publisher());
  auto cur = keeper.Current();
  ASSERT_TRUE(cur.ok());
  EXPECT_EQ(cur->revision, 0);  // the file stands in before anything is recorded
  EXPECT_EQ(cur->config->pipelines.at(0).name, "p1");

  auto done = keeper.TakeOver();
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(zk_.revision, 1);
  EXPECT_EQ(zk_.yaml, Yaml("p1"));
  EXPECT_EQ(keeper.published(), 1);
  auto latest = store->Latest();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->revision, 1);
  EXPECT_EQ((*latest)->author, "file " + ConfigPath());
  EXPECT_EQ(keeper.Current()->revision, 1);

  // A second TakeOver (leadership lost and won again) changes nothing.
  ASSERT_TRUE(keeper.TakeOver().ok());
  EXPECT_EQ(zk_.publishes, 1);
}

TEST_F(ConfigKeeperTest, PutValidatesNumbersAndIsIdempotent) {
  auto store = OpenStore("m1.db");
  ConfigKeeper keeper(*store, ConfigPath(), Yaml("p1"), zk_.publisher());
  ASSERT_TRUE(keeper.TakeOver().ok());

  auto bad = keeper.Put(Yaml("p2") + "    sorce: main\n", "api", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(ConfigPath() + ":11:5: pipelines[0].sorce: unknown key"), std::string::npos)
      << bad.status().message();
  EXPECT_EQ(zk_.publishes, 1);

  auto put = keeper.Put(Yaml("p2"), "api", "add p2");
  ASSERT_TRUE(put.ok()) << put.status().message();
  EXPECT_TRUE(put->created);
  EXPECT_EQ(put->revision.revision, 2);
  EXPECT_EQ(put->revision.comment, "add p2");
  EXPECT_EQ(zk_.revision, 2);
  EXPECT_EQ(keeper.Current()->config->pipelines.at(0).name, "p2");

  auto same = keeper.Put(Yaml("p2"), "api", "again");
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->created);
  EXPECT_EQ(same->revision.revision, 2);
  EXPECT_EQ(zk_.publishes, 2);
}

TEST_F(ConfigKeeperTest, RollbackMakesANewRevisionWithTheOldText) {
  auto store = OpenStore("m1.db");
  ConfigKeeper keeper(*store, ConfigPath(), Yaml("p1"), zk_.publisher());
  ASSERT_TRUE(keeper.TakeOver().ok());
  ASSERT_TRUE(keeper.Put(Yaml("p2"), "api", "").ok());
  auto back = keeper.Rollback(1, "api", "");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->created);
  EXPECT_EQ(back->revision.revision, 3);
  EXPECT_EQ(back->revision.yaml, Yaml("p1"));
  EXPECT_EQ(back->revision.comment, "rollback to revision 1");
  EXPECT_EQ(zk_.revision, 3);
  auto missing = keeper.Rollback(9, "api", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(ConfigKeeperTest, ARefusedOrFailedPublishRecordsNothing) {
  auto store = OpenStore("m1.db");
  ConfigKeeper keeper(*store, ConfigPath(), Yaml("p1"), zk_.publisher());
  ASSERT_TRUE(keeper.TakeOver().ok());
  zk_.down = true;
  auto put = keeper.Put(Yaml("p2"), "api", "");
  ASSERT_FALSE(put.ok());
  EXPECT_TRUE(put.status().retryable());
  EXPECT_EQ((*store->Latest())->revision, 1);
  zk_.down = false;
  // Another manager published 2 meanwhile, unseen here: refused, nothing recorded.
  zk_.revision = 2;
  put = keeper.Put(Yaml("p3"), "api", "");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), StatusCode::kAborted);
  EXPECT_EQ((*store->Latest())->revision, 1);
  // Once seen, the numbering continues above it.
  ASSERT_TRUE(keeper.SawPublished(2, Yaml("p9")).ok());
  put = keeper.Put(Yaml("p3"), "api", "");
  ASSERT_TRUE(put.ok()) << put.status().message();
  EXPECT_EQ(put->revision.revision, 3);
}

TEST_F(ConfigKeeperTest, AFollowerRecordsWhatIsPublishedAndContinuesTheNumbering) {
  auto store1 = OpenStore("m1.db");
  auto store2 = OpenStore("m2.db");
  ConfigKeeper leader(*store1, ConfigPath(), Yaml("p1"), zk_.publisher());
  ConfigKeeper follower(*store2, ConfigPath(), Yaml("p1"), zk_.publisher());
  ASSERT_TRUE(leader.TakeOver().ok());
  ASSERT_TRUE(follower.SawPublished(zk_.revision, zk_.yaml).ok());
  ASSERT_TRUE(leader.Put(Yaml("p2"), "api", "").ok());
  ASSERT_TRUE(follower.SawPublished(zk_.revision, zk_.yaml).ok());
  ASSERT_TRUE(follower.SawPublished(zk_.revision, zk_.yaml).ok());  // twice: once recorded
  EXPECT_EQ(follower.Current()->revision, 2);
  EXPECT_EQ(follower.Current()->config->pipelines.at(0).name, "p2");
  EXPECT_EQ(store2->List()->size(), 2u);

  // The leader dies; the follower leads: its file (an old copy, never read
  // by it before) does not roll the cluster back.
  auto done = follower.TakeOver();
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(zk_.revision, 2);
  EXPECT_EQ(zk_.publishes, 2);
  auto put = follower.Put(Yaml("p3"), "api", "");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->revision.revision, 3);
}

TEST_F(ConfigKeeperTest, ARestartKeepsApiChangesUnlessTheFileWasEdited) {
  auto store = OpenStore("m1.db");
  {
    ConfigKeeper keeper(*store, ConfigPath(), Yaml("p1"), zk_.publisher());
    ASSERT_TRUE(keeper.TakeOver().ok());
    ASSERT_TRUE(keeper.Put(Yaml("p2"), "api", "").ok());
  }
  {
    ConfigKeeper same_file(*store, ConfigPath(), Yaml("p1"), zk_.publisher());
    ASSERT_TRUE(same_file.SawPublished(zk_.revision, zk_.yaml).ok());
    ASSERT_TRUE(same_file.TakeOver().ok());
    EXPECT_EQ(zk_.revision, 2);
    EXPECT_EQ(same_file.Current()->config->pipelines.at(0).name, "p2");
  }
  {
    ConfigKeeper edited(*store, ConfigPath(), Yaml("p4"), zk_.publisher());
    ASSERT_TRUE(edited.SawPublished(zk_.revision, zk_.yaml).ok());
    auto done = edited.TakeOver();
    ASSERT_TRUE(done.ok()) << done.status().message();
    EXPECT_EQ(zk_.revision, 3);
    EXPECT_EQ(zk_.yaml, Yaml("p4"));
  }
}

TEST_F(ConfigKeeperTest, ALeaderPublishesItsNewerRecordedRevision) {
  // Recorded here, but ZooKeeper lost it (a new ensemble): published again.
  auto store = OpenStore("m1.db");
  ASSERT_TRUE(store->Record({4, Yaml("p4"), 0, "api", ""}).ok());
  ASSERT_TRUE(store->SetNote(kFileNoteKey, Yaml("p4")).ok());
  ConfigKeeper keeper(*store, ConfigPath(), Yaml("p4"), zk_.publisher());
  ASSERT_TRUE(keeper.TakeOver().ok());
  EXPECT_EQ(zk_.revision, 4);
  EXPECT_EQ(zk_.yaml, Yaml("p4"));
}

}  // namespace
}  // namespace sluice::cluster
