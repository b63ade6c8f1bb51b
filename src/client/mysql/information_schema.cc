#include "client/mysql/information_schema.h"

#include <algorithm>
#include <cstdlib>

#include "client/mysql/column_types.h"

namespace sluice::mysql {
namespace {

bool In(uint8_t t, std::initializer_list<uint8_t> set) { return std::find(set.begin(), set.end(), t) != set.end(); }

}  // namespace

bool ColumnTypeAgrees(const ColumnMeta& b, const InformationSchemaColumn& is) {
  const std::string& t = is.data_type;
  uint8_t real = b.type == kTypeString ? DecodeStringMeta(b.meta).real_type : b.type;
  if (t == "tinyint") return b.type == kTypeTiny;
  if (t == "smallint") return b.type == kTypeShort;
  if (t == "mediumint") return b.type == kTypeInt24;
  if (t == "int" || t == "integer") return b.type == kTypeLong;
  if (t == "bigint") return b.type == kTypeLongLong;
  if (t == "float") return b.type == kTypeFloat;
  if (t == "double" || t == "real" || t == "double precision") return b.type == kTypeDouble;
  if (t == "decimal" || t == "numeric") return b.type == kTypeNewDecimal || b.type == kTypeDecimal;
  if (t == "date") return In(b.type, {kTypeDate, kTypeNewDate});
  if (t == "time") return In(b.type, {kTypeTime, kTypeTime2});
  if (t == "datetime") return In(b.type, {kTypeDateTime, kTypeDateTime2});
  if (t == "timestamp") return In(b.type, {kTypeTimestamp, kTypeTimestamp2});
  if (t == "year") return b.type == kTypeYear;
  if (t == "bit") return b.type == kTypeBit;
  if (t == "char" || t == "binary") return In(b.type, {kTypeString, kTypeVarString}) && real == kTypeString;
  if (t == "varchar" || t == "varbinary") return In(b.type, {kTypeVarchar, kTypeVarString});
  if (t == "enum") return real == kTypeEnum;
  if (t == "set") return real == kTypeSet;
  if (t == "json") return In(b.type, {kTypeJson, kTypeBlob});
  if (t.find("text") != std::string::npos || t.find("blob") != std::string::npos) {
    return In(b.type, {kTypeBlob, kTypeTinyBlob, kTypeMediumBlob, kTypeLongBlob});
  }
  if (t == "geometry" || t == "point" || t == "linestring" || t == "polygon" || t == "multipoint" ||
      t == "multilinestring" || t == "multipolygon" || t == "geometrycollection" || t == "geomcollection") {
    return b.type == kTypeGeometry;
  }
  if (t == "inet6" || t == "inet4" || t == "uuid") return In(b.type, {kTypeString, kTypeVarString});
  if (t == "vector") return b.type == kTypeVector;
  return true;  // a type this table does not know: nothing to contradict
}

std::vector<std::string> ParseEnumMembers(std::string_view ct) {
  std::vector<std::string> out;
  size_t open = ct.find('(');
  if (open == std::string_view::npos) return out;
  size_t i = open + 1;
  while (i < ct.size() && ct[i] == '\'') {
    std::string member;
    ++i;
    while (i < ct.size()) {
      if (ct[i] == '\'' && i + 1 < ct.size() && ct[i + 1] == '\'') {
        member += '\'';
        i += 2;
      } else if (ct[i] == '\\' && i + 1 < ct.size()) {
        member += ct[i + 1];
        i += 2;
      } else if (ct[i] == '\'') {
        ++i;
        break;
      } else {
        member += ct[i++];
      }
    }
    out.push_back(std::move(member));
    if (i < ct.size() && ct[i] == ',') ++i;
  }
  return out;
}

Result<InformationSchemaTable> ReadInformationSchemaTable(MysqlConnection& conn, bool is_mariadb, std::string_view db,
                                                          std::string_view table) {
  InformationSchemaTable t;
  std::string where = fmt::format("TABLE_SCHEMA = '{}' AND TABLE_NAME = '{}'", conn.Escape(db), conn.Escape(table));
  ASSIGN_OR_RETURN(auto cols, conn.Query("SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, CHARACTER_SET_NAME, "
                                           "IS_NULLABLE, (SELECT k.ID FROM information_schema.COLLATIONS k WHERE "
                                           "k.COLLATION_NAME = c.COLLATION_NAME), GENERATION_EXPRESSION "
                                           "FROM information_schema.COLUMNS c WHERE " + where +
                                           " ORDER BY ORDINAL_POSITION"));
  for (auto& r : cols) {
    InformationSchemaColumn c;
    c.name = r[0].value_or("");
    c.data_type = r[1].value_or("");
    c.column_type = r[2].value_or("");
    c.charset = r[3].value_or("");
    c.nullable = r[4].value_or("YES") != "NO";
    if (r.size() > 5 && r[5]) c.collation = static_cast<uint32_t>(std::strtoul(r[5]->c_str(), nullptr, 10));
    if (r.size() > 6 && r[6]) c.generation = *r[6];
    t.columns.push_back(std::move(c));
  }
  t.exists = !t.columns.empty();
  if (t.exists && is_mariadb) {
    ASSIGN_OR_RETURN(auto type, conn.Query("SELECT TABLE_TYPE FROM information_schema.TABLES WHERE " + where));
    t.system_versioned = !type.empty() && type[0][0].value_or("") == "SYSTEM VERSIONED";
  }
  if (t.exists) {
    ASSIGN_OR_RETURN(auto pk, conn.Query("SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE " + where +
                                           " AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX"));
    for (auto& r : pk) {
      for (uint32_t i = 0; i < t.columns.size(); ++i) {
        if (t.columns[i].name == r[0].value_or("")) t.primary_key.push_back(i);
      }
    }
    if (t.primary_key.empty()) {
      ASSIGN_OR_RETURN(auto uk, conn.Query("SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE " +
                                             where + " AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX"));
      std::string current;
      std::vector<uint32_t> cols_of_index;
      bool usable = true;
      auto close_index = [&] {
        if (!current.empty() && usable && !cols_of_index.empty() && t.unique_key.empty()) t.unique_key = cols_of_index;
      };
      for (auto& r : uk) {
        std::string index = r[0].value_or("");
        if (index != current) {
          close_index();
          current = index;
          cols_of_index.clear();
          usable = true;
        }
        bool found = false;
        for (uint32_t i = 0; i < t.columns.size(); ++i) {
          if (t.columns[i].name == r[1].value_or("")) {
            found = true;
            usable &= !t.columns[i].nullable;  // NULLs are not unique: such a key cannot identify rows
            cols_of_index.push_back(i);
          }
        }
        usable &= found;
      }
      close_index();
    }
    if (is_mariadb) {
      // MariaDB's JSON is LONGTEXT plus a json_valid() check constraint.
      ASSIGN_OR_RETURN(auto checks,
                       conn.Query(fmt::format("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE "
                                                "CONSTRAINT_SCHEMA = '{}' AND TABLE_NAME = '{}'",
                                                conn.Escape(db), conn.Escape(table))));
      for (auto& r : checks) {
        std::string clause = r[0].value_or("");
        for (auto& c : t.columns) {
          if (c.data_type == "longtext" && clause == "json_valid(`" + c.name + "`)") c.is_json = true;
        }
      }
    }
  }
  return t;
}

void MarkSystemVersioningColumns(const InformationSchemaTable& info, TableSchema& s) {
  s.row_start_column = s.row_end_column = -1;
  if (!info.system_versioned || !s.names_known) return;
  auto find = [&](std::string_view name) -> int32_t {
    for (size_t i = 0; i < s.columns.size(); ++i) {
      if (s.columns[i].name == name) return static_cast<int32_t>(i);
    }
    return -1;
  };
  bool explicit_period = false;
  for (const InformationSchemaColumn& c : info.columns) {
    if (c.generation == "ROW START") s.row_start_column = find(c.name), explicit_period = true;
    if (c.generation == "ROW END") s.row_end_column = find(c.name), explicit_period = true;
  }
  if (explicit_period) return;
  // Implicit: invisible columns named row_start and row_end, which
  // information_schema does not list (a visible column of that name would be).
  for (const InformationSchemaColumn& c : info.columns) {
    if (c.name == "row_start" || c.name == "row_end") return;
  }
  s.row_start_column = find("row_start");
  s.row_end_column = find("row_end");
}

}  // namespace sluice::mysql
