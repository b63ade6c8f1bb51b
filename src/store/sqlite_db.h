// One SQLite file opened the way every sluice store opens it: its folder
// created, WAL, synchronous=FULL (what was saved is on disk when the call
// returns), a 5 s busy timeout for another process reading it. The stores
// (checkpoints and settings, the manager's configuration revisions) each
// own one and serialize their own calls.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::store {

class SqliteDb {
 public:
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }
  Status Exec(const char* sql);
  // An error naming the store, what failed and SQLite's message.
  Status Error(std::string_view what) const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// Finalizes a statement on every path out of a function.
struct SqliteStmt {
  sqlite3_stmt* s = nullptr;
  ~SqliteStmt() { sqlite3_finalize(s); }
};

void SqliteBind(sqlite3_stmt* s, int i, const std::string& v);
std::string SqliteColumn(sqlite3_stmt* s, int i);
int64_t SqliteNowMs();  // wall clock, for the stores' timestamps

}  // namespace sluice::store
