#include "store/config_revisions.h"

#include <chrono>
#include <filesystem>

namespace sluice::store {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

void Bind(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string Column(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

// Columns in the order of kSelect.
ConfigRevision Row(sqlite3_stmt* s) {
  ConfigRevision r;
  r.revision = sqlite3_column_int64(s, 0);
  r.yaml = Column(s, 1);
  r.created_ms = sqlite3_column_int64(s, 2);
  r.author = Column(s, 3);
  r.comment = Column(s, 4);
  return r;
}

constexpr const char* kSelect = "SELECT revision, yaml, created_ms, author, comment FROM config_revisions ";

}  // namespace

Result<std::unique_ptr<ConfigRevisions>> ConfigRevisions::Open(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Error(StatusCode::kIoError, "store {}: cannot open: {}", path, msg);
  }
  std::unique_ptr<ConfigRevisions> store(new ConfigRevisions(db, path));
  sqlite3_busy_timeout(db, 5000);
  RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(store->Exec(
      "CREATE TABLE IF NOT EXISTS config_revisions (revision INTEGER PRIMARY KEY, yaml TEXT NOT NULL, "
      "created_ms INTEGER NOT NULL, author TEXT NOT NULL, comment TEXT NOT NULL)"));
  RETURN_IF_ERROR(
      store->Exec("CREATE TABLE IF NOT EXISTS manager_notes (key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  return store;
}

ConfigRevisions::~ConfigRevisions() { sqlite3_close(db_); }

Status ConfigRevisions::Error(std::string_view what) {
  return Status::Error(StatusCode::kIoError, "store {}: {}: {}", path_, what, sqlite3_errmsg(db_));
}

Status ConfigRevisions::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Error(StatusCode::kIoError, "store {}: {}", path_, msg);
  }
  return Status::Ok();
}

Result<std::optional<ConfigRevision>> ConfigRevisions::Latest() {
  std::lock_guard lock(mu_);
  Stmt st;
  std::string sql = std::string(kSelect) + "ORDER BY revision DESC LIMIT 1";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) return Error("latest revision");
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<ConfigRevision>();
  if (rc != SQLITE_ROW) return Error("latest revision");
  return std::optional<ConfigRevision>(Row(st.s));
}

Result<std::optional<ConfigRevision>> ConfigRevisions::Get(int64_t revision) {
  std::lock_guard lock(mu_);
  Stmt st;
  std::string sql = std::string(kSelect) + "WHERE revision = ?";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) return Error("read revision");
  sqlite3_bind_int64(st.s, 1, revision);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<ConfigRevision>();
  if (rc != SQLITE_ROW) return Error("read revision");
  return std::optional<ConfigRevision>(Row(st.s));
}

Result<std::vector<ConfigRevision>> ConfigRevisions::List(size_t limit, bool with_yaml) {
  std::lock_guard lock(mu_);
  Stmt st;
  std::string sql = std::string(kSelect) + "ORDER BY revision DESC";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) return Error("list revisions");
  std::vector<ConfigRevision> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    out.push_back(Row(st.s));
    if (!with_yaml) out.back().yaml.clear();
  }
  if (rc != SQLITE_DONE) return Error("list revisions");
  return out;
}

Status ConfigRevisions::Insert(const ConfigRevision& r, bool replace, bool* inserted) {
  if (r.revision <= 0) return Status::Invalid("store {}: revision number {} is not positive", path_, r.revision);
  std::lock_guard lock(mu_);
  Stmt st;
  const char* sql = replace ? "INSERT OR REPLACE INTO config_revisions VALUES (?, ?, ?, ?, ?)"
                            : "INSERT OR IGNORE INTO config_revisions VALUES (?, ?, ?, ?, ?)";
  if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) return Error("record revision");
  sqlite3_bind_int64(st.s, 1, r.revision);
  Bind(st.s, 2, r.yaml);
  sqlite3_bind_int64(st.s, 3, r.created_ms ? r.created_ms : NowMs());
  Bind(st.s, 4, r.author);
  Bind(st.s, 5, r.comment);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("record revision");
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
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM manager_notes WHERE key = ?", -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("read note");
  }
  Bind(st.s, 1, key);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return Error("read note");
  return std::optional<std::string>(Column(st.s, 0));
}

Status ConfigRevisions::SetNote(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO manager_notes VALUES (?, ?)", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return Error("write note");
  }
  Bind(st.s, 1, key);
  Bind(st.s, 2, value);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("write note");
  return Status::Ok();
}

}  // namespace sluice::store
