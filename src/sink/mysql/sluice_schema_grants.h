#pragma once
// A MySQL target keeps sluice's own tables (checkpoints, snapshot plans,
// fences) in its `_sluice` database. A target user granted only the
// application's tables (the usual production grant) is refused there; the
// error then says which grant is missing and what to do after granting it.

#include <string>

#include "client/mysql/connection.h"
#include "core/status.h"

namespace sluice::sink::mysql {

// `st` (from a statement on `_sluice` that `c` just ran) with the grant to
// give when the server refused it for lack of privileges; otherwise `st`.
Status WithSluiceSchemaGrant(sluice::mysql::MysqlConnection& c, Status st);

}  // namespace sluice::sink::mysql
