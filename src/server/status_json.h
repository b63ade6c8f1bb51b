#pragma once
// A pipeline's status as JSON (design §6: GET /api/pipelines/NAME/status),
// and back. The writer is the API's; the reader is for whoever receives a
// status from another process (the cluster manager's alarms read what the
// owning node's API answered). Fields the contract only ever extends: the
// reader takes what it knows and ignores the rest.

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/controller.h"

namespace sluice::server {

nlohmann::ordered_json PipelineStatusJson(const pipeline::PipelineStatus& p);
// {"name","delay_ms","targets":[{"name","delay_ms"}]}
nlohmann::ordered_json PipelineDelayJson(const pipeline::PipelineStatus& p);

// InvalidArgument naming the field when `j` is not a status object (no
// name, a state the API never writes, a field of the wrong type).
Result<pipeline::PipelineStatus> PipelineStatusFromJson(const nlohmann::ordered_json& j);

}  // namespace sluice::server
