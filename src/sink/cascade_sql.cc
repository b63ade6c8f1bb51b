#include "sink/cascade_sql.h"

namespace sluice::sink {
namespace {

void AppendChild(const SqlDialect& d, std::string& out, const CascadeEdge& e) {
  d.ident(out, e.child_db);
  out += '.';
  d.ident(out, e.child_table);
}

// `a` or `(a, b)`.
void AppendTuple(const SqlDialect& d, std::string& out, const std::vector<std::string>& columns) {
  if (columns.size() > 1) out += '(';
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) out += ", ";
    d.ident(out, columns[i]);
  }
  if (columns.size() > 1) out += ')';
}

// " SET c1 = v1, c2 = v2" for the child's key columns: ch's values from
// `from` on, or NULL when ch is null.
Status AppendSet(const SqlDialect& d, std::string& out, const CascadeEdge& e, const SinkChange* ch, size_t from) {
  out += " SET ";
  for (size_t i = 0; i < e.child_columns.size(); ++i) {
    if (i) out += ", ";
    d.ident(out, e.child_columns[i]);
    out += " = ";
    if (ch == nullptr) {
      out += "NULL";
    } else {
      RETURN_IF_ERROR(d.literal(out, *ch, i, ch->values[from + i]));
    }
  }
  return Status::Ok();
}

// Deletes (or sets to NULL the keys of) the rows of e's child that `where`
// names, after redoing the actions of the keys referencing them.
Status DeleteRows(const SqlDialect& d, const CascadeEdge& e, const std::string& where, int depth,
                  const std::function<Result<bool>(const std::string&)>& exists,
                  const std::function<Status(const std::string&)>& run) {
  std::string sql;
  if (e.on_delete == FkAction::kSetNull) {
    sql = "UPDATE ";
    AppendChild(d, sql, e);
    RETURN_IF_ERROR(AppendSet(d, sql, e, nullptr, 0));
    sql += " WHERE " + where;
    return run(sql);
  }
  if (e.on_delete != FkAction::kCascade) return Status::Ok();
  // The server refuses a chain deeper than kMaxCascadeDepth: the source's
  // statement would have failed rather than reach further.
  if (!e.next.empty() && depth < kMaxCascadeDepth) {
    sql = "SELECT 1 FROM ";
    AppendChild(d, sql, e);
    sql += " WHERE " + where + " LIMIT 1";
    ASSIGN_OR_RETURN(bool any, exists(sql));
    if (!any) return Status::Ok();
    for (const CascadeEdge* next : e.next) {
      // The subquery is materialized (a derived table, NO_MERGE on MySQL):
      // MySQL refuses a subquery on the table a DELETE or UPDATE changes.
      std::string sub;
      AppendTuple(d, sub, next->child_columns);
      sub += " IN (SELECT /*+ NO_MERGE(sluice_rows) */ * FROM (SELECT ";
      for (size_t i = 0; i < next->parent_columns.size(); ++i) {
        if (i) sub += ", ";
        d.ident(sub, next->parent_columns[i]);
      }
      sub += " FROM ";
      AppendChild(d, sub, e);
      sub += " WHERE " + where + ") AS sluice_rows)";
      RETURN_IF_ERROR(DeleteRows(d, *next, sub, depth + 1, exists, run));
    }
  }
  sql = "DELETE FROM ";
  AppendChild(d, sql, e);
  sql += " WHERE " + where;
  return run(sql);
}

}  // namespace

Status RedoCascade(const SqlDialect& d, const SinkChange& ch,
                   const std::function<Result<bool>(const std::string&)>& exists,
                   const std::function<Status(const std::string&)>& run) {
  const CascadeEdge& e = *ch.table->cascade;
  const size_t n = e.child_columns.size();
  std::string where;
  for (size_t i = 0; i < n; ++i) {
    if (i) where += " AND ";
    d.ident(where, e.child_columns[i]);
    where += " = ";
    RETURN_IF_ERROR(d.literal(where, ch, i, ch.values[i]));
  }
  if (ch.op == Op::kDelete) return DeleteRows(d, e, where, 1, exists, run);
  if (e.on_update == FkAction::kNone) return Status::Ok();
  std::string sql = "UPDATE ";
  AppendChild(d, sql, e);
  RETURN_IF_ERROR(AppendSet(d, sql, e, e.on_update == FkAction::kSetNull ? nullptr : &ch, n));
  sql += " WHERE " + where;
  return run(sql);
}

Status ForEachRunAndCascade(const std::vector<SinkChange>& changes,
                            const std::function<Status(std::vector<SinkChange> run)>& run,
                            const std::function<Status(const SinkChange& cascade)>& cascade) {
  size_t first = 0;  // the run's first change
  for (size_t i = 0; i <= changes.size(); ++i) {
    if (i < changes.size() && changes[i].kind != SinkChange::Kind::kCascade) continue;
    if (i > first) {
      RETURN_IF_ERROR(run(std::vector<SinkChange>(changes.begin() + static_cast<std::ptrdiff_t>(first),
                                                  changes.begin() + static_cast<std::ptrdiff_t>(i))));
    }
    if (i < changes.size()) RETURN_IF_ERROR(cascade(changes[i]));
    first = i + 1;
  }
  return Status::Ok();
}

}  // namespace sluice::sink
