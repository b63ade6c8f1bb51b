#include "sink/process_owner.h"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <random>

namespace sluice::sink {

const std::string& ProcessToken() {
  static const std::string token = [] {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
  }();
  return token;
}

const std::string& ProcessHost() {
  static const std::string name = [] {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return std::string(host[0] ? host : "?");
  }();
  return name;
}

const std::string& ProcessDescription() {
  static const std::string who = fmt::format("{} pid {}", ProcessHost(), getpid());
  return who;
}

bool GoneFromThisHost(const std::string& host, const std::string& pid) {
  if (host != ProcessHost() || host == "?" || pid.empty()) return false;
  char* end = nullptr;
  long n = std::strtol(pid.c_str(), &end, 10);
  if (*end != '\0' || n <= 0) return false;
  return ::kill(static_cast<pid_t>(n), 0) != 0 && errno == ESRCH;
}

std::chrono::milliseconds OwnerPingInterval(uint64_t takeover_after_ms) {
  if (takeover_after_ms == 0) return std::chrono::seconds(2);
  return std::chrono::milliseconds(std::clamp<uint64_t>(takeover_after_ms / 5, 100, 2000));
}

}  // namespace sluice::sink
