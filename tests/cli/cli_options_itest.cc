// Command-line options operators expect (issue 9): `--log-level` before or
// after the command, with detail at debug; `sluice validate -c FILE`.

#include <sys/wait.h>

#include "cli/run_command.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class CliOptionsTest : public FaultTest {
 protected:
  void SetUpServers() {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    http_port_ = FreePort();
  }

  // Runs `sluice ARGS` as `run` until the pipeline applied some rows, stops
  // it and returns its log.
  std::string RunWith(const std::vector<std::string>& args, int first_txn) {
    std::string log = (dir_ / ("run-" + std::to_string(first_txn) + ".log")).string();
    std::vector<std::string> argv{SLUICE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    auto pid = SpawnProcess(argv, log);
    EXPECT_TRUE(pid.ok()) << pid.status().message();
    if (!pid.ok()) return "";
    EXPECT_TRUE(
        WaitUntil([&] { return TailOfFile(log, 0, 1 << 20).find(": started") != std::string::npos; }, seconds(20)))
        << TailOfFile(log);
    EXPECT_TRUE(Transactions(*src_, first_txn, 3).ok());
    EXPECT_TRUE(ConvergesExactly(first_txn + 2));
    auto st = StopProcess(*pid, SIGTERM, seconds(20));
    EXPECT_TRUE(st.ok() && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << TailOfFile(log);
    return TailOfFile(log, 0, 1 << 20);
  }
};

TEST_F(CliOptionsTest, LogLevelBeforeOrAfterTheCommand) {
  ASSERT_NO_FATAL_FAILURE(SetUpServers());
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url()));

  std::string after = RunWith({"run", "-c", config_, "--log-level", "debug"}, 1);
  EXPECT_NE(after.find("pipeline p target dst: applied "), std::string::npos) << after;
  EXPECT_NE(after.find(" debug "), std::string::npos) << after;

  std::string before = RunWith({"--log-level", "debug", "run", "-c", config_}, 4);
  EXPECT_NE(before.find("pipeline p target dst: applied "), std::string::npos) << before;

  // The default (info) leaves the per-batch lines out.
  std::string info = RunWith({"run", "-c", config_}, 7);
  EXPECT_EQ(info.find("pipeline p target dst: applied "), std::string::npos) << info;

  CommandResult bad = RunSluice("run -c " + ShellQuote(config_) + " --log-level chatty");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--log-level"), std::string::npos) << bad.err;
}

TEST_F(CliOptionsTest, ValidateChecksWithoutRunning) {
  ASSERT_NO_FATAL_FAILURE(SetUpServers());
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url()));
  CommandResult ok = RunSluice("validate -c " + ShellQuote(config_));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("valid (1 pipeline)"), std::string::npos) << ok.out;
  // Nothing ran: no store, nothing on the target.
  EXPECT_FALSE(std::filesystem::exists(dir_ / "sluice.db"));
  auto dbs =
      dst_->QueryValue("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('shop', '_sluice')");
  ASSERT_TRUE(dbs.ok());
  EXPECT_EQ(*dbs, "0");

  // A rule that matches no table of the source: found only by asking it.
  PipelineOptions o;
  o.tables = "      - match: \"shop.nope\"\n";
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), o));
  CommandResult bad = RunSluice("validate -c " + ShellQuote(config_));
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("matches no table on source src"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("invalid"), std::string::npos) << bad.err;

  // A file that does not parse.
  std::ofstream(config_) << "pipelines: [\n";
  bad = RunSluice("validate -c " + ShellQuote(config_) + " --log-level warn");
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;

  // validate works beside a running `sluice run` (which holds the store).
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url()));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ok = RunSluice("validate -c " + ShellQuote(config_));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

}  // namespace
}  // namespace sluice::testing
