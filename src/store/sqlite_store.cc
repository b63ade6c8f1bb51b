#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace sluice::store {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Finalizes a statement on every path out of a function.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

void Bind(sqlite3_stmt* s, int i, const std::string& v) { sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }

std::string Column(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Error(StatusCode::kIoError, "store {}: cannot open: {}", path, msg);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, path));
  sqlite3_busy_timeout(db, 5000);
  RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(store->Exec(
      "CREATE TABLE IF NOT EXISTS checkpoints (pipeline TEXT NOT NULL, target TEXT NOT NULL, applied TEXT NOT NULL, "
      "resume_position TEXT NOT NULL, gtid_state TEXT NOT NULL, updated_ms INTEGER NOT NULL, "
      "PRIMARY KEY (pipeline, target))"));
  RETURN_IF_ERROR(store->Exec(
      "CREATE TABLE IF NOT EXISTS settings (pipeline TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
      "PRIMARY KEY (pipeline, key))"));
  return store;
}

SqliteStore::~SqliteStore() {
  sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status SqliteStore::LockForProcess() {
  std::lock_guard lock(mu_);
  if (lock_fd_ >= 0) return Status::Ok();
  const std::string lock_path = path_ + ".lock";
  // O_CLOEXEC: a child process must not inherit (and so prolong) the lock.
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Error(StatusCode::kIoError, "store {}: cannot open lock file {}: {}", path_, lock_path,
                         std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) holder.assign(buf, static_cast<size_t>(n));
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Error(StatusCode::kAborted,
                           "store {} is in use by another sluice process{}: one store serves one `sluice run`; "
                           "stop that process first, or give this configuration a store of its own",
                           path_, holder.empty() ? "" : " (pid " + holder + ")");
    }
    return Status::Error(StatusCode::kIoError, "store {}: cannot lock {}: {}", path_, lock_path, std::strerror(err));
  }
  // The pid is only for the message above: the lock is the flock, not the text.
  std::string pid = std::to_string(::getpid()) + "\n";
  bool wrote = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size());
  (void)wrote;  // harmless when not: the lock holds, only a later refusal's message lacks the pid
  lock_fd_ = fd;
  return Status::Ok();
}

Status SqliteStore::Error(std::string_view what) {
  return Status::Error(StatusCode::kIoError, "store {}: {}: {}", path_, what, sqlite3_errmsg(db_));
}

Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Error(StatusCode::kIoError, "store {}: {}", path_, msg);
  }
  return Status::Ok();
}

Status SqliteStore::SaveCheckpoint(const std::string& pipeline, const std::string& target, const Checkpoint& cp) {
  std::lock_guard lock(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pipeline, target) DO UPDATE SET "
                         "applied = excluded.applied, resume_position = excluded.resume_position, "
                         "gtid_state = excluded.gtid_state, updated_ms = excluded.updated_ms",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("save checkpoint");
  }
  Bind(st.s, 1, pipeline);
  Bind(st.s, 2, target);
  Bind(st.s, 3, cp.applied);
  Bind(st.s, 4, cp.resume_position);
  Bind(st.s, 5, cp.gtid_state);
  sqlite3_bind_int64(st.s, 6, cp.updated_ms ? cp.updated_ms : NowMs());
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("save checkpoint");
  return Status::Ok();
}

Result<std::optional<Checkpoint>> SqliteStore::LoadCheckpoint(const std::string& pipeline, const std::string& target) {
  std::lock_guard lock(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "SELECT applied, resume_position, gtid_state, updated_ms FROM checkpoints "
                         "WHERE pipeline = ? AND target = ?",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("load checkpoint");
  }
  Bind(st.s, 1, pipeline);
  Bind(st.s, 2, target);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<Checkpoint>();
  if (rc != SQLITE_ROW) return Error("load checkpoint");
  Checkpoint cp;
  cp.applied = Column(st.s, 0);
  cp.resume_position = Column(st.s, 1);
  cp.gtid_state = Column(st.s, 2);
  cp.updated_ms = sqlite3_column_int64(st.s, 3);
  return std::optional<Checkpoint>(std::move(cp));
}

Status SqliteStore::ClearCheckpoints(const std::string& pipeline) {
  std::lock_guard lock(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM checkpoints WHERE pipeline = ?", -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("clear checkpoints");
  }
  Bind(st.s, 1, pipeline);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("clear checkpoints");
  return Status::Ok();
}

Status SqliteStore::SetSetting(const std::string& pipeline, const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO settings VALUES (?, ?, ?) ON CONFLICT (pipeline, key) DO UPDATE SET value = excluded.value",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("set setting");
  }
  Bind(st.s, 1, pipeline);
  Bind(st.s, 2, key);
  Bind(st.s, 3, value);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("set setting");
  return Status::Ok();
}

Result<std::optional<std::string>> SqliteStore::GetSetting(const std::string& pipeline, const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM settings WHERE pipeline = ? AND key = ?", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return Error("get setting");
  }
  Bind(st.s, 1, pipeline);
  Bind(st.s, 2, key);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return Error("get setting");
  return std::optional<std::string>(Column(st.s, 0));
}

Status SqliteStore::DeleteSetting(const std::string& pipeline, const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM settings WHERE pipeline = ? AND key = ?", -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("delete setting");
  }
  Bind(st.s, 1, pipeline);
  Bind(st.s, 2, key);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("delete setting");
  return Status::Ok();
}

}  // namespace sluice::store
