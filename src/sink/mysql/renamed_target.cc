#include "sink/mysql/renamed_target.h"

#include <fmt/format.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <algorithm>

#include "sink/checkpoint_rows.h"
#include "sink/mysql/sql_builder.h"

namespace sluice::sink::mysql {

Result<std::string> TakeOverRenamedTarget(sluice::mysql::MysqlConnection& c, const std::string& pipeline,
                                          const std::string& target, const std::vector<std::string>& former) {
  if (former.empty()) return std::string();
  auto names = c.Query(fmt::format("SELECT DISTINCT target FROM `_sluice`.`checkpoints` WHERE pipeline = {}",
                                   Quote(pipeline)));
  if (!names.ok()) {
    const unsigned err = mysql_errno(c.raw());
    if (err == ER_NO_SUCH_TABLE || err == ER_BAD_DB_ERROR) return std::string();  // nothing ever written here
    return names.status();
  }
  std::vector<std::string> present;
  for (const auto& r : *names) present.push_back(r[0].value_or(""));
  ASSIGN_OR_RETURN(const std::string old,
                   RenamedFrom(present, pipeline, target, former,
                               fmt::format("DELETE FROM `_sluice`.`checkpoints` WHERE pipeline = {} AND "
                                           "target = 'NAME'",
                                           Quote(pipeline))));
  if (old.empty()) return old;
  ASSIGN_OR_RETURN(auto tables, c.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                                        "'_sluice' AND TABLE_NAME IN ('snapshot_chunks', 'keyless_copies')"));
  std::vector<std::string> renamed{"checkpoints"};
  for (const auto& r : tables) renamed.push_back(r[0].value_or(""));
  if (std::find(renamed.begin(), renamed.end(), "snapshot_chunks") != renamed.end()) {
    // A plan of its own (a copy begun under the new name): that copy goes on, nothing is taken over.
    ASSIGN_OR_RETURN(auto plan, c.QueryValue(fmt::format("SELECT COUNT(*) FROM `_sluice`.`snapshot_chunks` WHERE "
                                                         "pipeline = {} AND target = {}",
                                                         Quote(pipeline), Quote(target))));
    if (plan.value_or("0") != "0") return std::string();
  }
  RETURN_IF_ERROR(c.Execute("START TRANSACTION"));
  Status st;
  uint64_t moved = 0;
  for (const std::string& table : renamed) {
    st = c.Execute(fmt::format("UPDATE `_sluice`.`{}` SET target = {} WHERE pipeline = {} AND target = {}", table,
                               Quote(target), Quote(pipeline), Quote(old)));
    if (!st.ok()) break;
    if (table == "checkpoints") moved = mysql_affected_rows(c.raw());
  }
  if (st.ok()) st = c.Execute("COMMIT");
  if (!st.ok()) {
    (void)c.Execute("ROLLBACK");
    return st.WithContext(fmt::format("target {}: taking over the checkpoint of target {}", target, old));
  }
  if (moved == 0) return std::string();  // taken over meanwhile by another session
  LogTakenOver(pipeline, target, old);
  return old;
}

}  // namespace sluice::sink::mysql
