#pragma once
// Runs the sluice binary (or any command) for CLI tests, capturing exit
// status, stdout and stderr.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadWhole(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

// `args` is appended to the sluice binary's path, already shell-quoted where needed.
inline CommandResult RunSluice(const std::string& args, int timeout_s = 120) {
  static int counter = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("sluice-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  std::string cmd = "timeout " + std::to_string(timeout_s) + " " + std::string(SLUICE_BINARY) + " " + args + " >" +
                    (dir / "out").string() + " 2>" + (dir / "err").string() + " </dev/null";
  int rc = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = ReadWhole(dir / "out");
  r.err = ReadWhole(dir / "err");
  std::filesystem::remove_all(dir);
  return r;
}

inline int CountLines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace sluice::testing
