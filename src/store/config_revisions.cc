#include "store/config_revisions.h"

namespace sluice::store {
namespace {

// Columns in the order of kSelect.
ConfigRevision Row(sqlite3_stmt* s) {
  ConfigRevision r;
  r.revision = sqlite3_column_int64(s, 0);
  r.yaml = SqliteColumn(s, 1);
  r.created_ms = sqlite3_column_int64(s, 2);
  r.author = SqliteColumn(s, 3);
  r.comment = SqliteColumn(s, 4);
  return r;
}

constexpr const char* kSelect = "SELECT revision, yaml, created_ms, author, comment FROM config_revisions ";

}  // namespace

ConfigRevisions::~ConfigRevisions() = default;

Result<std::unique_ptr<ConfigRevisions>> ConfigRevisions::Open(const std::string& path) {
  auto file = SqliteDb::Open(path);
  if (!file.ok()) return file.status();
  std::unique_ptr<ConfigRevisions> store(new ConfigRevisions(std::move(file).value()));
  RETURN_IF_ERROR(store->file_->Exec(
      "CREATE TABLE IF NOT EXISTS config_revisions (revision INTEGER PRIMARY KEY, yaml TEXT NOT NULL, "
      "created_ms INTEGER NOT NULL, author TEXT NOT NULL, comment TEXT NOT NULL)"));
  RETURN_IF_ERROR(
      store->file_->Exec("CREATE TABLE IF NOT EXISTS manager_notes (key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  return store;
}

Result<std::optional<ConfigRevision>> ConfigRevisions::Latest() {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  std::string sql = std::string(kSelect) + "ORDER BY revision DESC LIMIT 1";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) return file_->Error("latest revision");
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<ConfigRevision>();
  if (rc != SQLITE_ROW) return file_->Error("latest revision");
  return std::optional<ConfigRevision>(Row(st.s));
}

Result<std::optional<ConfigRevision>> ConfigRevisions::Get(int64_t revision) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  std::string sql = std::string(kSelect) + "WHERE revision = ?";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) return file_->Error("read revision");
  sqlite3_bind_int64(st.s, 1, revision);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<ConfigRevision>();
  if (rc != SQLITE_ROW) return file_->Error("read revision");
  return std::optional<ConfigRevision>(Row(st.s));
}

Result<std::vector<ConfigRevision>> ConfigRevisions::List(size_t limit, bool with_yaml) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  std::string sql = std::string(kSelect) + "ORDER BY revision DESC";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) return file_->Error("list revisions");
  std::vector<ConfigRevision> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    out.push_back(Row(st.s));
    if (!with_yaml) out.back().yaml.clear();
  }
  if (rc != SQLITE_DONE) return file_->Error("list revisions");
  return out;
}

Status ConfigRevisions::Insert(const ConfigRevision& r, bool replace, bool* inserted) {
  if (r.revision <= 0)
    return Status::Invalid("store {}: revision number {} is not positive", file_->path(), r.revision);
  std::lock_guard lock(mu_);
  SqliteStmt st;
  const char* sql = replace ? "INSERT OR REPLACE INTO config_revisions VALUES (?, ?, ?, ?, ?)"
                            : "INSERT OR IGNORE INTO config_revisions VALUES (?, ?, ?, ?, ?)";
  if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) return file_->Error("record revision");
  sqlite3_bind_int64(st.s, 1, r.revision);
  SqliteBind(st.s, 2, r.yaml);
  sqlite3_bind_int64(st.s, 3, r.created_ms ? r.created_ms : SqliteNowMs());
  SqliteBind(st.s, 4, r.author);
  SqliteBind(st.s, 5, r.comment);
  if (sqlite3_step(st.s) != SQLITE_DONE) return file_->Error("record revision");
  if (inserted) *inserted = sqlite3_changes(db_) > 0;
  return Status::Ok();
}

Status ConfigRevisions::Record(const ConfigRevision& revision) { return Insert(revision, true, nullptr); }

Result<bool> ConfigRevisions::Import(const ConfigRevision& revision) {
  bool inserted = false;
  RETURN_IF_ERROR(Insert(revision, false, &inserted));
  return inserted;
}

Result<std::optional<std::string>> ConfigRevisions::GetNote(const std::string& key) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM manager_notes WHERE key = ?", -1, &st.s, nullptr) != SQLITE_OK) {
    return file_->Error("read note");
  }
  SqliteBind(st.s, 1, key);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return file_->Error("read note");
  return std::optional<std::string>(SqliteColumn(st.s, 0));
}

Status ConfigRevisions::SetNote(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO manager_notes VALUES (?, ?)", -1, &st.s, nullptr) != SQLITE_OK) {
    return file_->Error("write note");
  }
  SqliteBind(st.s, 1, key);
  SqliteBind(st.s, 2, value);
  if (sqlite3_step(st.s) != SQLITE_DONE) return file_->Error("write note");
  return Status::Ok();
}

}  // namespace sluice::store
