#pragma once
// `sluice audit verify PATH`: checks the audit chain (audit_log.h) of a
// directory (every daily file in date order, from the retention anchor or
// genesis) or of one file (its first line's "prev" is taken as given).

#include <string>

#include "core/status.h"

namespace sluice::server {

struct AuditVerifyReport {
  bool ok = true;
  size_t files = 0;
  size_t lines = 0;  // lines checked
  // The first broken line, "audit-2026-12-04.jsonl:3: the line's hash does
  // not match its content (edited)"; "" when ok.
  std::string broken;
};

// IoError when PATH cannot be read; a broken chain is a report, not an error.
Result<AuditVerifyReport> VerifyAudit(const std::string& path);

}  // namespace sluice::server
