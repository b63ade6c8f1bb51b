#pragma once
// Runs a console check script (Node, driving Debian's headless Chromium
// through cdp.mjs) for the console's integration tests, and ends its whole
// process group afterwards, so that no Chromium outlives the test. Fails,
// never skips, when node or the browser is missing.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "harness/process.h"

namespace sluice::testing {

// `script` relative to tests/ ("server/console/console_check.mjs"); `env`
// as NAME=VALUE. SLUICE_CONSOLE_SCREENSHOTS and CHROMIUM pass through.
// Success when the script exits 0 having printed "console check: ok".
inline ::testing::AssertionResult RunBrowserCheck(const std::string& script, std::vector<std::string> env,
                                                  const std::string& log_path) {
  Result<std::string> node = FindExecutable("node");
  if (!node.ok()) {
    return ::testing::AssertionFailure() << "node is needed for the console tests (scripts/install-deps.sh): "
                                         << node.status().message();
  }
  const char* chromium_env = std::getenv("CHROMIUM");
  const std::string chromium = chromium_env && *chromium_env ? chromium_env : "/usr/bin/chromium";
  if (::access(chromium.c_str(), X_OK) != 0) {
    return ::testing::AssertionFailure() << chromium << " is needed for the console tests (scripts/install-deps.sh)";
  }
  std::vector<std::string> argv = {"env", "CHROMIUM=" + chromium};
  if (const char* shots = std::getenv("SLUICE_CONSOLE_SCREENSHOTS"); shots && *shots) {
    argv.push_back(std::string("SLUICE_CONSOLE_SCREENSHOTS=") + shots);
  }
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(*node);
  argv.push_back(std::string(SLUICE_SOURCE_DIR) + "/../tests/" + script);
  Result<pid_t> pid = SpawnProcess(argv, log_path);
  if (!pid.ok()) return ::testing::AssertionFailure() << pid.status().message();
  // SpawnProcess made node a process group leader; Chromium and its helpers
  // are in that group.
  struct GroupKiller {
    pid_t pgid;
    ~GroupKiller() { ::kill(-pgid, SIGKILL); }
  } killer{*pid};
  Result<std::optional<int>> done = WaitForExit(*pid, std::chrono::seconds(120));
  const std::string output = TailOfFile(log_path, 0, 20000);
  if (!done.ok()) return ::testing::AssertionFailure() << done.status().message();
  if (!done->has_value()) {
    (void)StopProcess(*pid, SIGKILL, std::chrono::seconds(5));  // reaped; the group goes below
    return ::testing::AssertionFailure() << "the browser check did not finish in 120 s:\n" << output;
  }
  if (!WIFEXITED(**done) || WEXITSTATUS(**done) != 0 || output.find("console check: ok") == std::string::npos) {
    return ::testing::AssertionFailure() << DescribeWaitStatus(**done) << "\n" << output;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace sluice::testing
