#include "sink/cascade_sql.h"

namespace sluice::sink {
namespace {

std::string ChildTable(const CascadeTarget& t, const CascadeEdge& e) {
  std::string out;
  t.Ident(out, e.child_db);
  out += '.';
  t.Ident(out, e.child_table);
  return out;
}

// `a` or `(a, b)`.
void AppendTuple(const CascadeTarget& t, std::string& out, const std::vector<std::string>& columns) {
  if (columns.size() > 1) out += '(';
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) out += ", ";
    t.Ident(out, columns[i]);
  }
  if (columns.size() > 1) out += ')';
}

// Deletes (or sets to NULL the keys of) the rows of e's child that `where`
// names, after redoing the actions of the keys referencing them.
Status DeleteRows(CascadeTarget& t, const CascadeEdge& e, const std::string& where, int depth) {
  const std::string table = ChildTable(t, e);
  if (e.on_delete == FkAction::kSetNull) {
    return t.Set(e, table, std::vector<std::string>(e.child_columns.size(), "NULL"), where);
  }
  if (e.on_delete != FkAction::kCascade) return Status::Ok();
  // The server refuses a chain deeper than kMaxCascadeDepth: the source's
  // statement would have failed rather than reach further.
  if (!e.next.empty() && depth < kMaxCascadeDepth) {
    ASSIGN_OR_RETURN(bool any, t.Exists("SELECT 1 " + t.FromWhere(table, where) + " LIMIT 1"));
    if (!any) return Status::Ok();
    for (const CascadeEdge* next : e.next) {
      // The subquery is materialized (a derived table, NO_MERGE on MySQL):
      // MySQL refuses a subquery on the table a DELETE or UPDATE changes.
      std::string sub;
      AppendTuple(t, sub, next->child_columns);
      sub += " IN (SELECT /*+ NO_MERGE(sluice_rows) */ * FROM (SELECT ";
      for (size_t i = 0; i < next->parent_columns.size(); ++i) {
        if (i) sub += ", ";
        t.Ident(sub, next->parent_columns[i]);
      }
      sub += " " + t.FromWhere(table, where) + ") AS sluice_rows)";
      RETURN_IF_ERROR(DeleteRows(t, *next, sub, depth + 1));
    }
  }
  return t.Delete(e, table, where);
}

}  // namespace

Status SqlCascadeTarget::Delete(const CascadeEdge&, const std::string& table, const std::string& where) {
  return run_("DELETE FROM " + table + " WHERE " + where);
}

Status SqlCascadeTarget::Set(const CascadeEdge& e, const std::string& table, const std::vector<std::string>& values,
                             const std::string& where) {
  std::string sql = "UPDATE " + table + " SET ";
  for (size_t i = 0; i < e.child_columns.size(); ++i) {
    if (i) sql += ", ";
    Ident(sql, e.child_columns[i]);
    sql += " = " + values[i];
  }
  return run_(sql + " WHERE " + where);
}

Status RedoCascade(CascadeTarget& t, const SinkChange& ch) {
  const CascadeEdge& e = *ch.table->cascade;
  const size_t n = e.child_columns.size();
  std::string where;
  for (size_t i = 0; i < n; ++i) {
    if (i) where += " AND ";
    t.Ident(where, e.child_columns[i]);
    where += " = ";
    RETURN_IF_ERROR(t.Literal(where, ch, i, ch.values[i]));
  }
  if (ch.op == Op::kDelete) return DeleteRows(t, e, where, 1);
  if (e.on_update == FkAction::kNone) return Status::Ok();
  std::vector<std::string> values(n, "NULL");
  if (e.on_update == FkAction::kCascade) {
    for (size_t i = 0; i < n; ++i) {
      values[i].clear();
      RETURN_IF_ERROR(t.Literal(values[i], ch, i, ch.values[n + i]));
    }
  }
  return t.Set(e, ChildTable(t, e), values, where);
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
