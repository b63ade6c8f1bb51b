#pragma once
// What a pipeline's behaviour depends on in a configuration text: its own
// entry and the entries of its source and targets, as YAML text. Equal
// fingerprints mean an unchanged pipeline between two revisions, so a node
// leaves it running; a changed one is restarted with the new settings.

#include <map>
#include <string>
#include <string_view>

namespace sluice::cluster {

// By pipeline name. Empty when the text cannot be read as YAML (every
// pipeline then counts as changed).
std::map<std::string, std::string> PipelineFingerprints(std::string_view yaml_text);

}  // namespace sluice::cluster
