#include "jobs/flashback/row_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sodium.h>

#include <cstdlib>

#include "sink/mysql/sql_builder.h"

namespace sluice::jobs::flashback {
namespace {

namespace sql = sink::mysql;

Result<int64_t> Count(mysql::MysqlConnection& conn, const std::string& query) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, conn.QueryValue(query));
  return v ? std::strtoll(v->c_str(), nullptr, 10) : 0;
}

std::string CountPrefix(const TargetTable& t) {
  std::string q = "SELECT COUNT(*) FROM ";
  sql::AppendQualifiedName(q, t);
  q += " WHERE ";
  return q;
}

// Text and bytes over this size are compared by their SHA-256 (computed by
// the server too), so that a query about large rows stays small.
constexpr size_t kDigestOver = 1024;

std::string Sha256Hex(std::string_view s) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  return fmt::format("{:02x}", fmt::join(digest, ""));
}

// Column by column as sql::AppendRowMatch, large values by their digest.
Status AppendRowMatch(std::string& out, const TargetTable& t, const std::vector<Value>& values) {
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i) out += " AND ";
    const Value& v = values[i];
    if ((v.kind != ValueKind::kText && v.kind != ValueKind::kBytes) || v.s.size() <= kDigestOver) {
      RETURN_IF_ERROR(sql::AppendColumnMatch(out, t, i, v));
      continue;
    }
    std::string column;
    sql::AppendIdentifier(column, t.columns[i]);
    // Text as the UTF-8 it was captured as; bytes as they are.
    if (v.kind == ValueKind::kText) {
      out += fmt::format("SHA2(CONVERT({0} USING utf8mb4),256)='{1}' AND CHAR_LENGTH({0})={2}", column,
                         Sha256Hex(v.s), sql::Utf8Chars(v.s));
    } else {
      out += fmt::format("SHA2({0},256)='{1}' AND LENGTH({0})={2}", column, Sha256Hex(v.s), v.s.size());
    }
  }
  return Status::Ok();
}

// SELECT COUNT(*) FROM t WHERE (row1 matches) OR (row2 matches) ...
Result<int64_t> CountMatching(mysql::MysqlConnection& conn, const TargetTable& t,
                              const std::vector<const SinkChange*>& rows) {
  std::string q = CountPrefix(t);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) q += " OR ";
    q += '(';
    RETURN_IF_ERROR(AppendRowMatch(q, t, rows[i]->values));
    q += ')';
  }
  return Count(conn, q);
}

Result<int64_t> CountKeys(mysql::MysqlConnection& conn, const TargetTable& t,
                          const std::vector<const SinkChange*>& rows) {
  std::string q = CountPrefix(t);
  RETURN_IF_ERROR(sql::AppendKeyIn(q, t, rows));
  return Count(conn, q);
}

Status Changed(const FinalRow& r, const SinkChange& row, std::string_view now) {
  return Status::Error(StatusCode::kAborted,
                       "row {} of `{}`.`{}` changed after the range: the range's last change to it ({}) {}, but {}; "
                       "undoing would overwrite the later change (--force undoes anyway)",
                       sql::DescribeKey(row), r.table->db, r.table->table, r.Where(),
                       r.present ? "left it as its after image" : "left no such row", now);
}

// Row by row: the first row of `rows` that is not as the range left it.
Status FindChanged(mysql::MysqlConnection& conn, const TargetTable& t, const std::vector<const FinalRow*>& rows,
                   const std::vector<SinkChange>& changes) {
  for (size_t i = 0; i < rows.size(); ++i) {
    const FinalRow* r = rows[i];
    std::vector<const SinkChange*> one{&changes[i]};
    if (!t.has_key()) {
      ASSIGN_OR_RETURN(int64_t n, CountMatching(conn, t, one));
      if (n < r->count) {
        return Changed(*r, changes[i],
                       fmt::format("the table holds {} such rows where the range left at least {}", n, r->count));
      }
      continue;
    }
    ASSIGN_OR_RETURN(int64_t keyed, CountKeys(conn, t, one));
    if (!r->present) {
      if (keyed != 0) return Changed(*r, changes[i], "the table has a row with that key again");
      continue;
    }
    if (keyed == 0) return Changed(*r, changes[i], "the table has no row with that key now");
    ASSIGN_OR_RETURN(int64_t same, CountMatching(conn, t, one));
    if (same != 1) return Changed(*r, changes[i], "the row holds other values now");
  }
  return Status::Ok();
}

}  // namespace

Status CheckFinalRows(mysql::MysqlConnection& conn, const std::vector<FinalRow>& rows, size_t batch) {
  // Batches of one table version and one kind (present / gone / keyless).
  size_t i = 0;
  while (i < rows.size()) {
    const FinalRow& first = rows[i];
    const TargetTable& t = *first.table;
    std::vector<const FinalRow*> group;
    size_t j = i;
    while (j < rows.size() && group.size() < batch && rows[j].table == first.table &&
           rows[j].present == first.present) {
      group.push_back(&rows[j]);
      ++j;
    }
    // The rows' values, made for this batch only (FinalRow keeps a reference to the event).
    std::vector<SinkChange> changes;
    std::vector<const SinkChange*> ptrs;
    changes.reserve(group.size());
    for (const FinalRow* r : group) {
      changes.push_back(r->Row());
      ptrs.push_back(&changes.back());
    }
    bool fine;
    if (!t.has_key()) {
      fine = false;  // counts per distinct row: checked one by one
    } else if (first.present) {
      ASSIGN_OR_RETURN(int64_t n, CountMatching(conn, t, ptrs));
      fine = n == static_cast<int64_t>(group.size());
    } else {
      ASSIGN_OR_RETURN(int64_t n, CountKeys(conn, t, ptrs));
      fine = n == 0;
    }
    if (!fine) {
      RETURN_IF_ERROR(FindChanged(conn, t, group, changes));
    }
    i = j;
  }
  return Status::Ok();
}

}  // namespace sluice::jobs::flashback
