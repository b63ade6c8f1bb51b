#pragma once
// The audit trail (design §11): every mutation, configuration revision,
// login and refused request, one JSON line each, in daily files
// `audit-YYYY-MM-DD.jsonl` (UTC dates) under one directory:
//
//   {"time":"2026-12-04T05:01:02.345Z","who":"alice","role":"operator","action":"pipeline.stop",
//    "object":"pipeline/orders","before":{...},"after":{...},"result":"ok",
//    "prev":"<64 hex>","hash":"<64 hex>"}
//
// Chain: "hash" is the SHA-256 of the line's bytes up to the `,"hash":`
// that ends it, closed by '}' (so it covers "prev"); "prev" is the previous
// line's hash, across files; the first line ever has 64 zeros. Editing,
// deleting, inserting or reordering a line breaks the chain at that line or
// the next (audit_verify.h). Retention removes whole files dated more than
// `retention_days` before today, and first writes the newest removed file's
// last hash to `audit-anchor.json` ({"file","last_hash"}): the prev of the
// next file's first line, which verification then expects.
//
// Durability: each line is one write(2) to an O_APPEND descriptor followed
// by fdatasync(2) before Append returns, so a line acknowledged to a caller
// (and the request it records) survives a crash or power loss; audited
// events are rare (mutations, logins, refusals), so the sync is affordable.
//
// Threading: Append is thread-safe (one mutex serialises the chain).
// Owned by the command that serves HTTP; outlives its server.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace sluice::server {

struct AuditRecord {
  std::string who;     // the user, the token's name, the attempted user name; "" when unknown
  std::string role;    // "viewer" | "operator" | "admin" | "" (not authenticated)
  std::string action;  // "pipeline.stop", "login", "config.revision", "GET /metrics", ...
  std::string object;  // "pipeline/orders", "config", ...
  nlohmann::ordered_json before;  // null when not applicable
  nlohmann::ordered_json after;
  std::string result;  // "ok", "failed: ...", "401", "403", ...
};

inline constexpr std::string_view kAuditGenesis = "0000000000000000000000000000000000000000000000000000000000000000";
inline constexpr std::string_view kAuditAnchorFile = "audit-anchor.json";

// "audit-2026-12-04.jsonl" for a time's UTC date.
std::string AuditFileName(std::chrono::system_clock::time_point t);

class AuditLog {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Creates `dir` if needed, applies retention, and finds the chain's last
  // hash (the newest file's last line, else the anchor, else genesis).
  // IoError when the directory cannot be made or read; Corruption when the
  // newest file's last line is not an audit line.
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& dir, uint32_t retention_days,
                                                Clock clock = std::chrono::system_clock::now);
  ~AuditLog();

  // Appends one line (to the file of the clock's current date, applying
  // retention when the date changed) and syncs it.
  [[nodiscard]] Status Append(const AuditRecord& record);

  const std::string& dir() const { return dir_; }

 private:
  AuditLog(std::string dir, uint32_t retention_days, Clock clock);
  Status ApplyRetention(std::chrono::system_clock::time_point now);  // under mu_
  Status OpenFileFor(const std::string& name);                      // under mu_

  const std::string dir_;
  const uint32_t retention_days_;
  const Clock clock_;
  std::mutex mu_;
  std::string last_hash_;  // under mu_
  std::string file_name_;  // the open file's name; under mu_
  int fd_ = -1;            // under mu_
};

// The hash a line with content `body` (the line without its ,"hash":... and
// closing brace) carries: SHA-256 of body + "}".
std::string AuditLineHash(std::string_view body);

}  // namespace sluice::server
