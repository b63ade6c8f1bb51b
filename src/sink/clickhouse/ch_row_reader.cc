#include "sink/clickhouse/ch_row_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "client/mysql/table_reader.h"
#include "sink/clickhouse/clickhouse_tables.h"
#include "sink/clickhouse/type_map.h"

namespace sluice::sink::clickhouse {
namespace {

using sluice::clickhouse::QuoteIdentifier;
using sluice::clickhouse::QuoteString;

constexpr size_t kKeysPerQuery = 500;

std::string Table(const TargetTable& t) { return QuoteIdentifier(t.db) + "." + QuoteIdentifier(t.table); }

std::string SelectList(const TargetTable& t, bool keys_only) {
  std::string out;
  const size_t n = keys_only ? t.key.size() : t.columns.size();
  for (size_t i = 0; i < n; ++i) out += (i ? ", " : "") + QuoteIdentifier(t.columns[keys_only ? t.key[i] : i]);
  return out;
}

}  // namespace

Value ParseClickhouseValue(const ColumnMeta& c, std::string_view s, Arena& arena) {
  const ValueKind kind = sluice::mysql::KindForColumn(c);
  if (auto number = ParseNumber(kind, s, arena)) return *number;
  if (kind == ValueKind::kDecimal) return Value::Str(kind, arena.Copy(FitFraction(s, c.meta & 0xff)));
  // Dates and date-times print as MySQL prints them; Strings hold the source's text or bytes.
  return Value::Str(kind, arena.Copy(s));
}

Result<std::unique_ptr<ChRowReader>> ChRowReader::Open(const SinkOptions& options) {
  ASSIGN_OR_RETURN(auto co, sluice::clickhouse::ClientOptions::FromUrl(options.url));
  co.read_timeout_s = std::max(co.read_timeout_s, 120);
  return std::unique_ptr<ChRowReader>(new ChRowReader(std::move(co)));
}

Result<std::string> ChRowReader::CheckTable(const TargetTable& t) {
  ASSIGN_OR_RETURN(auto rows, client_.QueryRows(fmt::format(
                                  "SELECT name FROM system.columns WHERE database = {} AND table = {} FORMAT "
                                  "TabSeparated",
                                  QuoteString(t.db), QuoteString(t.table))));
  if (rows.empty()) {
    return fmt::format("target table {} does not exist (check cannot create it; run the pipeline or create it)",
                       Table(t));
  }
  for (const std::string& name : t.columns) {
    bool found = false;
    for (const auto& r : rows) found = found || (!r.empty() && r[0] == name);
    if (!found) return fmt::format("target table {} has no column {}", Table(t), QuoteIdentifier(name));
  }
  return std::string();
}

Status ChRowReader::Read(const TargetTable& t, const std::string& sql, bool keys_only, RowBlock& out) {
  ASSIGN_OR_RETURN(auto rows, client_.QueryRows(sql + " FORMAT TabSeparated"));
  const size_t width = keys_only ? t.key.size() : t.columns.size();
  out.width = width;
  for (const auto& r : rows) {
    if (r.size() != width) return Status::Corruption("{}: {} columns read, {} expected", Table(t), r.size(), width);
    for (size_t i = 0; i < width; ++i) {
      const size_t col = keys_only ? t.key[i] : i;
      // QueryRows unescapes fields; NULL is the escape \N, which unescapes to "N".
      out.values.push_back(r[i] == "\\N" ? Value::Null() : ParseClickhouseValue(t.column_meta(col), r[i], *out.arena));
    }
  }
  return Status::Ok();
}

Result<RowBlock> ChRowReader::ReadKeys(const TargetTable& t, std::span<const Value> keys) {
  RowBlock out;
  out.width = t.columns.size();
  const size_t kw = t.key.size();
  if (kw == 0) return Status::Invalid("{}: lookup by key in a keyless table", Table(t));
  std::string key_list;
  for (size_t i = 0; i < kw; ++i) key_list += (i ? ", " : "") + QuoteIdentifier(t.columns[t.key[i]]);
  if (kw > 1) key_list = "(" + key_list + ")";
  const std::string head =
      fmt::format("SELECT {} FROM {} FINAL WHERE _sign = 1 AND {} IN (", SelectList(t, false), Table(t), key_list);
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
    for (size_t i = 0; i < kw && holdable; ++i) {
      const Value& v = keys[k + i];
      auto l = ValueLiteral(v, t.column_meta(t.key[i]));
      holdable = l.ok();
      if (holdable) lit += (i ? ", " : "") + *l;
    }
    if (!holdable) continue;
    if (in_list) list += ", ";
    list += kw > 1 ? "(" + lit + ")" : lit;
    if (++in_list == kKeysPerQuery) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(flush());
  return out;
}

Result<RowBlock> ChRowReader::ReadKeyPage(const TargetTable& t, KeyCursor& cursor, size_t limit) {
  RowBlock out;
  out.width = t.key.size();
  if (t.key.empty()) return Status::Invalid("{}: key pages of a keyless table", Table(t));
  limit = std::max<size_t>(limit, 1);
  const std::string order = SelectList(t, true);
  // The cursor holds the after-the-last-key predicate of the page before:
  // (k1 > v1) OR (k1 = v1 AND k2 > v2) ...
  std::string sql = fmt::format("SELECT {} FROM {} FINAL WHERE _sign = 1", order, Table(t));
  if (!cursor.state.empty()) sql += " AND (" + cursor.state + ")";
  sql += fmt::format(" ORDER BY {} LIMIT {}", order, limit);
  ASSIGN_OR_RETURN(auto rows, client_.QueryRows(sql + " FORMAT TabSeparated"));
  for (const auto& r : rows) {
    for (size_t i = 0; i < t.key.size() && i < r.size(); ++i) {
      out.values.push_back(ParseClickhouseValue(t.column_meta(t.key[i]), r[i], *out.arena));
    }
  }
  if (rows.size() < limit) {
    cursor.done = true;
    return out;
  }
  const auto& last = rows.back();
  std::vector<std::string> lits;
  for (size_t i = 0; i < t.key.size(); ++i) {
    ASSIGN_OR_RETURN(std::string l, TextLiteral(last[i], t.column_meta(t.key[i])));
    lits.push_back(std::move(l));
  }
  std::string pred;
  for (size_t i = 0; i < t.key.size(); ++i) {
    std::string term;
    for (size_t j = 0; j < i; ++j) term += QuoteIdentifier(t.columns[t.key[j]]) + " = " + lits[j] + " AND ";
    term += QuoteIdentifier(t.columns[t.key[i]]) + " > " + lits[i];
    pred += (i ? " OR (" : "(") + term + ")";
  }
  cursor.state = std::move(pred);
  return out;
}

Result<RowBlock> ChRowReader::ReadAll(const TargetTable& t) {
  RowBlock out;
  out.width = t.columns.size();
  RETURN_IF_ERROR(Read(t, fmt::format("SELECT {} FROM {} FINAL WHERE _sign = 1", SelectList(t, false), Table(t)), false, out));
  return out;
}

}  // namespace sluice::sink::clickhouse
