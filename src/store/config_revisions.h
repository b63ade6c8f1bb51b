#pragma once
// The manager's configuration history (design §10): every revision of the
// cluster configuration it published or saw published, in a table of its
// own in the manager's SQLite store, beside a small key/value table for the
// manager's own notes (the text of cluster.yaml it last read).
//
// Revision numbers are the cluster's, not this store's: the leading manager
// publishes revision N to ZooKeeper and records it under N; a following
// manager records what it sees published under the same number. So numbers
// may have gaps in one manager's history (revisions published while it was
// down), never two texts under one number.
//
// Thread-safe: one connection guarded by a mutex (a revision is a rare write).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/sqlite_db.h"

namespace sluice::store {

struct ConfigRevision {
  int64_t revision = 0;    // > 0
  std::string yaml;        // the whole cluster.yaml text
  int64_t created_ms = 0;  // when this store recorded it (Unix ms)
  std::string author;      // "file /etc/sluice/cluster.yaml", "PUT /api/config from 10.0.0.7", ...
  std::string comment;     // "" when none
};

class ConfigRevisions {
 public:
  // Opens (creating when missing) the tables in the SQLite file `path`,
  // which may be the same file a SqliteStore has open.
  [[nodiscard]] static Result<std::unique_ptr<ConfigRevisions>> Open(const std::string& path);
  ~ConfigRevisions();
  ConfigRevisions(const ConfigRevisions&) = delete;
  ConfigRevisions& operator=(const ConfigRevisions&) = delete;

  // The highest revision; nullopt while there is none.
  [[nodiscard]] Result<std::optional<ConfigRevision>> Latest();
  [[nodiscard]] Result<std::optional<ConfigRevision>> Get(int64_t revision);
  // Newest first; `limit` 0 for all. Without `with_yaml` the texts are left empty.
  [[nodiscard]] Result<std::vector<ConfigRevision>> List(size_t limit = 0, bool with_yaml = false);

  // Records a revision this manager published (replacing a record of the
  // same number made from a ZooKeeper notification, which lacks the author).
  [[nodiscard]] Status Record(const ConfigRevision& revision);
  // Records a revision seen published unless the number is known already.
  // Returns whether it was new.
  [[nodiscard]] Result<bool> Import(const ConfigRevision& revision);

  // The manager's notes.
  [[nodiscard]] Result<std::optional<std::string>> GetNote(const std::string& key);
  [[nodiscard]] Status SetNote(const std::string& key, const std::string& value);

 private:
  explicit ConfigRevisions(std::unique_ptr<SqliteDb> file) : file_(std::move(file)), db_(file_->get()) {}
  Status Insert(const ConfigRevision& revision, bool replace, bool* inserted);

  std::unique_ptr<SqliteDb> file_;
  sqlite3* db_;  // file_'s handle
  std::mutex mu_;
};

}  // namespace sluice::store
