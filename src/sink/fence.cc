#include "sink/fence.h"

#include <fmt/format.h>

namespace sluice::sink {

Status FencedError(const SinkOptions& options, uint64_t newer, std::string_view how) {
  std::string by = newer ? fmt::format("to epoch {}", newer) : std::string("with a higher epoch");
  return Status::Error(StatusCode::kFenced,
                       "pipeline {} target {}: epoch {} is fenced off: a newer owner took the target over {} ({}); "
                       "this node no longer owns the pipeline",
                       options.pipeline, options.target, options.epoch, by, how);
}

}  // namespace sluice::sink
