#include "sink/clickhouse/column_retype.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>
#include <set>

#include "client/mysql/column_types.h"
#include "core/sync_point.h"
#include "sink/clickhouse/clickhouse_tables.h"

namespace sluice::sink::clickhouse {

namespace {

using sluice::clickhouse::ClickhouseClient;
using sluice::clickhouse::QuoteIdentifier;
using sluice::clickhouse::QuoteString;

std::string_view WithoutNullable(std::string_view t) {
  constexpr std::string_view kNullable = "Nullable(";
  if (t.substr(0, kNullable.size()) == kNullable && t.back() == ')') {
    return t.substr(kNullable.size(), t.size() - kNullable.size() - 1);
  }
  return t;
}

struct IntType {
  bool is_signed = true;
  int bits = 0;
};
std::optional<IntType> IntOf(std::string_view t) {
  IntType out;
  if (t.substr(0, 4) == "UInt") {
    out.is_signed = false;
    t.remove_prefix(4);
  } else if (t.substr(0, 3) == "Int") {
    t.remove_prefix(3);
  } else {
    return std::nullopt;
  }
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out.bits);
  if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
  return out;
}

// Decimal(p, s) as (integer digits, scale).
std::optional<std::pair<int, int>> DecimalOf(std::string_view t) {
  int p = 0, s = 0;
  if (std::sscanf(std::string(t).c_str(), "Decimal(%d, %d)", &p, &s) != 2) return std::nullopt;
  return std::make_pair(p - s, s);
}

// The decimal digits every value of an integer type fits in.
int DigitsOf(IntType i) {
  switch (i.bits) {
    case 8: return 3;
    case 16: return 5;
    case 32: return 10;
    default: return i.is_signed ? 19 : 20;
  }
}

// A character or byte string column of the source (not ENUM, SET or JSON,
// whose text a number does not convert to as ClickHouse's does).
bool IsPlainText(const ColumnMeta& c) {
  namespace m = sluice::mysql;
  if (c.is_json || !c.enum_values.empty()) return false;
  switch (c.type) {
    case m::kTypeVarchar:
    case m::kTypeVarString:
    case m::kTypeTinyBlob:
    case m::kTypeMediumBlob:
    case m::kTypeLongBlob:
    case m::kTypeBlob:
      return true;
    case m::kTypeString:
      return c.real_type == 0 || c.real_type == m::kTypeString;
    default:
      return false;
  }
}

std::string RetypeName(const std::string& table) { return "_sluice_retype_" + table; }
std::string RetiredName(const std::string& table) { return "_sluice_retired_" + table; }

Status Run(ClickhouseClient& client, const std::string& where, const std::string& sql) {
  auto r = client.Query(sql);
  if (!r.ok()) return r.status().WithContext(fmt::format("{}: {}", where, sql.substr(0, 300)));
  return Status::Ok();
}

// The keys a table holds (merges collapse versions at any time; keys stay).
Result<uint64_t> Keys(ClickhouseClient& client, const std::string& name) {
  ASSIGN_OR_RETURN(std::string n, client.Query("SELECT count() FROM " + name + " FINAL"));
  uint64_t v = 0;
  std::from_chars(n.data(), n.data() + n.size(), v);
  return v;
}

}  // namespace

bool ExactConversion(std::string_view from_type, std::string_view to_type, const ColumnMeta& column) {
  std::string_view from = WithoutNullable(from_type), to = WithoutNullable(to_type);
  if (from == to) return true;  // nullability alone
  auto from_int = IntOf(from), to_int = IntOf(to);
  auto from_dec = DecimalOf(from), to_dec = DecimalOf(to);
  if (from_int && to_int) {
    if (from_int->is_signed == to_int->is_signed) return to_int->bits >= from_int->bits;
    return !from_int->is_signed && to_int->bits > from_int->bits;  // signed cannot become unsigned
  }
  if (from == "Float32" && to == "Float64") return true;
  if (from_dec && to_dec) return to_dec->first >= from_dec->first && to_dec->second >= from_dec->second;
  if (from_int && to_dec) return to_dec->first >= DigitsOf(*from_int);
  // Both print integers and decimals as MySQL does (a decimal with all its scale digits).
  if (to == "String" && (from_int || from_dec)) return IsPlainText(column);
  return false;
}

Status FinishInterruptedRetype(ClickhouseClient& client, const std::string& db, const std::string& table,
                               const std::string& where) {
  const std::string copy = RetypeName(table), retired = RetiredName(table);
  ASSIGN_OR_RETURN(auto rows, client.QueryRows(fmt::format("SELECT name FROM system.tables WHERE database = {} AND "
                                                           "name IN ({}, {}, {}) FORMAT TabSeparated",
                                                           QuoteString(db), QuoteString(table), QuoteString(copy),
                                                           QuoteString(retired))));
  std::set<std::string> have;
  for (const auto& r : rows) {
    if (!r.empty()) have.insert(r[0]);
  }
  if (!have.count(copy) && !have.count(retired)) return Status::Ok();
  if (have.count(retired)) {
    // The RENAME began: the copy is complete.
    if (!have.count(table) && have.count(copy)) {
      RETURN_IF_ERROR(Run(client, where,
                          fmt::format("RENAME TABLE {} TO {}", TableName(db, copy), TableName(db, table))));
    }
    spdlog::info("{}: finishing a reshaping copy interrupted after its RENAME", where);
    return Run(client, where, "DROP TABLE IF EXISTS " + TableName(db, retired));
  }
  spdlog::info("{}: dropping a reshaping copy interrupted before its RENAME; it is made again", where);
  return Run(client, where, "DROP TABLE IF EXISTS " + TableName(db, copy));
}

Status ReplaceByCopy(ClickhouseClient& client, const std::string& db, const std::string& table,
                     const std::vector<std::pair<std::string, std::string>>& existing,
                     const std::map<std::string, CopiedColumn>& changes, const std::vector<std::string>& key,
                     const std::string& where, std::string_view why) {
  const std::string name = TableName(db, table);
  const std::string copy = TableName(db, RetypeName(table)), retired = TableName(db, RetiredName(table));
  // Only a table as sluice makes it is copied into a new shape: one made by
  // hand (another engine, a partition key) would lose what it was made with.
  ASSIGN_OR_RETURN(auto made, client.QueryRows(fmt::format("SELECT engine, partition_key FROM system.tables WHERE "
                                                           "database = {} AND name = {} FORMAT TabSeparated",
                                                           QuoteString(db), QuoteString(table))));
  if (!made.empty() && made[0].size() >= 2 && (made[0][0] != "ReplacingMergeTree" || !made[0][1].empty())) {
    return Status::Error(StatusCode::kNotSupported,
                         "{}: {}, which ClickHouse cannot follow in place and sluice follows by copying the table "
                         "into a new one; this table has engine {}{}, which sluice does not make and the copy would "
                         "not keep: change the table in ClickHouse to match the source and start the pipeline again",
                         where, why, made[0][0], made[0][1].empty() ? "" : " and PARTITION BY " + made[0][1]);
  }
  std::string columns, create, select;
  for (const auto& [col, type] : existing) {
    if (col == "_version" || col == "_sign") continue;
    auto it = changes.find(col);
    const CopiedColumn to = it == changes.end() ? CopiedColumn{col, type} : it->second;
    columns += QuoteIdentifier(to.name) + ", ";
    create += QuoteIdentifier(to.name) + " " + to.type + ", ";
    select += to.type == type ? QuoteIdentifier(col) + ", "
                              : fmt::format("CAST({} AS {}), ", QuoteIdentifier(col), to.type);
  }
  std::string order;
  for (const auto& k : key) order += (order.empty() ? "" : ", ") + QuoteIdentifier(k);
  auto before = Keys(client, name);
  if (!before.ok()) return before.status().WithContext(where);
  spdlog::info("{}: {}: copying the table ({} keys) into its new shape", where, why, *before);
  RETURN_IF_ERROR(Run(client, where, "DROP TABLE IF EXISTS " + copy));
  RETURN_IF_ERROR(Run(client, where,
                      fmt::format("CREATE TABLE {} ({}`_version` UInt64, `_sign` Int8) ENGINE = "
                                  "ReplacingMergeTree(`_version`) ORDER BY ({})",
                                  copy, create, order)));
  RETURN_IF_ERROR(Run(client, where,
                      fmt::format("INSERT INTO {} ({}`_version`, `_sign`) SELECT {}`_version`, `_sign` FROM {}", copy,
                                  columns, select, name)));
  SLUICE_SYNC_POINT("clickhouse.retype.copied");
  // Nothing else writes the table while this writer reshapes it; a copy
  // that differs is not put in its place.
  auto after = Keys(client, copy);
  if (!after.ok()) return after.status().WithContext(where);
  auto now = Keys(client, name);
  if (!now.ok()) return now.status().WithContext(where);
  if (*after != *before || *now != *before) {
    return Status::Retryable(StatusCode::kIoError,
                             "{}: the copy of the table holds {} keys, the table {} (then {}); made again", where,
                             *after, *now, *before);
  }
  RETURN_IF_ERROR(Run(client, where, fmt::format("RENAME TABLE {} TO {}, {} TO {}", name, retired, copy, name)));
  SLUICE_SYNC_POINT("clickhouse.retype.renamed");
  return Run(client, where, "DROP TABLE IF EXISTS " + retired);
}

Result<std::vector<std::string>> SortingKey(ClickhouseClient& client, const std::string& db,
                                            const std::string& table) {
  ASSIGN_OR_RETURN(auto rows, client.QueryRows(fmt::format("SELECT sorting_key FROM system.tables WHERE database = {} "
                                                           "AND name = {} FORMAT TabSeparated",
                                                           QuoteString(db), QuoteString(table))));
  if (rows.empty() || rows[0].empty()) return Status::Error(StatusCode::kNotFound, "table {}.{} not found", db, table);
  // "id, `my col`": names, backquoted where they need it (\` and \\ escaped).
  std::vector<std::string> key;
  const std::string& text = rows[0][0];
  std::string name;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\' && i + 1 < text.size()) {
        name += text[++i];
      } else if (c == '`') {
        quoted = false;
      } else {
        name += c;
      }
    } else if (c == '`') {
      quoted = true;
    } else if (c == ',') {
      key.push_back(std::move(name));
      name.clear();
    } else if (c != ' ') {
      name += c;
    }
  }
  if (!name.empty()) key.push_back(std::move(name));
  return key;
}

}  // namespace sluice::sink::clickhouse
