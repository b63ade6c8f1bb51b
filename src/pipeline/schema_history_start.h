#pragma once
// Where a snapshot starts a MySQL source's stream, the selected tables'
// shapes as information_schema shows them then go into the pipeline's
// schema history (source/mysql/schema_history.h): the stream that begins
// there once the copy is done reads rows written before any ALTER made
// meanwhile with the shape they were written in. `sluice run` does it for
// `snapshot: initial` (pipeline_schema_history.cc), `sluice snapshot` for
// the copies it starts a pipeline's stream with (cli/snapshot.cc).

#include <string>

#include "client/mysql/connection.h"
#include "core/status.h"
#include "pipeline/config.h"
#include "pipeline/settings.h"

namespace sluice::pipeline {

// Records the shapes at `position` (FILE:OFFSET; anything else records
// nothing). `interrupt` (may be null) cuts its connection from another thread.
Status RecordTableShapes(PipelineSettings& settings, const PipelineConfig& p, const SourceConfig& s,
                         const std::string& position, sluice::mysql::Interrupter* interrupt = nullptr);

}  // namespace sluice::pipeline
