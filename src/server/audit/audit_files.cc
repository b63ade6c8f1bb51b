#include "server/audit/audit_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "server/audit/audit_log.h"

namespace sluice::server {

namespace fs = std::filesystem;

Result<std::vector<std::string>> ListAuditFiles(const std::string& dir) {
  static const std::regex kName(R"(audit-\d{4}-\d{2}-\d{2}\.jsonl)");
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (it->is_regular_file() && std::regex_match(name, kName)) out.push_back(std::move(name));
  }
  if (ec) return Status::Error(StatusCode::kIoError, "audit: cannot list {}: {}", dir, ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::optional<AuditAnchor>> ReadAuditAnchor(const std::string& dir) {
  fs::path path = fs::path(dir) / kAuditAnchorFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<AuditAnchor>();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("file") || !j["file"].is_string() || !j.contains("last_hash") ||
      !j["last_hash"].is_string()) {
    return Status::Corruption("audit: {} is not an anchor ({{\"file\",\"last_hash\"}})", path.string());
  }
  return std::optional<AuditAnchor>(AuditAnchor{j["file"].get<std::string>(), j["last_hash"].get<std::string>()});
}

Status WriteAuditAnchor(const std::string& dir, const AuditAnchor& anchor) {
  nlohmann::ordered_json j;
  j["file"] = anchor.file;
  j["last_hash"] = anchor.last_hash;
  std::string text = j.dump() + "\n";
  fs::path path = fs::path(dir) / kAuditAnchorFile;
  std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error(StatusCode::kIoError, "audit: cannot write {}: {}", tmp, std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Error(StatusCode::kIoError, "audit: cannot write {}: {}", path.string(), std::strerror(errno));
  }
  SyncDirectory(dir);
  return Status::Ok();
}

void SyncDirectory(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

Result<std::vector<std::string>> ReadLines(const std::string& path, bool* complete) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(StatusCode::kIoError, "audit: cannot read {}", path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (complete) *complete = text.empty() || text.back() == '\n';
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

Result<std::optional<std::string>> LastLineHash(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadLines(path));
  if (lines.empty()) return std::optional<std::string>();
  nlohmann::json j = nlohmann::json::parse(lines.back(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("hash") || !j["hash"].is_string()) {
    return Status::Corruption("audit: {} line {}: not an audit line (no \"hash\"); run `sluice audit verify`", path,
                              lines.size());
  }
  return std::optional<std::string>(j["hash"].get<std::string>());
}

}  // namespace sluice::server
