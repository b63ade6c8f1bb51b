#pragma once
// Just enough understanding of DDL statements to route them: which kind of
// statement, which database and table it touches, and (for CREATE TABLE and
// ALTER TABLE ... ADD/DROP COLUMN) which columns. Statements sluice cannot
// classify are kOther and never applied to a renamed or subset table.

#include <string>
#include <string_view>
#include <vector>

namespace sluice::mysql {

struct DdlStatement {
  enum class Kind : uint8_t {
    kCreateDatabase,
    kDropDatabase,
    kCreateTable,
    kAlterTable,
    kDropTable,
    kTruncateTable,
    kRenameTable,
    kCreateIndex,
    kDropIndex,
    // MariaDB sequences: CREATE [OR REPLACE] SEQUENCE, ALTER SEQUENCE, DROP
    // SEQUENCE (every name in `tables`); the name in db/table.
    kCreateSequence,
    kAlterSequence,
    kDropSequence,
    kOther,  // views, procedures, users, grants, ...: nothing a row rule maps
  };
  Kind kind = Kind::kOther;
  // kOther statements known to change no table's columns or keys: user
  // management (GRANT, REVOKE, CREATE USER, ...), FLUSH, ANALYZE/OPTIMIZE/
  // REPAIR/CHECK TABLE, views, triggers, routines and events.
  bool changes_no_table = false;
  std::string db;     // resolved against the statement's current database
  std::string table;  // empty for database statements
  bool if_not_exists = false;
  bool or_replace = false;                 // CREATE OR REPLACE
  bool create_like = false;                // CREATE TABLE t LIKE u / AS SELECT
  std::vector<std::string> columns;        // CREATE TABLE: defined columns, in order
  std::vector<std::string> added_columns;  // ALTER TABLE: ADD [COLUMN] names
  bool alter_only_adds_columns = false;    // every ALTER clause is ADD [COLUMN]
  // ALTER TABLE ... DROP|TRUNCATE|EXCHANGE PARTITION: rows go (or come in)
  // without row events in the binlog.
  bool partition_rows = false;
  // RENAME TABLE / ALTER TABLE ... RENAME TO: the new name
  std::string new_db, new_table;
  // RENAME TABLE (every pair, in order) and ALTER TABLE ... RENAME [TO]: old and new names
  struct Rename {
    std::string db, table, new_db, new_table;
  };
  std::vector<Rename> renames;
  // DROP TABLE a, b: every table named (db.table), for multi-table statements
  std::vector<std::pair<std::string, std::string>> tables;
  // ALTER TABLE, CREATE and ALTER SEQUENCE: where the name is in the
  // statement (bytes).
  size_t name_begin = 0, name_end = 0;
  // ALTER TABLE: what it does to the table's columns, clause by clause, when
  // that is all it changes (columns_followed): columns added, dropped,
  // changed or renamed, and where they go. Indexes (not UNIQUE ones),
  // foreign keys, checks, defaults, partitions and table options change no
  // column; anything else (keys, CONVERT TO CHARACTER SET, system
  // versioning, a rename of the table) leaves columns_followed false.
  struct ColumnChange {
    enum class Op : uint8_t { kAdd, kDrop, kChange, kRename };
    Op op = Op::kAdd;
    std::string name;      // the column added, dropped, changed or renamed (its name before)
    std::string new_name;  // kChange (MODIFY: the same), kRename: its name after
    bool first = false;    // FIRST
    std::string after;     // AFTER this column; "" and not first: where it was (kChange), last (kAdd)
  };
  std::vector<ColumnChange> column_changes;
  bool columns_followed = false;
};

// How the source's session reads quotes (its sql_mode).
struct DdlQuoting {
  bool ansi_quotes = false;           // "x" is a name, not a string
  bool no_backslash_escapes = false;  // '\' is a character in strings
};

DdlStatement ParseDdl(std::string_view query, std::string_view current_db, DdlQuoting quoting = {});

// An ALTER TABLE, CREATE SEQUENCE or ALTER SEQUENCE statement `d` (parsed
// from `query`) naming `db`.`table` instead: for a table or sequence a rule
// renames.
std::string WithAlteredTableNamed(std::string_view query, const DdlStatement& d, std::string_view db,
                                  std::string_view table);

}  // namespace sluice::mysql
