#include "store/sqlite_store.h"

namespace sluice::store {

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  auto file = SqliteDb::Open(path);
  if (!file.ok()) return file.status();
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(file).value()));
  RETURN_IF_ERROR(store->file_->Exec(
      "CREATE TABLE IF NOT EXISTS checkpoints (pipeline TEXT NOT NULL, target TEXT NOT NULL, applied TEXT NOT NULL, "
      "resume_position TEXT NOT NULL, gtid_state TEXT NOT NULL, updated_ms INTEGER NOT NULL, "
      "PRIMARY KEY (pipeline, target))"));
  RETURN_IF_ERROR(store->file_->Exec(
      "CREATE TABLE IF NOT EXISTS settings (pipeline TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
      "PRIMARY KEY (pipeline, key))"));
  return store;
}

SqliteStore::~SqliteStore() = default;

Status SqliteStore::LockForProcess() {
  std::lock_guard lock(mu_);
  if (lock_.held()) return Status::Ok();
  const std::string lock_path = file_->path() + ".lock";
  std::string holder;
  auto taken = FileLock::Take(lock_path, &holder);
  if (!taken.ok() && taken.status().code() == StatusCode::kAborted) {
    return Status::Error(StatusCode::kAborted,
                         "store {} is in use by another sluice process{}: one store serves one `sluice run`; "
                         "stop that process first, or give this configuration a store of its own",
                         file_->path(), holder.empty() ? "" : " (pid " + holder + ")");
  }
  if (!taken.ok()) return Status::Error(StatusCode::kIoError, "store {}: {}", file_->path(), taken.status().message());
  lock_ = std::move(*taken);
  return Status::Ok();
}

Status SqliteStore::SaveCheckpoint(const std::string& pipeline, const std::string& target, const Checkpoint& cp) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(
          db_,
          "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pipeline, target) DO UPDATE SET "
          "applied = excluded.applied, resume_position = excluded.resume_position, "
          "gtid_state = excluded.gtid_state, updated_ms = excluded.updated_ms",
          -1, &st.s, nullptr) != SQLITE_OK) {
    return file_->Error("save checkpoint");
  }
  SqliteBind(st.s, 1, pipeline);
  SqliteBind(st.s, 2, target);
  SqliteBind(st.s, 3, cp.applied);
  SqliteBind(st.s, 4, cp.resume_position);
  SqliteBind(st.s, 5, cp.gtid_state);
  sqlite3_bind_int64(st.s, 6, cp.updated_ms ? cp.updated_ms : SqliteNowMs());
  if (sqlite3_step(st.s) != SQLITE_DONE) return file_->Error("save checkpoint");
  return Status::Ok();
}

// A checkpoint from columns `first`.. of a row: applied, resume_position,
// gtid_state, updated_ms.
static Checkpoint CheckpointColumns(sqlite3_stmt* s, int first) {
  Checkpoint cp;
  cp.applied = SqliteColumn(s, first);
  cp.resume_position = SqliteColumn(s, first + 1);
  cp.gtid_state = SqliteColumn(s, first + 2);
  cp.updated_ms = sqlite3_column_int64(s, first + 3);
  return cp;
}

Result<std::optional<Checkpoint>> SqliteStore::LoadCheckpoint(const std::string& pipeline, const std::string& target) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_,
                         "SELECT applied, resume_position, gtid_state, updated_ms FROM checkpoints "
                         "WHERE pipeline = ? AND target = ?",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return file_->Error("load checkpoint");
  }
  SqliteBind(st.s, 1, pipeline);
  SqliteBind(st.s, 2, target);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<Checkpoint>();
  if (rc != SQLITE_ROW) return file_->Error("load checkpoint");
  return std::optional<Checkpoint>(CheckpointColumns(st.s, 0));
}

Result<std::vector<std::tuple<std::string, std::string, Checkpoint>>> SqliteStore::AllCheckpoints() {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_,
                         "SELECT pipeline, target, applied, resume_position, gtid_state, updated_ms FROM checkpoints "
                         "ORDER BY pipeline, target",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return file_->Error("list checkpoints");
  }
  std::vector<std::tuple<std::string, std::string, Checkpoint>> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    out.emplace_back(SqliteColumn(st.s, 0), SqliteColumn(st.s, 1), CheckpointColumns(st.s, 2));
  }
  if (rc != SQLITE_DONE) return file_->Error("list checkpoints");
  return out;
}

Status SqliteStore::ClearCheckpoints(const std::string& pipeline) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM checkpoints WHERE pipeline = ?", -1, &st.s, nullptr) != SQLITE_OK) {
    return file_->Error("clear checkpoints");
  }
  SqliteBind(st.s, 1, pipeline);
  if (sqlite3_step(st.s) != SQLITE_DONE) return file_->Error("clear checkpoints");
  return Status::Ok();
}

Status SqliteStore::SetSetting(const std::string& pipeline, const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(
          db_, "INSERT INTO settings VALUES (?, ?, ?) ON CONFLICT (pipeline, key) DO UPDATE SET value = excluded.value",
          -1, &st.s, nullptr) != SQLITE_OK) {
    return file_->Error("set setting");
  }
  SqliteBind(st.s, 1, pipeline);
  SqliteBind(st.s, 2, key);
  SqliteBind(st.s, 3, value);
  if (sqlite3_step(st.s) != SQLITE_DONE) return file_->Error("set setting");
  return Status::Ok();
}

Result<std::optional<std::string>> SqliteStore::GetSetting(const std::string& pipeline, const std::string& key) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM settings WHERE pipeline = ? AND key = ?", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return file_->Error("get setting");
  }
  SqliteBind(st.s, 1, pipeline);
  SqliteBind(st.s, 2, key);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return file_->Error("get setting");
  return std::optional<std::string>(SqliteColumn(st.s, 0));
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::SettingsWithPrefix(const std::string& pipeline,
                                                                                        const std::string& prefix) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_,
                         "SELECT key, value FROM settings WHERE pipeline = ? AND substr(key, 1, length(?3)) = ?3 "
                         "ORDER BY key",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return file_->Error("list settings");
  }
  SqliteBind(st.s, 1, pipeline);
  SqliteBind(st.s, 3, prefix);
  std::vector<std::pair<std::string, std::string>> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) out.emplace_back(SqliteColumn(st.s, 0), SqliteColumn(st.s, 1));
  if (rc != SQLITE_DONE) return file_->Error("list settings");
  return out;
}

Status SqliteStore::DeleteSetting(const std::string& pipeline, const std::string& key) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM settings WHERE pipeline = ? AND key = ?", -1, &st.s, nullptr) != SQLITE_OK) {
    return file_->Error("delete setting");
  }
  SqliteBind(st.s, 1, pipeline);
  SqliteBind(st.s, 2, key);
  if (sqlite3_step(st.s) != SQLITE_DONE) return file_->Error("delete setting");
  return Status::Ok();
}

}  // namespace sluice::store
