#include "sink/postgres/pg_statements.h"

#include <fmt/format.h>

#include "client/postgres/connection.h"
#include "sink/postgres/pg_types.h"

namespace sluice::sink::postgres {
namespace {

using sluice::postgres::AppendQuotedIdent;

Status AppendRow(std::string& out, const TargetTable& t, const SinkChange& ch) {
  out += '(';
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i) out += ", ";
    Status st = AppendPgLiteral(out, ch.values[i], t.column_meta(i));
    if (!st.ok()) return st;
  }
  out += ')';
  return Status::Ok();
}

// 'text'::type: typed, so that row comparisons resolve like the column.
Status AppendTypedLiteral(std::string& out, const TargetTable& t, size_t i, const Value& v) {
  RETURN_IF_ERROR(AppendPgLiteral(out, v, t.column_meta(i)));
  if (v.kind == ValueKind::kNull) return Status::Ok();
  ASSIGN_OR_RETURN(std::string type, PgType(t.column_meta(i)));
  out += "::";
  out += type;
  return Status::Ok();
}

Status CascadeLiteral(std::string& out, const SinkChange& ch, size_t i, const Value& v) {
  return AppendTypedLiteral(out, *ch.table, i, v);
}

}  // namespace

const SqlDialect kPgDialect{AppendQuotedIdent, CascadeLiteral};

std::string QualifiedName(std::string_view db, std::string_view table) {
  std::string out;
  AppendQuotedIdent(out, db);
  out += '.';
  AppendQuotedIdent(out, table);
  return out;
}

std::string ColumnList(const TargetTable& t) {
  std::string out;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i) out += ", ";
    AppendQuotedIdent(out, t.columns[i]);
  }
  return out;
}

Result<std::string> BuildCreateTable(const TargetTable& t) {
  std::string out = "CREATE TABLE IF NOT EXISTS " + QualifiedName(t.db, t.table) + " (";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i) out += ", ";
    AppendQuotedIdent(out, t.columns[i]);
    ASSIGN_OR_RETURN(std::string type, PgType(t.column_meta(i)));
    out += ' ';
    out += type;
  }
  if (t.has_key()) {
    out += ", PRIMARY KEY (";
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) out += ", ";
      AppendQuotedIdent(out, t.columns[t.key[k]]);
    }
    out += ')';
  }
  out += ')';
  return out;
}

std::string OnConflictClause(const TargetTable& t) {
  std::string out = " ON CONFLICT (";
  for (size_t k = 0; k < t.key.size(); ++k) {
    if (k) out += ", ";
    AppendQuotedIdent(out, t.columns[t.key[k]]);
  }
  out += ") DO ";
  bool any = false;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (std::find(t.key.begin(), t.key.end(), i) != t.key.end()) continue;
    out += any ? ", " : "UPDATE SET ";
    any = true;
    AppendQuotedIdent(out, t.columns[i]);
    out += " = EXCLUDED.";
    AppendQuotedIdent(out, t.columns[i]);
  }
  if (!any) out += "NOTHING";
  return out;
}

Status BuildInsert(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  out += "INSERT INTO " + QualifiedName(t.db, t.table) + " (" + ColumnList(t) + ")" + kOverridingIdentity + " VALUES ";
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r) out += ", ";
    RETURN_IF_ERROR(AppendRow(out, t, *rows[r]));
  }
  return Status::Ok();
}

Status BuildUpsert(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  std::vector<const SinkChange*> whole;
  for (const SinkChange* c : rows) {
    if (!IsPartial(*c)) whole.push_back(c);
  }
  if (!whole.empty()) {
    RETURN_IF_ERROR(BuildInsert(out, t, whole));
    out += OnConflictClause(t);
  }
  if (whole.size() == rows.size()) return Status::Ok();
  for (const SinkChange* c : rows) {
    if (!IsPartial(*c)) continue;
    if (!out.empty()) out += "; ";
    RETURN_IF_ERROR(BuildPartialUpdate(out, t, *c));
  }
  return Status::Ok();
}

Status BuildPartialUpdate(std::string& out, const TargetTable& t, const SinkChange& row) {
  out += "UPDATE " + QualifiedName(t.db, t.table) + " SET ";
  bool first = true;
  for (size_t i = 0; i < row.values.size(); ++i) {
    if (row.values[i].kind == ValueKind::kAbsent) continue;
    if (std::find(t.key.begin(), t.key.end(), i) != t.key.end()) continue;
    if (!first) out += ", ";
    first = false;
    AppendQuotedIdent(out, t.columns[i]);
    out += " = ";
    RETURN_IF_ERROR(AppendTypedLiteral(out, t, i, row.values[i]));
  }
  if (first) {  // nothing but the key: a no-op that touches only an existing row
    AppendQuotedIdent(out, t.columns[t.key[0]]);
    out += " = ";
    AppendQuotedIdent(out, t.columns[t.key[0]]);
  }
  out += " WHERE ";
  for (size_t k = 0; k < t.key.size(); ++k) {
    if (k) out += " AND ";
    AppendQuotedIdent(out, t.columns[t.key[k]]);
    out += " = ";
    RETURN_IF_ERROR(AppendTypedLiteral(out, t, t.key[k], row.values[t.key[k]]));
  }
  return Status::Ok();
}

Status BuildDelete(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  out += "DELETE FROM " + QualifiedName(t.db, t.table) + " WHERE ";
  const bool composite = t.key.size() > 1;
  if (composite) out += '(';
  for (size_t k = 0; k < t.key.size(); ++k) {
    if (k) out += ", ";
    AppendQuotedIdent(out, t.columns[t.key[k]]);
  }
  out += composite ? ") IN (" : " IN (";
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r) out += ", ";
    if (composite) out += '(';
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) out += ", ";
      RETURN_IF_ERROR(AppendTypedLiteral(out, t, t.key[k], rows[r]->values[t.key[k]]));
    }
    if (composite) out += ')';
  }
  out += ')';
  return Status::Ok();
}

Status BuildDeleteExact(std::string& out, const TargetTable& t, const SinkChange& row) {
  const std::string name = QualifiedName(t.db, t.table);
  out += "DELETE FROM " + name + " WHERE ctid = (SELECT ctid FROM " + name + " WHERE ";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i) out += " AND ";
    AppendQuotedIdent(out, t.columns[i]);
    out += " IS NOT DISTINCT FROM ";
    RETURN_IF_ERROR(AppendTypedLiteral(out, t, i, row.values[i]));
  }
  out += " LIMIT 1) RETURNING 1";
  return Status::Ok();
}

Status AppendCopyRows(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  for (const SinkChange* ch : rows) {
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (i) out += '\t';
      RETURN_IF_ERROR(AppendCopyField(out, ch->values[i], t.column_meta(i)));
    }
    out += '\n';
  }
  return Status::Ok();
}

std::string DescribeKey(const SinkChange& c) {
  const TargetTable& t = *c.table;
  std::vector<uint32_t> cols = t.key;
  if (cols.empty()) {
    for (uint32_t i = 0; i < t.columns.size() && i < 4; ++i) cols.push_back(i);
  }
  std::string out;
  if (cols.size() > 1) out += '(';
  for (size_t k = 0; k < cols.size(); ++k) {
    if (k) out += ", ";
    out += t.columns[cols[k]];
    out += '=';
    std::string lit;
    const Value& v = c.values[cols[k]];
    if (v.kind == ValueKind::kNull) {
      lit = "NULL";
    } else {
      // The value as it came, even one PostgreSQL cannot hold (that is
      // what a message about it needs to show); a NUL byte as \0.
      std::string text;
      if (!AppendPgText(text, v, t.column_meta(cols[k])).ok()) text = std::string(v.s);
      for (char ch : text) lit += ch == '\0' ? std::string("\\0") : std::string(1, ch);
      lit = sluice::postgres::QuoteLiteral(lit);
    }
    if (lit.size() > 64) lit = lit.substr(0, 61) + "...";
    out += lit;
  }
  if (cols.size() > 1) out += ')';
  return out;
}

}  // namespace sluice::sink::postgres
