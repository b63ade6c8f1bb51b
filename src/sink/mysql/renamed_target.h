#pragma once
// A target renamed in the configuration keeps its place. Checkpoints are
// kept per (pipeline, target name) in the target database, so a target whose
// name changed would find none and start where a new one starts (`start:`
// resolved again, or where the pipeline resumes): the changes since it
// stopped would be missing. When this database holds the pipeline's
// checkpoint under exactly one of `former` (names the pipeline ran before
// that the configuration no longer has: the pipeline's kTargetsKey setting,
// so a checkpoint another deployment's same-named pipeline keeps here is
// never taken) and none under `target`, that checkpoint (with its snapshot
// plan and keyless copy records) is renamed to `target` in one transaction.

#include <string>
#include <vector>

#include "client/mysql/connection.h"
#include "core/status.h"

namespace sluice::sink::mysql {

// Returns the name taken over ("" when nothing was: `target` has its own
// checkpoint, or none of `former` left one). Several former names with
// checkpoints here are an error naming them and the statement that removes one.
Result<std::string> TakeOverRenamedTarget(sluice::mysql::MysqlConnection& c, const std::string& pipeline,
                                          const std::string& target, const std::vector<std::string>& former);

}  // namespace sluice::sink::mysql
