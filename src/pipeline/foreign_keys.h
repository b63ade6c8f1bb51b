#pragma once
// Foreign keys whose actions the binlog does not carry: a server applies ON
// DELETE / ON UPDATE CASCADE, SET NULL and SET DEFAULT inside the storage
// engine and writes only the statement's own rows, so no replica and no
// capture sees the child rows it changed. A pipeline says so at start for
// every such key on a table it reads, naming it, instead of letting the
// targets drift without a word.

#include <functional>
#include <string>
#include <vector>

#include "client/mysql/connection.h"

namespace sluice::pipeline {

struct CascadingForeignKey {
  std::string db, table, name;  // the child table and the constraint
  std::string referenced;       // "db.table"
  std::string actions;          // "ON DELETE CASCADE, ON UPDATE SET NULL"
};

// Keys with an action on tables `selected(db, table)` says are read.
Result<std::vector<CascadingForeignKey>> CascadingForeignKeys(
    mysql::MysqlConnection& conn, const std::function<bool(const std::string&, const std::string&)>& selected);

// The warning for one key.
std::string DescribeCascadingForeignKey(const CascadingForeignKey& fk);

}  // namespace sluice::pipeline
