#pragma once
// Moving a pipeline's position by hand (POST /api/pipelines/NAME/position):
// what `sluice run` and a cluster node check before they record the new
// start (the setting "start", read by the pipeline's next start).

#include <string>

#include "core/position.h"
#include "core/status.h"
#include "pipeline/config.h"
#include "pipeline/pipeline.h"

namespace sluice::pipeline {

// The position to record for pipeline `name`: refused while `p` runs (stop
// it first), `position` parsed (GTID, FILE:OFFSET, latest, earliest), a
// FILE:OFFSET checked against the source's binlogs (CheckFilePosition).
// Invalid (a 400) for a bad position; retryable when the source cannot be
// asked.
Result<std::string> CheckNewPosition(Pipeline& p, const Config& config, const std::string& name,
                                     const std::string& position);

// A FILE:OFFSET start position against the source's binlogs: the file must
// exist, the offset must lie within it and be the start of an event that
// begins a transaction (or the file's end).
Status CheckFilePosition(const SourceConfig& src, const BinlogFilePos& pos);

}  // namespace sluice::pipeline
