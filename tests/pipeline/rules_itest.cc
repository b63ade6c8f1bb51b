// Table rules are checked against the source's tables before anything runs
// (issue 9): a `where:`, `columns:` or `rename_columns:` naming a column the
// table lacks, or a `columns:` subset without the key, is a config error at
// file:line:col naming the key, and `sluice run` exits 2 having written
// nothing; a source user without SELECT is told so instead of "matches no
// table". Also: doubled "where: where:" prefixes are gone.

#include <fmt/format.h>

#include "cli/run_command.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

class RulesTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT, d DATETIME); "
                              "INSERT INTO shop.a VALUES (1, 1, NULL)")
                    .ok());
  }
  // A config whose one rule has `rule_lines` (each indented by 8) below its match.
  std::string Config(const std::string& rule_lines, const std::string& source_url = "") {
    return fmt::format(R"(store: {dir}/sluice.db
sources:
  main: {{url: "{src}", server_id: 5353, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: rules
    source: main
    targets: [dst]
    start: earliest
    tables:
      - match: "shop.*"
{rule}    batch: {{size: 100, timeout_ms: 50}}
)",
                       fmt::arg("dir", dir_.string()), fmt::arg("src", source_url.empty() ? src_->Url() : source_url),
                       fmt::arg("dst", dst_->Url()), fmt::arg("rule", rule_lines));
  }
  // "sluice.yaml:LINE:COL: " of the first `needle` in `yaml`.
  static std::string At(const std::string& yaml, const std::string& needle) {
    size_t pos = yaml.find(needle);
    size_t line_start = yaml.rfind('\n', pos);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    size_t line = 1 + std::count(yaml.begin(), yaml.begin() + static_cast<std::ptrdiff_t>(pos), '\n');
    return fmt::format("sluice.yaml:{}:{}: ", line, pos - line_start + 1);
  }
  // Runs `sluice run` on `yaml`; expects exit 2 and `want` on stderr, and
  // nothing written to the target.
  void ExpectConfigError(const std::string& yaml, const std::string& want) {
    WriteConfig(yaml);
    auto r = RunSluice("run -c " + config_, 60);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << "want: " << want << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.find("where: where:"), std::string::npos) << r.err;
    auto sluice_db = dst_->QueryValue("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '_sluice'");
    ASSERT_TRUE(sluice_db.ok());
    EXPECT_EQ(*sluice_db, "0") << "something ran";
  }

  std::unique_ptr<MariadbServer> src_, dst_;
};

TEST_F(RulesTest, WhereNamingAColumnTheTableLacksIsAConfigError) {
  std::string yaml = Config("        where: \"nope > 1\"\n");
  ExpectConfigError(yaml, At(yaml, "\"nope") +
                              "pipelines[0].tables[0].where: no column `nope` in source table "
                              "`shop`.`a` (its columns: id, v, d)");
}

TEST_F(RulesTest, WhereThatDoesNotBindToTheColumnTypesIsAConfigError) {
  std::string yaml = Config("        where: \"d > '2024-13-45'\"\n");
  ExpectConfigError(yaml, At(yaml, "\"d >") + "pipelines[0].tables[0].where: source table `shop`.`a`: ");
}

TEST_F(RulesTest, ColumnsNamingAColumnTheTableLacksIsAConfigError) {
  std::string yaml = Config("        to: \"s.${table}\"\n        columns: [id, nope]\n");
  ExpectConfigError(yaml, At(yaml, "[id, nope]") +
                              "pipelines[0].tables[0].columns: no column `nope` in source "
                              "table `shop`.`a`");
}

TEST_F(RulesTest, ColumnsSubsetWithoutTheKeyIsAConfigError) {
  std::string yaml = Config("        to: \"s.${table}\"\n        columns: [v]\n");
  ExpectConfigError(yaml, At(yaml, "[v]") +
                              "pipelines[0].tables[0].columns: the subset drops key column `id` of "
                              "source table `shop`.`a`; the key must stay");
}

TEST_F(RulesTest, RenameColumnsNamingAColumnTheTableLacksIsAConfigError) {
  std::string yaml = Config("        to: \"s.${table}\"\n        rename_columns: {nope: other}\n");
  ExpectConfigError(yaml, At(yaml, "{nope") +
                              "pipelines[0].tables[0].rename_columns: no column `nope` in source "
                              "table `shop`.`a`");
}

TEST_F(RulesTest, ASourceUserWithoutSelectIsToldTheMissingPrivilege) {
  ASSERT_TRUE(src_->Execute("CREATE USER 'repl'@'%' IDENTIFIED BY 'pw'; "
                            "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'")
                  .ok());
  std::string yaml = Config("", fmt::format("mysql://repl:pw@127.0.0.1:{}", src_->port()));
  ExpectConfigError(yaml, At(yaml, "\"shop.*\"") +
                              "pipelines[0].tables[0].match: \"shop.*\" matches no table on source main visible to "
                              "its user 'repl'@'%': the user lacks the SELECT privilege");
  WriteConfig(yaml);
  auto r = RunSluice("run -c " + config_, 60);
  EXPECT_NE(r.err.find("GRANT SELECT ON `shop`.* TO 'repl'@'%'"), std::string::npos) << r.err;
}

// A valid rule set still starts (the checks do not reject what works).
TEST_F(RulesTest, ValidSubsetRenameAndFilterStillRun) {
  WriteConfig(
      Config("        to: \"s.${table}\"\n        columns: [id, v]\n        rename_columns: {v: value}\n"
             "        where: \"v >= 1\"\n"));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.a VALUES (2, 0, NULL), (3, 3, NULL)").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT id, v FROM shop.a WHERE v >= 1 ORDER BY id", *dst_,
                        "SELECT id, value FROM s.a ORDER BY id"));
}

}  // namespace
}  // namespace sluice::testing
