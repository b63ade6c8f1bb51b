#pragma once
// The source's foreign keys (MySQL/MariaDB), read at start: the actions
// among them (ON DELETE/ON UPDATE CASCADE, SET NULL) change child rows
// without writing them to the binlog, so the pipeline has SQL targets redo
// them (transform/cascades.h) and names the keys no target can follow.

#include <string>
#include <vector>

#include "client/mysql/connection.h"
#include "core/cascade.h"

namespace sluice::pipeline {

// Every foreign key of the source, columns in key order.
Result<std::vector<ForeignKey>> ReadForeignKeys(mysql::MysqlConnection& conn);

}  // namespace sluice::pipeline
