#include "cluster/published_config.h"

#include <nlohmann/json.hpp>

namespace sluice::cluster {

std::string PublishedConfigToJson(const PublishedConfig& config) {
  return nlohmann::json{{"revision", config.revision}, {"yaml", config.yaml}}.dump();
}

Result<PublishedConfig> PublishedConfigFromJson(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("revision") || !j["revision"].is_number_integer() ||
      !j.contains("yaml") || !j["yaml"].is_string()) {
    return Status::Corruption("published configuration: expected {{\"revision\":N,\"yaml\":\"...\"}}, got {:.200}",
                              json);
  }
  return PublishedConfig{j["revision"].get<int64_t>(), j["yaml"].get<std::string>()};
}

}  // namespace sluice::cluster
