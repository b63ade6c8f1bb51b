#pragma once
// Whether a target's resume position is gone from the source: a binlog file
// the server no longer has (purged, expired). Used at start so that one
// target left behind (re-added after a long absence, restored from an old
// backup) stops alone instead of taking every target of its pipeline down.

#include <string>
#include <vector>

namespace sluice::pipeline {

// True when `resume_position` ("FILE:OFFSET") names a file of the server's
// binlog series (the same base name as its files) older than the oldest
// one it has. A file of another name says nothing (another server after a
// failover, whose binlog is named apart); nor does one newer than the
// newest. `server_files`: SHOW BINARY LOGS, oldest first.
bool InPurgedBinlog(const std::string& resume_position, const std::vector<std::string>& server_files);

}  // namespace sluice::pipeline
