#pragma once
// Foreign key actions a MySQL/MariaDB source applies without logging them:
// ON DELETE / ON UPDATE CASCADE and SET NULL change the child rows inside
// InnoDB, and the binlog holds only the statement's own rows, so neither a
// replica with foreign_key_checks off nor a capture sees them. The mapper
// (transform/cascades.h) follows a parent row's delete or referenced-key
// update with a SinkChange of kind kCascade per child table a rule selects,
// and the targets that keep rows redo the action (Sink::applies_cascades,
// sink/cascade_sql.h).

#include <cstdint>
#include <string>
#include <vector>

namespace sluice {

// A foreign key as the source's information_schema describes it.
struct ForeignKey {
  std::string db, table, name;          // the child table and the constraint
  std::vector<std::string> columns;     // the child's columns, in key order
  std::string parent_db, parent_table;  // the referenced table
  std::vector<std::string> parent_columns;
  std::string on_delete, on_update;  // CASCADE, SET NULL, RESTRICT, NO ACTION, SET DEFAULT
};

enum class FkAction : uint8_t { kNone, kCascade, kSetNull };

// The action a server carries out for a rule of information_schema
// (InnoDB rejects SET DEFAULT; RESTRICT and NO ACTION change nothing).
inline FkAction FkActionOf(const std::string& rule) {
  if (rule == "CASCADE") return FkAction::kCascade;
  if (rule == "SET NULL") return FkAction::kSetNull;
  return FkAction::kNone;
}

// One foreign key in target terms: what a target redoes.
struct CascadeEdge {
  std::string fk;                           // "db.table.constraint" on the source, for messages
  std::string child_db, child_table;        // the child's target table
  std::vector<std::string> child_columns;   // target names of the key's columns
  std::vector<std::string> parent_columns;  // target names of the referenced columns in the parent's target table
  FkAction on_delete = FkAction::kNone;
  FkAction on_update = FkAction::kNone;
  // ON DELETE CASCADE deletes child rows, which carries on to the keys
  // referencing the child table (their parent_columns are the child's):
  // the edges out of the child table, owned by the same plan.
  std::vector<const CascadeEdge*> next;
};

// InnoDB stops a chain of cascades deeper than this (DICT_FK_MAX_RECURSIVE_LOAD):
// the statement fails on the source, so a target never needs more levels.
constexpr int kMaxCascadeDepth = 15;

}  // namespace sluice
