#pragma once
// The audit directory's files (audit_log.h): daily files, the retention
// anchor, and reading a file's lines. Shared by the writer and the verifier.

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::server {

// Names of the `audit-YYYY-MM-DD.jsonl` files in `dir`, oldest first.
Result<std::vector<std::string>> ListAuditFiles(const std::string& dir);

// What retention left: the newest removed file and its last line's hash.
struct AuditAnchor {
  std::string file;
  std::string last_hash;
};
// nullopt when `dir` has no anchor (nothing was ever removed).
Result<std::optional<AuditAnchor>> ReadAuditAnchor(const std::string& dir);
// Written to a temporary file, synced and renamed over the old one.
Status WriteAuditAnchor(const std::string& dir, const AuditAnchor& anchor);

// fsync(2) of a directory, so that a file created or renamed in it
// survives a crash. Best effort: some file systems refuse it.
void SyncDirectory(const std::string& dir);

// The "hash" of the file's last line; nullopt for an empty file. Corruption
// when that line has no hash.
Result<std::optional<std::string>> LastLineHash(const std::string& path);

// The whole file's lines, without their '\n'. `complete` tells whether the
// file ended with '\n' (a line cut short by a crash does not).
Result<std::vector<std::string>> ReadLines(const std::string& path, bool* complete = nullptr);

}  // namespace sluice::server
