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

// Deletes (or sets to NULL the keys of) the rows of e's child that `rows`
// names, after redoing the actions of the keys referencing them.
Status DeleteRows(CascadeTarget& t, const CascadeEdge& e, const CascadeRows& rows, int depth) {
  const std::string table = ChildTable(t, e);
  if (e.on_delete == FkAction::kSetNull) {
    return t.Set(e, table, std::vector<std::string>(e.child_columns.size(), "NULL"), rows);
  }
  if (e.on_delete != FkAction::kCascade) return Status::Ok();
  // The server refuses a chain deeper than kMaxCascadeDepth: the source's
  // statement would have failed rather than reach further.
  if (!e.next.empty() && depth < kMaxCascadeDepth) {
    ASSIGN_OR_RETURN(bool any, t.Exists("SELECT 1 " + t.FromWhere(table, rows.where) + " LIMIT 1"));
    if (!any) return Status::Ok();
    for (const CascadeEdge* next : e.next) {
      CascadeRows below;
      below.parents = "SELECT ";
      for (size_t i = 0; i < next->parent_columns.size(); ++i) {
        if (i) below.parents += ", ";
        t.Ident(below.parents, next->parent_columns[i]);
      }
      below.parents += " " + t.FromWhere(table, rows.where);
      // The subquery is materialized (a derived table, NO_MERGE on MySQL):
      // MySQL refuses a subquery on the table a DELETE or UPDATE changes.
      AppendTuple(t, below.where, next->child_columns);
      below.where += " IN (SELECT /*+ NO_MERGE(sluice_rows) */ * FROM (" + below.parents + ") AS sluice_rows)";
      RETURN_IF_ERROR(DeleteRows(t, *next, below, depth + 1));
    }
  }
  return t.Delete(e, table, rows);
}

}  // namespace

std::string SqlCascadeTarget::JoinParents(const CascadeEdge& e, const std::string& table,
                                          const CascadeRows& rows) const {
  // The child table by its full name, not an alias: MariaDB resolves the
  // multi-table DELETE's target list in the session's database.
  std::string out = " JOIN (" + rows.parents + ") AS sluice_rows ON ";
  for (size_t i = 0; i < e.child_columns.size(); ++i) {
    if (i) out += " AND ";
    out += table + ".";
    Ident(out, e.child_columns[i]);
    out += " = sluice_rows.";
    Ident(out, e.parent_columns[i]);
  }
  return out;
}

Status SqlCascadeTarget::Delete(const CascadeEdge& e, const std::string& table, const CascadeRows& rows) {
  if (dialect_.join_parents && !rows.parents.empty()) {
    return run_("DELETE /*+ NO_MERGE(sluice_rows) */ " + table + " FROM " + table + JoinParents(e, table, rows));
  }
  return run_("DELETE FROM " + table + " WHERE " + rows.where);
}

Status SqlCascadeTarget::Set(const CascadeEdge& e, const std::string& table, const std::vector<std::string>& values,
                             const CascadeRows& rows) {
  const bool join = dialect_.join_parents && !rows.parents.empty();
  std::string sql = join ? "UPDATE /*+ NO_MERGE(sluice_rows) */ " + table + JoinParents(e, table, rows) + " SET "
                         : "UPDATE " + table + " SET ";
  for (size_t i = 0; i < e.child_columns.size(); ++i) {
    if (i) sql += ", ";
    if (join) sql += table + ".";
    Ident(sql, e.child_columns[i]);
    sql += " = " + values[i];
  }
  return run_(join ? sql : sql + " WHERE " + rows.where);
}

Status RedoCascade(CascadeTarget& t, const SinkChange& ch) {
  const CascadeEdge& e = *ch.table->cascade;
  const size_t n = e.child_columns.size();
  CascadeRows rows;
  for (size_t i = 0; i < n; ++i) {
    if (i) rows.where += " AND ";
    t.Ident(rows.where, e.child_columns[i]);
    rows.where += " = ";
    RETURN_IF_ERROR(t.Literal(rows.where, ch, i, ch.values[i]));
  }
  if (ch.op == Op::kDelete) return DeleteRows(t, e, rows, 1);
  if (e.on_update == FkAction::kNone) return Status::Ok();
  std::vector<std::string> values(n, "NULL");
  if (e.on_update == FkAction::kCascade) {
    for (size_t i = 0; i < n; ++i) {
      values[i].clear();
      RETURN_IF_ERROR(t.Literal(values[i], ch, i, ch.values[n + i]));
    }
  }
  return t.Set(e, ChildTable(t, e), values, rows);
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
