#include "sink/kafka/checkpoint_record.h"

#include <nlohmann/json.hpp>

namespace sluice::sink::kafka {

std::string CheckpointKey(std::string_view pipeline, std::string_view target) {
  return std::string(pipeline) + "/" + std::string(target);
}

std::string EncodeCheckpoint(const BatchEnd& end) {
  nlohmann::json j = {
      {"pos", end.pos.ToString()}, {"resume_position", end.resume_position}, {"gtid_state", end.gtid_state}};
  return j.dump();
}

Result<Checkpoint> DecodeCheckpoint(std::string_view value) {
  auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("pos") || !j["pos"].is_string()) {
    return Status::Corruption("checkpoint record is not a sluice checkpoint: {}", value.substr(0, 200));
  }
  Checkpoint c;
  if (!StreamPos::Parse(j["pos"].get<std::string>(), &c.global)) {
    return Status::Corruption("checkpoint record has a bad position: {}", value.substr(0, 200));
  }
  c.resume_position = j.value("resume_position", "");
  c.gtid_state = j.value("gtid_state", "");
  return c;
}

}  // namespace sluice::sink::kafka
