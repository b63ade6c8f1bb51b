#pragma once
// SqliteStore: the embedded metadata store (design §2): one SQLite file with
// each pipeline's per-target checkpoints and operator overrides (a start
// position set through the API, a pipeline stopped by hand). Writes are
// durable (WAL, synchronous=FULL). For SQL targets the authoritative
// checkpoint lives in the target itself, written in the same transaction as
// the rows; the store mirrors it for status and for non-transactional sinks.
// Thread-safe: one connection guarded by a mutex (writes are per batch, not per row).

#include <memory>
#include <mutex>
#include <tuple>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/file_lock.h"
#include "core/status.h"
#include "store/sqlite_db.h"

namespace sluice::store {

struct Checkpoint {
  std::string applied;          // StreamPos text of the last applied change
  std::string resume_position;  // "file:offset" transaction boundary to restart the source from
  std::string gtid_state;
  int64_t updated_ms = 0;
};

class SqliteStore {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore();

  Status SaveCheckpoint(const std::string& pipeline, const std::string& target, const Checkpoint& cp);
  Result<std::optional<Checkpoint>> LoadCheckpoint(const std::string& pipeline, const std::string& target);
  Status ClearCheckpoints(const std::string& pipeline);
  // Every checkpoint held, as (pipeline, target, checkpoint), by pipeline and target.
  Result<std::vector<std::tuple<std::string, std::string, Checkpoint>>> AllCheckpoints();

  // A key/value setting of a pipeline ("start", "stopped").
  Status SetSetting(const std::string& pipeline, const std::string& key, const std::string& value);
  Result<std::optional<std::string>> GetSetting(const std::string& pipeline, const std::string& key);
  Status DeleteSetting(const std::string& pipeline, const std::string& key);
  // Every setting of a pipeline whose key starts with `prefix`, by key.
  Result<std::vector<std::pair<std::string, std::string>>> SettingsWithPrefix(const std::string& pipeline,
                                                                             const std::string& prefix);

  const std::string& path() const { return file_->path(); }

  // Makes this process the store's only user until it exits: an exclusive
  // flock(2) on "<store>.lock" (a file beside the store, holding the owner's
  // pid for messages), which the kernel releases however the process ends,
  // kill -9 included. Fails with kAborted, naming the store and the pid that
  // holds it, when another process has it. `sluice run` takes it; `snapshot`
  // and `check` do not (they never write the store, and are built to run
  // beside a streaming pipeline). Idempotent.
  Status LockForProcess();

 private:
  explicit SqliteStore(std::unique_ptr<SqliteDb> file) : file_(std::move(file)), db_(file_->get()) {}

  std::unique_ptr<SqliteDb> file_;
  sqlite3* db_;  // file_'s handle
  std::mutex mu_;
  FileLock lock_;  // held for the life of the process (see LockForProcess)
};

}  // namespace sluice::store
