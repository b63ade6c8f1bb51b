// A target server that logs statements (binlog_format=STATEMENT, as an old
// primary with replicas of its own may): it refuses row writes made under
// READ COMMITTED, which the loader and the snapshot use, so sluice's sessions
// log their writes as rows. A user that may not do that is told which grant
// it lacks; once granted, starting the pipeline again is enough.

#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class TargetBinlogFormatTest : public SyncTest {
 protected:
  std::unique_ptr<MariadbServer> StartStatementLoggingServer() {
    MariadbServerOptions o;
    o.server_id = 2;
    o.extra_args = {"--binlog-format=STATEMENT"};
    auto s = MariadbServer::Start(o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  void WritePipeline(const MariadbServer& src, const std::string& dst_url) {
    http_port_ = FreePort();
    WriteConfig(HttpPipelineConfig(dir_.string(), http_port_, src, dst_url, "initial", "latest"));
  }
};

TEST_F(TargetBinlogFormatTest, RowsAreWrittenToATargetThatLogsStatements) {
  auto src = StartServer(1);
  auto dst = StartStatementLoggingServer();
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT); "
                           "INSERT INTO shop.a SELECT seq, seq FROM shop.seq_1_to_500")
                  .ok());
  WritePipeline(*src, dst->Url());
  StartSluice();
  const std::string q = "SELECT COUNT(*), SUM(v) FROM shop.a";
  ASSERT_TRUE(Converges(*src, q, *dst, q)) << sluice_->Log();  // the snapshot's chunks
  ASSERT_TRUE(src->Execute("UPDATE shop.a SET v = v + 1 WHERE id % 3 = 0; DELETE FROM shop.a WHERE id > 490; "
                           "INSERT INTO shop.a VALUES (1000, 1)")
                  .ok());
  EXPECT_TRUE(Converges(*src, q, *dst, q));  // the stream's batches
  auto format = dst->QueryValue("SELECT @@global.binlog_format");
  ASSERT_TRUE(format.ok());
  EXPECT_EQ(*format, "STATEMENT") << "the server's own setting is left alone";
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(TargetBinlogFormatTest, AUserThatMayNotLogItsSessionAsRowsIsToldWhichGrantItLacks) {
  auto src = StartServer(1);
  auto dst = StartStatementLoggingServer();
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT); "
                           "INSERT INTO shop.a VALUES (1, 1)")
                  .ok());
  ASSERT_TRUE(dst->Execute("CREATE USER app@'%' IDENTIFIED BY 'pw'; GRANT ALL ON shop.* TO app@'%'; "
                           "GRANT ALL ON _sluice.* TO app@'%'")
                  .ok());
  WritePipeline(*src, dst->Url("app", "pw"));
  StartSluice();
  ASSERT_TRUE(WaitForState("copy", "failed", seconds(30))) << sluice_->Log();
  const nlohmann::json status = PipelineStatus("copy");
  const std::string error = status.is_object() ? status.value("last_error", "") : "";
  EXPECT_NE(error.find("the server logs statements (binlog_format=STATEMENT)"), std::string::npos) << error;
  EXPECT_NE(error.find("grant it BINLOG ADMIN (MariaDB)"), std::string::npos) << error;
  ASSERT_TRUE(dst->Execute("GRANT BINLOG ADMIN ON *.* TO app@'%'").ok());
  EXPECT_EQ(HttpPost(http_port_, "/api/pipelines/copy/start").status, 200);
  ASSERT_TRUE(src->Execute("INSERT INTO shop.a VALUES (2, 2)").ok());
  EXPECT_TRUE(Converges(*src, "SELECT * FROM shop.a ORDER BY id", *dst, "SELECT * FROM shop.a ORDER BY id"));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
