#include "sink/mysql/big_rows.h"

#include <fmt/format.h>

#include "sink/mysql/sql_builder.h"

namespace sluice::sink::mysql {
namespace {

bool Splittable(const Value& v) { return v.kind == ValueKind::kText || v.kind == ValueKind::kBytes; }

bool IsKey(const TargetTable& t, size_t column) {
  for (uint32_t k : t.key) {
    if (k == column) return true;
  }
  return false;
}

// WHERE k1=v1 AND k2=v2: the row by its key.
Status AppendKeyMatch(std::string& out, const TargetTable& t, const SinkChange& row) {
  for (size_t k = 0; k < t.key.size(); ++k) {
    if (k) out += " AND ";
    AppendIdentifier(out, t.columns[t.key[k]]);
    out += '=';
    RETURN_IF_ERROR(AppendLiteral(out, MysqlValue(t, t.key[k], row.values[t.key[k]])));
  }
  return Status::Ok();
}

std::string RaiseAdvice(size_t need) {
  // The setting's unit is bytes, a multiple of 1024, at most 1 GiB.
  size_t mib = (need + (1 << 20) - 1) >> 20;
  return fmt::format(
      "raise max_allowed_packet on the target to at least {}M (SET GLOBAL max_allowed_packet = {}; and in its "
      "configuration), then restart the pipeline",
      mib, mib << 20);
}

}  // namespace

size_t StatementBudget(size_t max_packet) { return max_packet > 16384 ? max_packet - 8192 : max_packet / 2; }

size_t StatementBytesBound(const TargetTable& t, const SinkChange& row) {
  size_t n = 128 + t.db.size() + t.table.size();
  for (const std::string& c : t.columns) n += 3 * (c.size() + 4);
  for (const Value& v : row.values) n += 2 * v.s.size() + 24;  // hex or escapes; ST_GeomFromWKB(...)
  return n;
}

Status TooBigForTarget(const TargetTable& t, size_t statement_bytes, size_t max_packet) {
  return Status::Error(StatusCode::kNotSupported,
                       "the row needs a statement of {} bytes, more than the target's max_allowed_packet ({} "
                       "bytes){}: {}",
                       statement_bytes, max_packet,
                       t.has_key() ? "" : ", and a row of a table without a key cannot be written in pieces",
                       RaiseAdvice(statement_bytes + 8192));
}

Status UpsertInPieces(const TargetTable& t, const SinkChange& row, bool replace, const std::vector<bool>* generated,
                      size_t max_packet, const std::function<Status(const std::string&)>& run) {
  FirstStatement upsert = [&](std::string& out, const SinkChange& r) {
    std::vector<const SinkChange*> one{&r};
    return replace ? BuildReplace(out, t, one, generated) : BuildUpsert(out, t, one, generated);
  };
  return WriteInPieces(t, row, upsert, generated, max_packet, run);
}

Status WriteInPieces(const TargetTable& t, const SinkChange& row, const FirstStatement& first_statement,
                     const std::vector<bool>* generated, size_t max_packet,
                     const std::function<Status(const std::string&)>& run) {
  const size_t budget = StatementBudget(max_packet);
  SinkChange first = row;
  std::string sql;
  auto build = [&]() {
    sql.clear();
    return first_statement(sql, first);
  };
  RETURN_IF_ERROR(build());
  std::vector<size_t> cut;  // columns written empty by the first statement, in the order cut
  while (sql.size() > budget) {
    size_t pick = first.values.size();
    for (size_t i = 0; i < first.values.size(); ++i) {
      if ((generated && i < generated->size() && (*generated)[i]) || IsKey(t, i)) continue;
      const Value& v = first.values[i];
      if (Splittable(v) && !v.s.empty() && (pick == first.values.size() || v.s.size() > first.values[pick].s.size())) {
        pick = i;
      }
    }
    if (pick == first.values.size()) return TooBigForTarget(t, sql.size(), max_packet);
    first.values[pick].s = first.values[pick].s.substr(0, 0);
    cut.push_back(pick);
    RETURN_IF_ERROR(build());
  }
  // The server's CONCAT yields NULL past max_allowed_packet: each value must
  // fit whole (checked before anything is written).
  for (size_t i : cut) {
    if (row.values[i].s.size() > max_packet) {
      return Status::Error(StatusCode::kNotSupported,
                           "column `{}` holds {} bytes, more than the target's max_allowed_packet ({} bytes), so "
                           "no statement can write it: {}",
                           t.columns[i], row.values[i].s.size(),
                           max_packet, RaiseAdvice(row.values[i].s.size()));
    }
  }
  RETURN_IF_ERROR(run(sql));
  std::string where;
  RETURN_IF_ERROR(AppendKeyMatch(where, t, row));
  for (size_t i : cut) {
    const Value& v = row.values[i];
    std::string head = "UPDATE ";
    AppendQualifiedName(head, t);
    head += " SET ";
    AppendIdentifier(head, t.columns[i]);
    head += "=CONCAT(";
    AppendIdentifier(head, t.columns[i]);
    head += ',';
    // A literal takes at most twice its bytes (hex, or every byte escaped).
    const size_t overhead = head.size() + where.size() + 16;
    const size_t piece = budget > overhead + 2 ? (budget - overhead) / 2 : 1;
    for (size_t at = 0; at < v.s.size();) {
      size_t n = std::min(piece, v.s.size() - at);
      // Text in whole characters: each piece is a valid string of its own.
      while (v.kind == ValueKind::kText && n > 1 && at + n < v.s.size() &&
             (static_cast<unsigned char>(v.s[at + n]) & 0xC0) == 0x80) {
        --n;
      }
      sql = head;
      RETURN_IF_ERROR(AppendLiteral(sql, Value::Str(v.kind, v.s.substr(at, n))));
      sql += ") WHERE ";
      sql += where;
      RETURN_IF_ERROR(run(sql));
      at += n;
    }
  }
  return Status::Ok();
}

}  // namespace sluice::sink::mysql
