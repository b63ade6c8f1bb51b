#pragma once
// Resume positions ("file:offset" for MySQL sources, a commit LSN such as
// "0/16B3748" for PostgreSQL ones) as the stream positions checkpoints
// record.

#include <string_view>

#include "core/change_event.h"
#include "core/status.h"

namespace sluice {

// The place before every change after `resume_position`: what a checkpoint
// that starts there records (LSNs as the pipeline records them).
Result<StreamPos> StreamPosAtResume(std::string_view resume_position);

}  // namespace sluice
