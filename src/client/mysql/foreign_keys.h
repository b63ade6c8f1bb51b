#pragma once
// A server's foreign keys (MySQL/MariaDB): the actions among them (ON
// DELETE/ON UPDATE CASCADE, SET NULL) change child rows without writing them
// to the binlog, so a pipeline has its targets redo them
// (transform/cascades.h), and flashback says what it cannot restore.

#include <string>
#include <vector>

#include "client/mysql/connection.h"
#include "core/cascade.h"

namespace sluice::mysql {

// Every foreign key of the server, columns in key order.
Result<std::vector<ForeignKey>> ReadForeignKeys(MysqlConnection& conn);

}  // namespace sluice::mysql
