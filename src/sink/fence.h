#pragma once
// Fencing (design §10): the error every fenced sink reports once a newer
// owner of its pipeline took the target over, so that the pipeline and the
// node agent see one shape of message whatever the target kind.

#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "sink/sink.h"

namespace sluice::sink {

// kFenced, not retryable: "pipeline P target T: epoch 3 is fenced off: a
// newer owner raised the target's fence to epoch 4 (how)". `newer` 0: the
// target does not say which epoch (Kafka fences a producer, not an epoch).
Status FencedError(const SinkOptions& options, uint64_t newer, std::string_view how);

}  // namespace sluice::sink
