// `sluice passwd`: reads a password from standard input (without echo on a
// terminal, where it asks twice) and prints its argon2id hash alone, for
// `auth: users: [{password_hash: ...}]` (design §11).

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "server/auth/password.h"

namespace sluice::cli {
namespace {

// One line of standard input without its line end; echo off on a terminal.
bool ReadSecretLine(const char* prompt, std::string& out) {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "%s", prompt);
    std::fflush(stderr);
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  bool got = static_cast<bool>(std::getline(std::cin, out));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::fprintf(stderr, "\n");
  }
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return got || !out.empty();
}

int Passwd() {
  std::string password;
  if (!ReadSecretLine("Password: ", password) || password.empty()) {
    std::fprintf(stderr, "sluice passwd: error: no password on standard input\n");
    return 2;
  }
  if (::isatty(STDIN_FILENO) == 1) {
    std::string again;
    if (!ReadSecretLine("Again: ", again) || again != password) {
      std::fprintf(stderr, "sluice passwd: error: the passwords differ\n");
      return 2;
    }
  }
  Result<std::string> hash = server::HashPassword(password);
  if (!hash.ok()) {
    std::fprintf(stderr, "sluice passwd: error: %s\n", hash.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", hash->c_str());
  return 0;
}

}  // namespace

CommandRunner RegisterPasswd(CLI::App& app) {
  app.add_subcommand("passwd",
                     "Read a password from standard input (no echo on a terminal) and print its argon2id hash for "
                     "auth: users: password_hash");
  return [] { return Passwd(); };
}

}  // namespace sluice::cli
