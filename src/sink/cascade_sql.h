#pragma once
// Redoing a foreign key action (a kCascade change, core/cascade.h) on a
// target that holds rows, in its own terms (CascadeTarget):
//   ON DELETE CASCADE   delete the child rows whose key is the parent's,
//                       after the same for the keys referencing the rows it
//                       deletes, level by level (`next`), down to where no
//                       row is left;
//   ON DELETE SET NULL  set the child rows' key to NULL;
//   ON UPDATE CASCADE   set their key to the parent's new values;
//   ON UPDATE SET NULL  set their key to NULL.
// The deeper levels name the rows by subqueries on the level above (no
// values cross the client), as the server's own cascade would find them.
// SQL targets (MySQL/MariaDB with foreign_key_checks=0, PostgreSQL) use
// SqlCascadeTarget: DELETE and UPDATE statements in the caller's transaction.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sink_change.h"
#include "core/status.h"

namespace sluice::sink {

// The rows of a child table one step of a cascade names: `where` selects
// them; below the first level they are the rows referencing the rows of the
// level above, and `parents` is that level's SELECT of the referenced
// columns (the edge's parent_columns), for targets that join on it.
struct CascadeRows {
  std::string where;
  std::string parents;  // empty at the first level
};

// How a target names things, reads and changes the rows a cascade names.
class CascadeTarget {
 public:
  virtual ~CascadeTarget() = default;
  virtual void Ident(std::string& out, std::string_view name) const = 0;
  // Value `v` of column i of ch.table (a kCascade change's: the parent's
  // referenced column) as a literal; NULL as one where the target allows.
  virtual Status Literal(std::string& out, const SinkChange& ch, size_t i, const Value& v) const = 0;
  // "FROM ... WHERE ..." naming the current rows of `table` (quoted) that
  // `where` selects, for a SELECT.
  virtual std::string FromWhere(const std::string& table, const std::string& where) const {
    return "FROM " + table + " WHERE " + where;
  }
  // Whether a SELECT finds a row (a level with no rows ends the descent).
  virtual Result<bool> Exists(const std::string& select) = 0;
  // Deletes the rows of e's child table (`table`, quoted) that `rows` names.
  virtual Status Delete(const CascadeEdge& e, const std::string& table, const CascadeRows& rows) = 0;
  // Sets e's child key columns to `values` (literals, or NULL) in those rows.
  virtual Status Set(const CascadeEdge& e, const std::string& table, const std::vector<std::string>& values,
                     const CascadeRows& rows) = 0;
};

// How an SQL target writes names and values.
struct SqlDialect {
  void (*ident)(std::string& out, std::string_view name);
  Status (*literal)(std::string& out, const SinkChange& ch, size_t i, const Value& v);
  // Rows named by the level above are deleted and updated through a join
  // (MySQL/MariaDB: a single-table DELETE or UPDATE ... WHERE x IN
  // (subquery) gets no semi-join and reads the whole child table per step).
  bool join_parents = false;
};

// DELETE and UPDATE statements: `exists` answers a SELECT, `run` executes a
// statement, both in the caller's transaction.
class SqlCascadeTarget : public CascadeTarget {
 public:
  SqlCascadeTarget(const SqlDialect& dialect, std::function<Result<bool>(const std::string&)> exists,
                   std::function<Status(const std::string&)> run)
      : dialect_(dialect), exists_(std::move(exists)), run_(std::move(run)) {}
  void Ident(std::string& out, std::string_view name) const override { dialect_.ident(out, name); }
  Status Literal(std::string& out, const SinkChange& ch, size_t i, const Value& v) const override {
    return dialect_.literal(out, ch, i, v);
  }
  Result<bool> Exists(const std::string& select) override { return exists_(select); }
  Status Delete(const CascadeEdge& e, const std::string& table, const CascadeRows& rows) override;
  Status Set(const CascadeEdge& e, const std::string& table, const std::vector<std::string>& values,
             const CascadeRows& rows) override;

 private:
  // " JOIN (parents) AS sluice_rows ON table.c = sluice_rows.p AND ..."
  std::string JoinParents(const CascadeEdge& e, const std::string& table, const CascadeRows& rows) const;

  const SqlDialect& dialect_;
  std::function<Result<bool>(const std::string&)> exists_;
  std::function<Status(const std::string&)> run_;
};

// Redoes `ch` on `target`.
Status RedoCascade(CascadeTarget& target, const SinkChange& ch);

// A batch holding kCascade changes, taken apart for a sink that applies it
// in order: `run` gets each run of other changes between them (copied, for
// merging), `cascade` each kCascade change, in source order.
Status ForEachRunAndCascade(const std::vector<SinkChange>& changes,
                            const std::function<Status(std::vector<SinkChange> run)>& run,
                            const std::function<Status(const SinkChange& cascade)>& cascade);

}  // namespace sluice::sink
