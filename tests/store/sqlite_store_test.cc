#include "store/sqlite_store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace sluice::store {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-store-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(SqliteStoreTest, CheckpointsSurviveReopen) {
  std::string path = (dir_ / "sub" / "sluice.db").string();
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_FALSE((*s)->LoadCheckpoint("p", "t")->has_value());
    ASSERT_TRUE((*s)->SaveCheckpoint("p", "t", {"binlog.000001:4#end", "binlog.000001:400", "0-1-3", 0}).ok());
    ASSERT_TRUE((*s)->SaveCheckpoint("p", "t", {"binlog.000001:400#end", "binlog.000001:800", "0-1-4", 0}).ok());
    ASSERT_TRUE((*s)->SetSetting("p", "start", "earliest").ok());
  }
  auto s = SqliteStore::Open(path);
  ASSERT_TRUE(s.ok());
  auto cp = (*s)->LoadCheckpoint("p", "t");
  ASSERT_TRUE(cp.ok());
  ASSERT_TRUE(cp->has_value());
  EXPECT_EQ((*cp)->applied, "binlog.000001:400#end");
  EXPECT_EQ((*cp)->resume_position, "binlog.000001:800");
  EXPECT_EQ((*cp)->gtid_state, "0-1-4");
  EXPECT_GT((*cp)->updated_ms, 0);
  EXPECT_EQ(*(*s)->GetSetting("p", "start").value(), "earliest");
  ASSERT_TRUE((*s)->DeleteSetting("p", "start").ok());
  EXPECT_FALSE((*s)->GetSetting("p", "start")->has_value());
  ASSERT_TRUE((*s)->ClearCheckpoints("p").ok());
  EXPECT_FALSE((*s)->LoadCheckpoint("p", "t")->has_value());
}

TEST_F(SqliteStoreTest, UnopenableFileIsAClearError) {
  std::filesystem::create_directories(dir_);
  auto s = SqliteStore::Open(dir_.string());  // a directory, not a file
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(dir_.string()), std::string::npos);
}

}  // namespace
}  // namespace sluice::store
