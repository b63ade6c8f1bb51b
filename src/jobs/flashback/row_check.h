#pragma once
// Checks that the rows a flashback range touched still hold what the range
// left in them (FinalRows), on a server: a row changed, deleted or
// re-inserted after the range makes the undo overwrite that later change.
// Rows are checked in batches with one COUNT(*) per batch; a batch that does
// not add up is checked row by row to name the first row at fault.

#include <vector>

#include "client/mysql/connection.h"
#include "core/status.h"
#include "jobs/flashback/undo.h"

namespace sluice::jobs::flashback {

// `conn`'s session must be in kSessionSql's state. Ok when every row is as
// the range left it; kAborted naming the first row that is not.
Status CheckFinalRows(mysql::MysqlConnection& conn, const std::vector<FinalRow>& rows, size_t batch = 200);

}  // namespace sluice::jobs::flashback
