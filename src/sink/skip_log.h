#pragma once
// The skip log of `on_error: skip`: one JSON line per change a target
// rejected and the pipeline left out. A line is durable (fsynced) before
// the batch that leaves its change out is recorded, so a change is never
// dropped without its record.

#include <string>
#include <string_view>

#include "core/sink_change.h"
#include "core/status.h"

namespace sluice::sink {

// {"pipeline","target","table","key","pos","error","values":{..}}\n: the
// record of a rejected change, values in section-4 JSON.
std::string SkipRecord(std::string_view pipeline, std::string_view target, const SinkChange& change,
                       std::string_view key, std::string_view error);

// A table or column sluice writes that is gone from the target (dropped or
// renamed there, or its database dropped) is the target's state, not the
// row's: it stops the target whatever on_error says, since a skip would
// leave out every later change of the table. What to do, for the error.
std::string GoneFromTargetAdvice(std::string_view pipeline, bool column);

// Appends `data` to `path` and fsyncs it; an error names the file and why.
Status AppendDurably(const std::string& path, std::string_view data);

}  // namespace sluice::sink
