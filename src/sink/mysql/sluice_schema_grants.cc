#include "sink/mysql/sluice_schema_grants.h"

#include <mysql.h>
#include <mysqld_error.h>

namespace sluice::sink::mysql {

Status WithSluiceSchemaGrant(sluice::mysql::MysqlConnection& c, Status st) {
  if (st.ok() || st.retryable()) return st;
  const unsigned err = mysql_errno(c.raw());
  if (err != ER_DBACCESS_DENIED_ERROR && err != ER_TABLEACCESS_DENIED_ERROR && err != ER_SPECIFIC_ACCESS_DENIED_ERROR) {
    return st;
  }
  return Status::Error(StatusCode::kServerError,
                       "{}; sluice keeps its checkpoints in the target's `_sluice` database: GRANT ALL ON "
                       "`_sluice`.* TO that user, then start the pipeline again (POST /api/pipelines/NAME/start, or "
                       "restart sluice)",
                       st.message());
}

}  // namespace sluice::sink::mysql
