#include "server/audit/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/audit/audit_files.h"
#include "server/crypto.h"

namespace sluice::server {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

std::string IsoTime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Error(StatusCode::kIoError, "audit: cannot write {}: {}", path, std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

std::string AuditFileName(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("audit-{:04}-{:02}-{:02}.jsonl", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::string AuditLineHash(std::string_view body) {
  std::string closed(body);
  closed += '}';
  return Sha256Hex(closed);
}

AuditLog::AuditLog(std::string dir, uint32_t retention_days, Clock clock)
    : dir_(std::move(dir)), retention_days_(retention_days), clock_(std::move(clock)) {}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& dir, uint32_t retention_days, Clock clock) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Error(StatusCode::kIoError, "audit: cannot create directory {}: {}", dir, ec.message());
  std::unique_ptr<AuditLog> log(new AuditLog(dir, retention_days, std::move(clock)));
  std::lock_guard lock(log->mu_);
  RETURN_IF_ERROR(log->ApplyRetention(log->clock_()));
  ASSIGN_OR_RETURN(std::vector<std::string> files, ListAuditFiles(dir));
  log->last_hash_ = std::string(kAuditGenesis);
  ASSIGN_OR_RETURN(std::optional<AuditAnchor> anchor, ReadAuditAnchor(dir));
  if (anchor) log->last_hash_ = anchor->last_hash;
  // The newest file with a line holds the chain's head.
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    ASSIGN_OR_RETURN(std::optional<std::string> last, LastLineHash((fs::path(dir) / *it).string()));
    if (last) {
      log->last_hash_ = *last;
      break;
    }
  }
  return log;
}

Status AuditLog::ApplyRetention(std::chrono::system_clock::time_point now) {
  ASSIGN_OR_RETURN(std::vector<std::string> files, ListAuditFiles(dir_));
  const std::string oldest_kept = AuditFileName(now - std::chrono::hours(24) * retention_days_);
  std::vector<std::string> expired;
  for (const std::string& f : files) {
    if (f < oldest_kept && f != file_name_) expired.push_back(f);  // names sort by date
  }
  if (expired.empty()) return Status::Ok();
  // The anchor first: a crash before the removals leaves files the anchor
  // already covers, which verification skips.
  std::string newest = (fs::path(dir_) / expired.back()).string();
  ASSIGN_OR_RETURN(std::optional<std::string> last, LastLineHash(newest));
  ASSIGN_OR_RETURN(std::optional<AuditAnchor> old_anchor, ReadAuditAnchor(dir_));
  AuditAnchor anchor{expired.back(), last ? *last : (old_anchor ? old_anchor->last_hash : std::string(kAuditGenesis))};
  RETURN_IF_ERROR(WriteAuditAnchor(dir_, anchor));
  for (const std::string& f : expired) {
    std::error_code ec;
    fs::remove(fs::path(dir_) / f, ec);
    if (ec) return Status::Error(StatusCode::kIoError, "audit: cannot remove expired {}: {}", f, ec.message());
    spdlog::info("audit: removed {} (older than {} days)", f, retention_days_);
  }
  return Status::Ok();
}

Status AuditLog::OpenFileFor(const std::string& name) {
  if (fd_ >= 0 && name == file_name_) return Status::Ok();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::string path = (fs::path(dir_) / name).string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error(StatusCode::kIoError, "audit: cannot open {}: {}", path, std::strerror(errno));
  fd_ = fd;
  file_name_ = name;
  SyncDirectory(dir_);  // the new file's directory entry must survive a crash too
  return Status::Ok();
}

Status AuditLog::Append(const AuditRecord& r) {
  std::lock_guard lock(mu_);
  auto now = clock_();
  std::string name = AuditFileName(now);
  if (name != file_name_) {
    RETURN_IF_ERROR(OpenFileFor(name));
    RETURN_IF_ERROR(ApplyRetention(now));
  }
  Json j;
  j["time"] = IsoTime(now);
  j["who"] = r.who;
  j["role"] = r.role;
  j["action"] = r.action;
  j["object"] = r.object;
  j["before"] = r.before;
  j["after"] = r.after;
  j["result"] = r.result;
  j["prev"] = last_hash_;
  std::string line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  line.pop_back();  // the closing brace: the hash covers the body and that brace
  std::string hash = AuditLineHash(line);
  line += fmt::format(",\"hash\":\"{}\"}}\n", hash);
  std::string path = (fs::path(dir_) / file_name_).string();
  RETURN_IF_ERROR(WriteAll(fd_, line, path));
  if (::fdatasync(fd_) != 0) {
    return Status::Error(StatusCode::kIoError, "audit: cannot sync {}: {}", path, std::strerror(errno));
  }
  last_hash_ = std::move(hash);
  return Status::Ok();
}

}  // namespace sluice::server
