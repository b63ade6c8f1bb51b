// A target user granted only the application's tables (the usual production
// grant) is refused on the target's `_sluice` database, where sluice keeps
// its checkpoints. The pipeline fails saying which grant is missing and what
// to do then; once granted, starting the pipeline again is enough. The
// replayed history (start: earliest) holds CREATE DATABASE of a database the
// user may use but not create: it exists, so it is skipped.

#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

std::string ErrorOf(const nlohmann::json& status) {
  return status.is_object() ? status.value("last_error", "") : "";
}

class TargetGrantsTest : public SyncTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(TargetGrantsTest, AMissingGrantOnSluicesDatabaseIsNamedThenGrantingIsEnough) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT); "
                           "INSERT INTO shop.a VALUES (1, 1)")
                  .ok());
  ASSERT_TRUE(dst->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT); "
                           "CREATE USER app@'%' IDENTIFIED BY 'pw'; "
                           "GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO app@'%'")
                  .ok());
  http_port_ = FreePort();
  WriteConfig(HttpPipelineConfig(dir_.string(), http_port_, *src, dst->Url("app", "pw"), GetParam(), "earliest"));
  StartSluice();
  ASSERT_TRUE(WaitForState("copy", "failed", seconds(30))) << sluice_->Log();
  std::string error = ErrorOf(PipelineStatus("copy"));
  EXPECT_NE(error.find("Access denied"), std::string::npos) << error;
  EXPECT_NE(error.find("GRANT ALL ON `_sluice`.*"), std::string::npos) << error;
  ASSERT_TRUE(dst->Execute("GRANT ALL ON _sluice.* TO app@'%'").ok());
  EXPECT_EQ(HttpPost(http_port_, "/api/pipelines/copy/start").status, 200);
  ASSERT_TRUE(src->Execute("INSERT INTO shop.a VALUES (2, 2)").ok());
  EXPECT_TRUE(Converges(*src, "SELECT * FROM shop.a ORDER BY id", *dst, "SELECT * FROM shop.a ORDER BY id"));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

INSTANTIATE_TEST_SUITE_P(Snapshot, TargetGrantsTest, ::testing::Values("initial", "never"));

}  // namespace
}  // namespace sluice::testing
