#include "sink/process_owner.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <random>

namespace sluice::sink {

const std::string& ProcessToken() {
  static const std::string token = [] {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
  }();
  return token;
}

const std::string& ProcessDescription() {
  static const std::string who = [] {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return fmt::format("{} pid {}", host[0] ? host : "?", getpid());
  }();
  return who;
}

std::chrono::milliseconds OwnerPingInterval(uint64_t takeover_after_ms) {
  if (takeover_after_ms == 0) return std::chrono::seconds(2);
  return std::chrono::milliseconds(std::clamp<uint64_t>(takeover_after_ms / 5, 100, 2000));
}

}  // namespace sluice::sink
