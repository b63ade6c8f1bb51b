#pragma once
// Reading the audit trail back for `GET /api/audit` and the console's audit
// page: newest lines first, filtered. Reads the files as they are on disk
// (the writer appends whole lines with one write each, so a reader sees
// complete lines plus, at worst, a line cut short by a crash, skipped).
//
// Thread-safe (reads files only); cost grows with the files it must read,
// newest first, until `limit` lines matched.

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace sluice::server {

struct AuditQuery {
  std::string who;     // exact user or token name; "" for any
  std::string action;  // prefix: "pipeline." matches pipeline.stop and pipeline.start; "" for any
  std::string object;  // exact ("pipeline/orders") or a prefix ending in '/' ("pipeline/"); "" for any
  size_t limit = 200;  // at most this many lines (capped at kMaxAuditLines)
};

inline constexpr size_t kMaxAuditLines = 5000;

// {"lines":[{time, who, role, action, object, before, after, result}, ...]}
// newest first, without the chain's hashes (verification is `sluice audit
// verify`'s job), and "truncated": true when more lines matched than
// `limit`. IoError when the directory cannot be read.
Result<nlohmann::ordered_json> QueryAudit(const std::string& dir, const AuditQuery& query);

}  // namespace sluice::server
