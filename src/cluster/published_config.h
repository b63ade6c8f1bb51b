#pragma once
// The configuration the leading manager publishes for the nodes
// (/sluice/<cluster>/config): a revision number that only grows, and the
// YAML text exactly as validated, which each node parses with the same
// loader as `sluice run`.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::cluster {

struct PublishedConfig {
  int64_t revision = 0;  // > 0 once published
  std::string yaml;
};

// {"revision":N,"yaml":"..."}
std::string PublishedConfigToJson(const PublishedConfig& config);
[[nodiscard]] Result<PublishedConfig> PublishedConfigFromJson(std::string_view json);

}  // namespace sluice::cluster
