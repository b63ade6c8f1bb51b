#include "store/config_revisions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/sqlite_store.h"

namespace sluice::store {
namespace {

class ConfigRevisionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-revisions-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    path_ = (dir_ / "sub" / "manager.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(ConfigRevisionsTest, RecordsListsAndSurvivesReopen) {
  {
    auto r = ConfigRevisions::Open(path_);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_FALSE((*r)->Latest()->has_value());
    ASSERT_TRUE((*r)->Record({1, "a: 1\n", 0, "file x.yaml", "first"}).ok());
    ASSERT_TRUE((*r)->Record({3, "a: 3\n", 0, "PUT /api/config", ""}).ok());
  }
  auto r = ConfigRevisions::Open(path_);
  ASSERT_TRUE(r.ok());
  auto latest = (*r)->Latest();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->revision, 3);
  EXPECT_EQ((*latest)->yaml, "a: 3\n");
  EXPECT_EQ((*latest)->author, "PUT /api/config");
  EXPECT_GT((*latest)->created_ms, 0);
  auto one = (*r)->Get(1);
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->comment, "first");
  EXPECT_FALSE((*r)->Get(2)->has_value());

  auto all = (*r)->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].revision, 3);  // newest first
  EXPECT_EQ((*all)[0].yaml, "");     // without texts unless asked
  EXPECT_EQ((*r)->List(1, true)->at(0).yaml, "a: 3\n");
  EXPECT_EQ((*r)->List(1)->size(), 1u);
}

TEST_F(ConfigRevisionsTest, ImportKeepsWhatIsKnownAndRecordReplacesAnImport) {
  auto r = ConfigRevisions::Open(path_);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*(*r)->Import({2, "b\n", 0, "seen", ""}));
  EXPECT_FALSE(*(*r)->Import({2, "other\n", 0, "seen", ""}));
  EXPECT_EQ((*(*r)->Get(2))->yaml, "b\n");
  ASSERT_TRUE((*r)->Record({2, "b\n", 0, "PUT", "why"}).ok());
  EXPECT_EQ((*(*r)->Get(2))->author, "PUT");
  EXPECT_FALSE((*r)->Record({0, "x", 0, "", ""}).ok());
}

TEST_F(ConfigRevisionsTest, NotesAndSharingTheFileWithTheStore) {
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok());
  auto r = ConfigRevisions::Open(path_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE((*r)->GetNote("k")->has_value());
  ASSERT_TRUE((*r)->SetNote("k", "v1").ok());
  ASSERT_TRUE((*r)->SetNote("k", "v2").ok());
  EXPECT_EQ(*(*r)->GetNote("k").value(), "v2");
  ASSERT_TRUE((*store)->SetSetting("p", "start", "latest").ok());
}

}  // namespace
}  // namespace sluice::store
