#include "sink/postgres/pg_row_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "sink/postgres/pg_statements.h"
#include "sink/postgres/pg_types.h"

namespace sluice::sink::postgres {
namespace {

using sluice::postgres::PgConnection;
using sluice::postgres::QuoteIdent;

// Keys per lookup statement: long enough to amortize a round trip, short
// enough for a statement of reasonable size.
constexpr size_t kKeysPerQuery = 500;

// "838:59:59.5", "-01:02:03", "2 days 03:00:00" -> MySQL's TIME text.
bool ParseInterval(std::string_view s, unsigned fsp, std::string& out) {
  int64_t days = 0;
  size_t sp = s.find(' ');
  if (sp != std::string_view::npos) {
    if (!ParseWhole(s.substr(0, sp), days)) return false;
    s.remove_prefix(sp + 1);
    if (s.starts_with("days ")) {
      s.remove_prefix(5);
    } else if (s.starts_with("day ")) {
      s.remove_prefix(4);
    } else {
      return false;
    }
  }
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (days != 0 && (days < 0) != negative && !(days < 0 && s == "00:00:00")) return false;  // mixed signs
  size_t colon = s.find(':');
  int64_t hours = 0;
  if (colon == std::string_view::npos || !ParseWhole(s.substr(0, colon), hours)) return false;
  std::string_view rest = s.substr(colon);  // ":MM:SS[.f]"
  if (rest.size() < 6 || rest[3] != ':') return false;
  hours += (days < 0 ? -days : days) * 24;
  negative = negative || days < 0;
  out = fmt::format("{}{:02}{}", negative ? "-" : "", hours, rest);
  out = FitFraction(out, fsp);
  return true;
}

}  // namespace

Value ParsePgValue(const ColumnMeta& c, std::string_view s, Arena& arena) {
  const ValueKind kind = sluice::mysql::KindForColumn(c);
  auto raw = [&] { return Value::Str(ValueKind::kText, arena.Copy(s)); };
  if (kind != ValueKind::kBit) {  // bit varying prints as 0s and 1s
    if (auto number = ParseNumber(kind, s, arena)) return *number;
  }
  switch (kind) {
    case ValueKind::kBit: {
      uint64_t v = 0;
      if (s.empty() || s.size() > 64 || s.find_first_not_of("01") != std::string_view::npos) return raw();
      for (char ch : s) v = (v << 1) | (ch == '1');
      return Value::Bit(v);
    }
    case ValueKind::kDecimal:
      return Value::Str(kind, arena.Copy(FitFraction(s, c.meta & 0xff)));
    case ValueKind::kDateTime:
      return Value::Str(kind, arena.Copy(FitFraction(s, c.meta)));
    case ValueKind::kTimestamp: {
      std::string_view t = s;
      if (t.ends_with("+00")) t.remove_suffix(3);
      return Value::Str(kind, arena.Copy(FitFraction(t, c.meta)));
    }
    case ValueKind::kTime: {
      std::string text;
      if (!ParseInterval(s, c.meta, text)) return raw();
      return Value::Str(kind, arena.Copy(text));
    }
    case ValueKind::kBytes:
    case ValueKind::kGeometry: {
      if (!s.starts_with("\\x") || s.size() % 2 != 0) return raw();
      std::string bytes;
      bytes.reserve(s.size() / 2 - 1);
      auto nibble = [](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
        return -1;
      };
      for (size_t i = 2; i < s.size(); i += 2) {
        int hi = nibble(s[i]), lo = nibble(s[i + 1]);
        if (hi < 0 || lo < 0) return raw();
        bytes += static_cast<char>(hi << 4 | lo);
      }
      return Value::Str(kind, arena.Copy(bytes));
    }
    default:  // text, ENUM, SET, JSON, DATE: PostgreSQL prints them as MySQL does
      return Value::Str(kind, arena.Copy(s));
  }
}

Result<std::unique_ptr<PgRowReader>> PgRowReader::Open(const sluice::postgres::ConnectOptions& options,
                                                       Interrupter* interrupt) {
  auto o = options;
  if (o.query_timeout_s == 0) o.query_timeout_s = 120;  // a hung server fails the check, naming it
  ASSIGN_OR_RETURN(auto c, PgConnection::Connect(o, interrupt));
  // The output formats ParsePgValue reads.
  RETURN_IF_ERROR(
      c->Execute("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; "
                 "SET bytea_output = 'hex'; SET extra_float_digits = 1"));
  return std::unique_ptr<PgRowReader>(new PgRowReader(std::move(c)));
}

Result<std::string> PgRowReader::CheckTable(const TargetTable& t) {
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format(
                                  "SELECT column_name FROM information_schema.columns WHERE table_schema = {} AND "
                                  "table_name = {}",
                                  sluice::postgres::QuoteLiteral(t.db), sluice::postgres::QuoteLiteral(t.table))));
  if (rows.empty()) {
    return fmt::format("target table {} does not exist (check cannot create it; run the pipeline or create it)",
                       QualifiedName(t.db, t.table));
  }
  for (const std::string& name : t.columns) {
    bool found = false;
    for (const auto& r : rows) found = found || (r[0] && *r[0] == name);
    if (!found) return fmt::format("target table {} has no column {}", QualifiedName(t.db, t.table), QuoteIdent(name));
  }
  return std::string();
}

Status PgRowReader::Read(const TargetTable& t, const std::string& sql, bool keys_only, RowBlock& out) {
  ASSIGN_OR_RETURN(auto rows, conn_->Query(sql));
  const size_t width = keys_only ? t.key.size() : t.columns.size();
  out.width = width;
  for (const auto& r : rows) {
    if (r.size() != width) return Status::Corruption("{}: {} columns read, {} expected", QualifiedName(t.db, t.table), r.size(), width);
    for (size_t i = 0; i < width; ++i) {
      const size_t col = keys_only ? t.key[i] : i;
      out.values.push_back(r[i] ? ParsePgValue(t.column_meta(col), *r[i], *out.arena) : Value::Null());
    }
  }
  return Status::Ok();
}

namespace {

std::string SelectList(const TargetTable& t, bool keys_only) {
  std::string out;
  const size_t n = keys_only ? t.key.size() : t.columns.size();
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += QuoteIdent(t.columns[keys_only ? t.key[i] : i]);
    out += "::text";
  }
  return out;
}

std::string KeyList(const TargetTable& t) {
  std::string out;
  for (size_t i = 0; i < t.key.size(); ++i) {
    if (i) out += ", ";
    out += QuoteIdent(t.columns[t.key[i]]);
  }
  return t.key.size() > 1 ? "(" + out + ")" : out;
}

}  // namespace

Result<RowBlock> PgRowReader::ReadKeys(const TargetTable& t, std::span<const Value> keys) {
  RowBlock out;
  out.width = t.columns.size();
  const size_t kw = t.key.size();
  if (kw == 0) return Status::Invalid("{}: lookup by key in a keyless table", QualifiedName(t.db, t.table));
  const std::string head = fmt::format("SELECT {} FROM {} WHERE {} IN (", SelectList(t, false),
                                       QualifiedName(t.db, t.table), KeyList(t));
  std::string list, lit;
  size_t in_list = 0;
  auto flush = [&]() -> Status {
    if (in_list == 0) return Status::Ok();
    RETURN_IF_ERROR(Read(t, head + list + ")", false, out));
    list.clear();
    in_list = 0;
    return Status::Ok();
  };
  for (size_t k = 0; k + kw <= keys.size(); k += kw) {
    lit.clear();
    bool holdable = true;
    if (kw > 1) lit += '(';
    for (size_t i = 0; i < kw && holdable; ++i) {
      if (i) lit += ", ";
      const Value& v = keys[k + i];
      // A key the sink would refuse (a NUL byte, a zero date) cannot be on the target.
      holdable = !v.is_null() && AppendPgLiteral(lit, v, t.column_meta(t.key[i])).ok();
    }
    if (!holdable) continue;
    if (kw > 1) lit += ')';
    if (in_list) list += ", ";
    list += lit;
    if (++in_list == kKeysPerQuery) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(flush());
  return out;
}

Result<RowBlock> PgRowReader::ReadKeyPage(const TargetTable& t, KeyCursor& cursor, size_t limit) {
  RowBlock out;
  out.width = t.key.size();
  if (t.key.empty()) return Status::Invalid("{}: key pages of a keyless table", QualifiedName(t.db, t.table));
  std::string order;
  for (size_t i = 0; i < t.key.size(); ++i) order += (i ? ", " : "") + QuoteIdent(t.columns[t.key[i]]);
  // The cursor holds the last key as PostgreSQL printed it, quoted: the
  // next page starts right after it in the index's order.
  std::string sql = fmt::format("SELECT {} FROM {}", SelectList(t, true), QualifiedName(t.db, t.table));
  if (!cursor.state.empty()) sql += fmt::format(" WHERE ({}) > ({})", order, cursor.state);
  sql += fmt::format(" ORDER BY {} LIMIT {}", order, std::max<size_t>(limit, 1));
  ASSIGN_OR_RETURN(auto rows, conn_->Query(sql));
  for (const auto& r : rows) {
    for (size_t i = 0; i < t.key.size(); ++i) {
      out.values.push_back(r[i] ? ParsePgValue(t.column_meta(t.key[i]), *r[i], *out.arena) : Value::Null());
    }
  }
  if (rows.size() < std::max<size_t>(limit, 1)) {
    cursor.done = true;
  } else {
    cursor.state.clear();
    const auto& last = rows.back();
    for (size_t i = 0; i < last.size(); ++i) {
      if (i) cursor.state += ", ";
      cursor.state += last[i] ? sluice::postgres::QuoteLiteral(*last[i]) : "NULL";
    }
  }
  return out;
}

Result<RowBlock> PgRowReader::ReadAll(const TargetTable& t) {
  RowBlock out;
  out.width = t.columns.size();
  RETURN_IF_ERROR(Read(t, fmt::format("SELECT {} FROM {}", SelectList(t, false), QualifiedName(t.db, t.table)), false, out));
  return out;
}

}  // namespace sluice::sink::postgres
