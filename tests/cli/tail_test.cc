// `sluice tail` as a user runs it, on the offline binlog fixtures (no server).

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/run_command.h"

namespace sluice::testing {
namespace {

std::string Fixture(const std::string& name) { return std::string(SLUICE_FIXTURES_DIR) + "/binlog/" + name; }

TEST(TailCliTest, HelpDocumentsEveryOption) {
  auto r = RunSluice("tail --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--source", "--start", "--format", "--tables", "--limit", "--server-id", "--heartbeat-ms",
                          "--no-verify-checksum", "--no-follow"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
}

TEST(TailCliTest, ReplaysABinlogFileAsJsonLines) {
  auto r = RunSluice("tail --source file://" + Fixture("canal-mysql-bin.000001"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CountLines(r.out), 95);
  auto first = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(first["table"], "testFile");
  // Keys in the contract's order.
  std::string line = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(line.rfind("{\"op\":", 0), 0u);
  EXPECT_LT(line.find("\"db\""), line.find("\"table\""));
  EXPECT_LT(line.find("\"after\""), line.find("\"ts_ms\""));
  EXPECT_LT(line.find("\"gtid\""), line.find("\"pos\""));
}

TEST(TailCliTest, LimitAndTableFilter) {
  auto r = RunSluice("tail --limit 3 --source file://" + Fixture("canal-mysql-bin.000001"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CountLines(r.out), 3);
  auto f = RunSluice("tail --tables 'erosa.testFile_*' --source file://" + Fixture("canal-mysql-bin.000001"));
  EXPECT_EQ(f.exit_code, 0) << f.err;
  EXPECT_GT(CountLines(f.out), 0);
  std::istringstream lines(f.out);
  for (std::string line; std::getline(lines, line);) {
    std::string table = nlohmann::json::parse(line)["table"];
    EXPECT_EQ(table.rfind("testFile_", 0), 0u) << table;
  }
}

TEST(TailCliTest, BadInputGivesOneLineErrors) {
  struct Case {
    std::string args;
    std::string expect;
  };
  for (const auto& c : std::vector<Case>{
           {"tail --source file://" + Fixture("mbcr-non-binlog"), "is not a binlog file"},
           {"tail --source file:///no/such/binlog.000001", "cannot open binlog file"},
           {"tail --source 'repl:secret@localhost'", "invalid URL"},
           {"tail --source 'mysql://root@127.0.0.1:70000'", "port"},
           {"tail --source 'redis://x@127.0.0.1'", "unsupported source URL scheme"},
           {"tail --start binlog.000001:4 --source 'postgres://x:secret@127.0.0.1'",
            "a PostgreSQL source starts at latest, earliest or an LSN"},
           {"tail --start 0/zz --source 'postgres://x:secret@127.0.0.1'", "invalid LSN \"0/zz\""},
           {"tail --source 'mysql://root@127.0.0.1:3306?tls=bogus'", "invalid tls"},
           {"tail --start yesterday --source 'mysql://root@127.0.0.1:3306'", "invalid start position"},
           {"tail --format avro --source file://" + Fixture("canal-mysql-bin.000001"), "--format avro"},
       }) {
    auto r = RunSluice(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_EQ(CountLines(r.err), 1) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.find("secret"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args;
  }
}

TEST(TailCliTest, UnreachableHostIsAOneLineError) {
  // Port 1 on loopback: nothing listens there.
  auto r = RunSluice("tail --source 'mysql://root:pw@127.0.0.1:1?connect_timeout=2'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cannot connect to root@127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("pw"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sluice::testing
