#pragma once
// The record that holds a Kafka target's position: one per pipeline and
// target (the key), in a compacted topic. With exactly_once it is produced
// in the same Kafka transaction as the batch's messages, so a consumer (and
// sluice on restart) sees both or neither.

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "sink/sink.h"

namespace sluice::sink::kafka {

inline constexpr std::string_view kCheckpointTopic = "__sluice_checkpoints";

// "pipeline/target": names are [A-Za-z0-9_.-] (config.cc), so '/' cannot clash.
std::string CheckpointKey(std::string_view pipeline, std::string_view target);

// {"pos":"binlog.000003:1234#end","resume_position":"binlog.000003:1500","gtid_state":"0-1-7"}
std::string EncodeCheckpoint(const BatchEnd& end);
Result<Checkpoint> DecodeCheckpoint(std::string_view value);

}  // namespace sluice::sink::kafka
