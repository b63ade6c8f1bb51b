#include "server/audit/audit_verify.h"

#include <filesystem>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "server/audit/audit_files.h"
#include "server/audit/audit_log.h"

namespace sluice::server {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHashKey = ",\"hash\":\"";

// Checks one file's lines against the chain, starting from `prev` (nullopt:
// take the first line's prev as given). Stops at the first broken line.
Status VerifyFile(const fs::path& path, std::optional<std::string>& prev, AuditVerifyReport& report) {
  bool complete = true;
  ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadLines(path.string(), &complete));
  ++report.files;
  const std::string name = path.filename().string();
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    auto broken = [&](std::string_view why) {
      report.ok = false;
      report.broken = fmt::format("{}:{}: {}", name, i + 1, why);
      return Status::Ok();
    };
    if (i + 1 == lines.size() && !complete) return broken("the last line is cut short (no newline)");
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("hash") || !j["hash"].is_string() || !j.contains("prev") ||
        !j["prev"].is_string()) {
      return broken("not an audit line (a JSON object with \"prev\" and \"hash\")");
    }
    size_t at = line.rfind(kHashKey);
    if (at == std::string::npos) return broken("not an audit line (\"hash\" is not the last field)");
    const std::string hash = j["hash"].get<std::string>();
    if (AuditLineHash(std::string_view(line).substr(0, at)) != hash) {
      return broken("the line's hash does not match its content (the line was edited)");
    }
    const std::string line_prev = j["prev"].get<std::string>();
    if (prev && line_prev != *prev) {
      return broken(i == 0 ? "its \"prev\" is not the hash of the line before it (the previous file's last line, "
                             "or the retention anchor): lines or a file were deleted, added or reordered"
                           : "its \"prev\" is not the hash of the line before it: a line was deleted, added or "
                             "reordered");
    }
    prev = hash;
    ++report.lines;
  }
  return Status::Ok();
}

}  // namespace

Result<AuditVerifyReport> VerifyAudit(const std::string& path) {
  AuditVerifyReport report;
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::Error(StatusCode::kIoError, "audit verify: {} does not exist", path);
  std::optional<std::string> prev;
  if (!fs::is_directory(path, ec)) {
    RETURN_IF_ERROR(VerifyFile(path, prev, report));
    return report;
  }
  ASSIGN_OR_RETURN(std::vector<std::string> files, ListAuditFiles(path));
  ASSIGN_OR_RETURN(std::optional<AuditAnchor> anchor, ReadAuditAnchor(path));
  prev = anchor ? anchor->last_hash : std::string(kAuditGenesis);
  for (const std::string& f : files) {
    // Files the anchor covers were expired; retention had not removed them yet.
    if (anchor && f <= anchor->file) continue;
    RETURN_IF_ERROR(VerifyFile(fs::path(path) / f, prev, report));
    if (!report.ok) break;
  }
  return report;
}

}  // namespace sluice::server
