#pragma once
// A target renamed in the configuration keeps its place. Checkpoints are
// kept per (pipeline, target name) in the target database, so a target whose
// name changed would find none and start where a new one starts (`start:`
// resolved again, or where the pipeline resumes): the changes since it
// stopped would be missing. When this database holds the pipeline's
// checkpoint under exactly one target name the configuration no longer
// names, and none under `target`, that checkpoint (with its snapshot plan and
// keyless copy records) is renamed to `target` in one transaction.

#include <string>
#include <vector>

#include "client/mysql/connection.h"
#include "core/status.h"

namespace sluice::sink::mysql {

// Returns the name taken over ("" when nothing was: `target` has its own
// checkpoint, or no other name is left over, or `configured` is empty). Several
// left-over names are an error naming them and the statement that removes one.
// `configured`: the pipeline's target names in the configuration.
Result<std::string> TakeOverRenamedTarget(sluice::mysql::MysqlConnection& c, const std::string& pipeline,
                                          const std::string& target, const std::vector<std::string>& configured);

}  // namespace sluice::sink::mysql
