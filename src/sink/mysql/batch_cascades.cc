// MysqlLoader and foreign key actions (sink.h, applies_cascades): a batch
// holding kCascade changes goes in source order over one connection, with
// nothing in flight beside it; runs of other changes between the cascades
// are still merged per key. The SQL of a cascade is cascade_sql.h's.

#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include "core/sync_point.h"
#include "sink/cascade_sql.h"
#include "sink/merge.h"
#include "sink/mysql/mysql_loader.h"
#include "sink/mysql/sql_builder.h"

namespace sluice::sink::mysql {

using sluice::mysql::MysqlConnection;

Status MysqlLoader::ApplyInOrder(const std::vector<SinkChange>& changes, size_t from, const BatchEnd& end) {
  std::vector<SinkChange> todo;
  for (size_t i = from; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    if (!checkpoint_.global.empty() && ch.pos <= checkpoint_.global) continue;  // applied before a restart
    // A cascade is only ever applied here, with the global row.
    if (ch.kind != SinkChange::Kind::kCascade) {
      const StreamPos& done = checkpoint_.partitions[PartitionOf(ch)];
      if (!done.empty() && ch.pos <= done) continue;
    }
    todo.push_back(ch);
  }
  if (todo.empty()) return AdvanceCheckpointNow(end);
  MysqlConnection& c = *partitions_[0].conn;
  uint64_t skipped = 0;
  // The global row first, in the same transaction: all of it or none.
  Status st = BeginWithCheckpoints(c, {kGlobalPart}, end);
  if (!st.ok()) return st;
  st = ApplySegmented(c, todo);
  if (!st.ok() && !st.retryable() && st.code() != StatusCode::kFenced) {
    // A row the target rejects: found one change at a time (and skipped with on_error: skip).
    st = RunStatement(c, "ROLLBACK TO SAVEPOINT sluice_rows");
    size_t rejected = todo.size();
    if (st.ok()) st = ApplyOrdered(c, todo, &skipped, &rejected);
    if (rejected < todo.size()) {
      (void)RunStatement(c, "ROLLBACK");
      return StopBefore(changes, todo[rejected].pos, st);
    }
  }
  if (st.ok()) SLUICE_SYNC_POINT("mysql.in_order.before_commit");
  if (st.ok()) st = RunStatement(c, "COMMIT");
  if (!st.ok()) {
    (void)RunStatement(c, "ROLLBACK");
    return st;
  }
  SLUICE_SYNC_POINT("mysql.in_order.committed");
  rows_applied_ += todo.size() - skipped;
  NoteSkipped(skipped);
  NoteGlobalCheckpoint(end);
  return Status::Ok();
}

Status MysqlLoader::ApplySegmented(MysqlConnection& c, const std::vector<SinkChange>& changes) {
  return ForEachRunAndCascade(
      changes, [&](std::vector<SinkChange> run) { return ApplyMerged(c, MergeByKey(std::move(run))); },
      [&](const SinkChange& cascade) { return ApplyCascade(c, cascade); });
}

Status MysqlLoader::ApplyCascade(MysqlConnection& c, const SinkChange& ch) {
  auto exists = [&](const std::string& sql) -> Result<bool> {
    auto rows = c.Query(sql);
    if (!rows.ok()) return ServerError(mysql_errno(c.raw()), rows.status().message());
    return !rows->empty();
  };
  SqlCascadeTarget target(kMysqlDialect, exists, [&](const std::string& sql) { return RunStatement(c, sql); });
  Status st = RedoCascade(target, ch);
  // A child table the target does not have holds no rows to change (the
  // failed statement alone is undone; the transaction goes on).
  if (!st.ok() && !st.retryable() && mysql_errno(c.raw()) == ER_NO_SUCH_TABLE) {
    spdlog::debug("target {}: {} @ {}: no table `{}`.`{}` on the target, nothing to redo", options_.target,
                  ch.table->cascade->fk, ch.pos.ToString(), ch.table->db, ch.table->table);
    return Status::Ok();
  }
  return st;
}

}  // namespace sluice::sink::mysql
