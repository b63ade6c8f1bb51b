#pragma once
// SchemaHistory: the shapes of captured tables as information_schema showed
// them, each from the binlog position where it was read, and the positions
// of the DDL statements that ended them (design §2's versioned schema
// history, for binlogs without column names: binlog_row_metadata MINIMAL or
// NO_LOG, the servers' defaults).
//
// information_schema shows a table as it is now, and an event written before
// a later ALTER needs the table as it was then. While the stream is read as
// it is written, "now" is "then". After a restart from an older position
// (sluice was stopped, or a target is behind) it is not: a shape recorded
// back then, and kept in the pipeline's store, holds until the stream reaches
// a DDL statement that touched the table; only after it is information_schema
// asked again. A DDL statement touches the tables it names
// (client/mysql/ddl_statement.h); one sluice cannot classify touches every
// table, as any DDL did before.
//
// Positions compare within one server's binlog (the same file base name);
// a history of another server or base name is forgotten. Pure (no I/O); the
// capture thread's.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/mysql/ddl_statement.h"
#include "client/mysql/information_schema.h"
#include "core/position.h"
#include "core/status.h"

namespace sluice::mysql {

// Where a SchemaHistory is kept between runs (the pipeline's store); called
// on the capture thread. Either may be empty.
struct SchemaHistoryStore {
  std::function<Result<std::vector<std::pair<std::string, std::string>>>()> load;  // every pair saved
  std::function<Status(const std::string& key, const std::string& value)> save;
};

class SchemaHistory {
 public:
  // At most this many entries are kept per table, database and for all
  // tables; a lookup before the oldest kept one finds nothing.
  static constexpr size_t kKeep = 16;

  // The server the positions belong to; a different one than the history
  // was recorded on forgets it.
  void SetServer(std::string server);
  // The tables worth keeping statements for (those captured); others get
  // entries only if they had some already. Unset: every table.
  void SetSelection(std::function<bool(std::string_view db, std::string_view table)> selected) {
    selected_ = std::move(selected);
  }

  // The shape of `db`.`table` at `at`: the latest one recorded at or before
  // it, unless a DDL statement that touched the table came between. Null
  // when unknown (information_schema must be read, and Record()ed).
  const InformationSchemaTable* At(std::string_view db, std::string_view table, const BinlogFilePos& at) const;
  void Record(std::string_view db, std::string_view table, const BinlogFilePos& at, InformationSchemaTable shape);
  // When information_schema (`now`) disagrees with the binlog at `at`
  // because the table changed again after it (two ALTERs, and sluice reached
  // the first after the second ran): the shape at `at` made from the last
  // one recorded and the ALTER TABLE statements between, each column's
  // description taken from that shape or, for the columns those statements
  // added or changed, from `now` by name. Nullopt when a statement between
  // is not one whose column changes are known (DdlStatement::columns_followed).
  std::optional<InformationSchemaTable> Derive(std::string_view db, std::string_view table, const BinlogFilePos& at,
                                               const InformationSchemaTable& now) const;
  // A DDL statement at `at`, run with current database `db`.
  void OnDdl(std::string_view query, std::string_view db, DdlQuoting quoting, const BinlogFilePos& at);

  // Persistence, one text per table (and one per database and for all
  // tables, for the statements that touched them): the (key, value) pairs
  // changed since the last call.
  std::vector<std::pair<std::string, std::string>> TakeChanged();
  // Restores what TakeChanged() returned (in any order). A value that does
  // not parse, or belongs to another server or binlog, is skipped.
  void Load(const std::string& key, const std::string& value);
  static constexpr std::string_view kKeyPrefix = "schema_history/";

 private:
  struct Entry {
    std::string file;
    uint64_t offset = 0;
    std::optional<InformationSchemaTable> shape;  // none: a DDL statement ended the shape before
    // The statement that ended it (table entries): its text, current database and quoting.
    std::string query, query_db;
    DdlQuoting quoting;
  };
  struct List {
    std::vector<Entry> entries;     // by position
    std::optional<Entry> horizon;  // the latest entry dropped (kKeep): what came before it is unknown
  };

  // The numbered file and offset of `p`, or nullopt for a file of another
  // base name than the history's (or no number).
  std::optional<std::pair<uint64_t, uint64_t>> Order(const std::string& file, uint64_t offset) const;
  bool Comparable(const BinlogFilePos& p);  // adopts p's base name when the history has none; clears on a change
  void Add(const std::string& key, Entry entry);
  // The last entry of `list` at or before `at`; null if none.
  const Entry* Latest(const List& list, std::pair<uint64_t, uint64_t> at) const;
  // Whether a statement that touched all of `db` (or every table) lies in (from, at], or may have.
  bool TouchedAllSince(std::string_view db, std::pair<uint64_t, uint64_t> from,
                       std::pair<uint64_t, uint64_t> at) const;
  void Clear();

  std::function<bool(std::string_view, std::string_view)> selected_;
  std::string server_;
  std::string base_;                      // binlog file base name ("binlog" of "binlog.000003")
  std::map<std::string, List> lists_;  // by key: a table's, a database's, or all tables'
  std::map<std::string, bool> changed_;  // keys to save
};

}  // namespace sluice::mysql
