// The web console in a real browser (design §11): a `sluice run` with
// auth:, audit: and a pipeline between two real MariaDB servers, and
// tests/server/console/console_check.mjs driving Debian's headless Chromium
// through it: the login page (a wrong password, then the right one), live
// rows_applied on the overview matching the API while rows are written,
// Stop and Start from the pipeline page, the stop's audit line on the audit
// page, configuration validation and diff, and a viewer who is shown no
// action and refused one (403).
//
// Needs node and chromium (scripts/install-deps.sh): the test fails, never
// skips, without them. Chromium runs in node's process group, which the
// test kills at the end whatever happened. With SLUICE_CONSOLE_SCREENSHOTS
// set to a directory the script saves a PNG of each page there
// (scripts/console-screenshots.sh).

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/run_command.h"
#include "harness/process.h"
#include "pipeline/fault_fixture.h"
#include "server/auth/password.h"
#include "server/console/browser_check.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPassword = "pw-Console-5150";

class ConsoleTest : public FaultTest {};

TEST_F(ConsoleTest, LoginLiveValuesStopAuditAndViewerInChromium) {
  Result<std::string> mariadb = FindExecutable("mariadb");
  ASSERT_TRUE(mariadb.ok()) << mariadb.status().message();

  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  const std::string hash = *server::HashPassword(kPassword);
  http_port_ = FreePort();
  // A second target, a JSON-lines file, so that the pages show a line per target.
  std::string yaml = FaultConfig(dir_, http_port_, src_->Url(), dst_->Url());
  const std::string one_target = "targets: [dst]";
  ASSERT_NE(yaml.find(one_target), std::string::npos);
  yaml.replace(yaml.find(one_target), one_target.size(), "targets: [dst, archive]");
  yaml.replace(yaml.find("pipelines:"), 0,
               fmt::format("  archive: {{url: \"file://{}\"}}\n", (dir_ / "changes.jsonl").string()));
  WriteConfig(yaml +
              fmt::format(R"(auth:
  users:
    - {{name: alice, password_hash: "{0}", role: admin}}
    - {{name: vera, password_hash: "{0}", role: viewer}}
audit: {{path: {1}}}
)",
                          hash, (dir_ / "audit").string()));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();

  // What the script runs to write rows to the source: 25 audit rows a time.
  const Json write_argv = {*mariadb, "--socket=" + src_->socket_path(), "-uroot", "-D", "shop", "-e",
                           "INSERT INTO shop.audit SELECT seq, 'from the console test' FROM seq_1_to_25"};
  EXPECT_TRUE(RunBrowserCheck("server/console/console_check.mjs",
                              {fmt::format("SLUICE_URL=http://127.0.0.1:{}", http_port_), "SLUICE_PIPELINE=p",
                               "SLUICE_ADMIN=alice", "SLUICE_VIEWER=vera", std::string("SLUICE_PASSWORD=") + kPassword,
                               "SLUICE_WRITE_ARGV=" + write_argv.dump()},
                              (dir_ / "console_check.log").string()))
      << "sluice:\n" << sluice_->Log();

  // The API agrees with what the browser did: running again after Stop and
  // Start, and the trail holds alice's stop and vera's refused one.
  httplib::Client c("127.0.0.1", http_port_);
  c.set_basic_auth("vera", kPassword);
  httplib::Result status = c.Get("/api/pipelines/p/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(Json::parse(status->body).value("state", ""), "running") << status->body;
  std::string trail;
  for (const auto& e : fs::directory_iterator(dir_ / "audit")) trail += ReadWhole(e.path());
  bool stop = false, refused = false;
  std::istringstream lines(trail);
  for (std::string l; std::getline(lines, l);) {
    Json j = Json::parse(l);
    if (j["action"] != "pipeline.stop") continue;
    stop |= j["who"] == "alice" && j["result"] == "ok" && j["after"]["state"] == "stopped";
    refused |= j["who"] == "vera" && j["result"].get<std::string>().starts_with("refused: 403");
  }
  EXPECT_TRUE(stop) << trail;
  EXPECT_TRUE(refused) << trail;
  // The password hash stays out of the log (the browser checked the masked configuration page).
  EXPECT_EQ(sluice_->FullLog().find(hash), std::string::npos);
}

}  // namespace
}  // namespace sluice::testing
