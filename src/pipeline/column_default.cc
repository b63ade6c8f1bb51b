#include "pipeline/column_default.h"

#include <algorithm>
#include <cctype>

namespace sluice::pipeline {

namespace {

bool IsNumericLiteral(const std::string& s) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' || s[0] == '+' ? 1 : 0;
  if (i >= s.size()) return false;
  bool digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digit = true;
    } else if (c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') {
      return false;
    }
  }
  return digit;
}

// 'it''s' -> it's (MariaDB's quoting of literal defaults).
std::optional<std::string> Unquote(const std::string& s) {
  if (s.size() < 2 || s.front() != '\'' || s.back() != '\'') return std::nullopt;
  std::string out;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    char c = s[i];
    if (c == '\'' && i + 2 < s.size() && s[i + 1] == '\'') {
      out += '\'';
      ++i;
    } else if (c == '\\' && i + 2 < s.size()) {
      char n = s[++i];
      out += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n == '0' ? '\0' : n;
    } else {
      out += c;
    }
  }
  return out;
}

bool OneOf(const std::string& t, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return t == n; });
}

bool IsZeroDate(const std::string& v) { return v.rfind("0000-00-00", 0) == 0; }

}  // namespace

ExistingRowsValue ValueOfExistingRows(const ColumnDefaultInfo& c) {
  std::string type = c.data_type;
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char ch) { return std::tolower(ch); });
  const bool temporal = OneOf(type, {"date", "datetime", "timestamp"});
  ExistingRowsValue out;
  if (!c.column_default) {
    if (c.nullable) return out;  // NULL
    // NOT NULL without a default: the type's implicit default.
    if (OneOf(type, {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float",
                     "double", "real", "bit", "year"})) {
      out.value = "0";
    } else if (OneOf(type, {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "binary", "varbinary",
                            "tinyblob", "blob", "mediumblob", "longblob", "set"})) {
      out.value = "";
    } else if (type == "enum") {
      size_t open = c.column_type.find('\'');
      size_t close = open == std::string::npos ? open : c.column_type.find('\'', open + 1);
      if (close != std::string::npos) out.value = c.column_type.substr(open + 1, close - open - 1);
    } else if (type == "time") {
      out.value = "00:00:00";
    } else if (temporal) {
      out.unknown = "its implicit default is a zero date";
    } else {
      out.unknown = "no default, and no implicit one known for " + type;
    }
    return out;
  }
  const std::string& d = *c.column_default;
  if (c.mariadb) {
    if (d == "NULL") return out;
    if (auto text = Unquote(d)) {
      if (temporal && IsZeroDate(*text)) {
        out.unknown = "its default is a zero date";
      } else {
        out.value = std::move(text);
      }
      return out;
    }
    if (IsNumericLiteral(d)) {
      out.value = d;
      return out;
    }
    out.unknown = "its default is an expression the source evaluated at the ALTER (" + d + ")";
    return out;
  }
  // MySQL: literals bare; expressions marked, CURRENT_TIMESTAMP bare.
  std::string upper = d;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char ch) { return std::toupper(ch); });
  if (c.extra.find("DEFAULT_GENERATED") != std::string::npos || upper.rfind("CURRENT_TIMESTAMP", 0) == 0) {
    out.unknown = "its default is an expression the source evaluated at the ALTER (" + d + ")";
  } else if (temporal && IsZeroDate(d)) {
    out.unknown = "its default is a zero date";
  } else {
    out.value = d;
  }
  return out;
}

}  // namespace sluice::pipeline
