#include "server/audit/audit_query.h"

#include <algorithm>
#include <vector>

#include "server/audit/audit_files.h"

namespace sluice::server {
namespace {

using Json = nlohmann::ordered_json;

bool Matches(const Json& line, const AuditQuery& q) {
  auto text = [&](const char* key) { return line.contains(key) && line[key].is_string() ? line[key].get<std::string>() : ""; };
  if (!q.who.empty() && text("who") != q.who) return false;
  if (!q.action.empty() && !text("action").starts_with(q.action)) return false;
  if (!q.object.empty()) {
    const std::string object = text("object");
    if (q.object.back() == '/' ? !object.starts_with(q.object) : object != q.object) return false;
  }
  return true;
}

}  // namespace

Result<Json> QueryAudit(const std::string& dir, const AuditQuery& query) {
  const size_t limit = std::clamp<size_t>(query.limit, 1, kMaxAuditLines);
  ASSIGN_OR_RETURN(std::vector<std::string> files, ListAuditFiles(dir));
  Json lines = Json::array();
  bool truncated = false;
  for (auto file = files.rbegin(); file != files.rend() && !truncated; ++file) {
    ASSIGN_OR_RETURN(std::vector<std::string> raw, ReadLines(dir + "/" + *file));
    for (auto it = raw.rbegin(); it != raw.rend(); ++it) {
      Json line = Json::parse(*it, nullptr, /*allow_exceptions=*/false);
      if (!line.is_object() || !Matches(line, query)) continue;  // a line cut short by a crash
      if (lines.size() == limit) {
        truncated = true;
        break;
      }
      line.erase("prev");
      line.erase("hash");
      lines.push_back(std::move(line));
    }
  }
  Json out;
  out["lines"] = std::move(lines);
  out["truncated"] = truncated;
  return out;
}

}  // namespace sluice::server
