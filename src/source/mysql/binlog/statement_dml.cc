#include "source/mysql/binlog/statement_dml.h"

#include <cctype>

#include "source/mysql/binlog/sql_words.h"

namespace sluice::mysql {
namespace {

// An identifier, `quoted` or bare.
std::optional<std::string> TakeName(std::string_view& s) {
  SkipSpaceAndComments(s);
  if (s.empty()) return std::nullopt;
  std::string name;
  if (s[0] == '`') {
    size_t i = 1;
    for (; i < s.size(); ++i) {
      if (s[i] == '`') {
        if (i + 1 < s.size() && s[i + 1] == '`') {
          name += '`';
          ++i;
          continue;
        }
        break;
      }
      name += s[i];
    }
    if (i >= s.size()) return std::nullopt;
    s.remove_prefix(i + 1);
    return name;
  }
  size_t i = 0;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '$' ||
                          static_cast<unsigned char>(s[i]) >= 0x80)) {
    ++i;
  }
  if (i == 0) return std::nullopt;
  name.assign(s.substr(0, i));
  s.remove_prefix(i);
  return name;
}

// [db.]table, with the default database for an unqualified name.
bool TakeTable(std::string_view& s, std::string_view default_db, StatementDml& out) {
  auto first = TakeName(s);
  if (!first) return false;
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    auto second = TakeName(s);
    if (!second) return false;
    out.db = *first;
    out.table = *second;
  } else {
    out.db = std::string(default_db);
    out.table = *first;
  }
  return true;
}

}  // namespace

std::optional<StatementDml> ParseStatementDml(std::string_view query, std::string_view default_db) {
  std::string_view s = query;
  StatementDml out;
  const bool insert = TakeWord(s, "INSERT");
  if (insert || TakeWord(s, "REPLACE")) {
    out.verb = insert ? "INSERT" : "REPLACE";
    while (TakeWord(s, "LOW_PRIORITY") || TakeWord(s, "DELAYED") || TakeWord(s, "HIGH_PRIORITY") ||
           TakeWord(s, "IGNORE")) {
    }
    TakeWord(s, "INTO");
    if (!TakeTable(s, default_db, out)) out.table.clear();
    return out;
  }
  if (TakeWord(s, "UPDATE")) {
    out.verb = "UPDATE";
    while (TakeWord(s, "LOW_PRIORITY") || TakeWord(s, "IGNORE")) {
    }
    if (!TakeTable(s, default_db, out)) {
      out.table.clear();
      return out;
    }
    // UPDATE a, b SET ... / UPDATE a JOIN b ...: more than one table.
    SkipSpaceAndComments(s);
    std::string_view rest = s;
    if (!TakeWord(rest, "SET")) {
      std::string_view alias = s;
      TakeWord(alias, "AS");
      auto name = TakeName(alias);
      if (!name || !TakeWord(alias, "SET")) out.table.clear();
    }
    return out;
  }
  if (TakeWord(s, "DELETE")) {
    out.verb = "DELETE";
    while (TakeWord(s, "LOW_PRIORITY") || TakeWord(s, "QUICK") || TakeWord(s, "IGNORE")) {
    }
    if (!TakeWord(s, "FROM") || !TakeTable(s, default_db, out)) {
      out.table.clear();  // DELETE a, b FROM ...
      return out;
    }
    SkipSpaceAndComments(s);
    if (!s.empty() && (s[0] == ',' || TakeWord(s, "USING") || TakeWord(s, "JOIN"))) out.table.clear();
    return out;
  }
  if (TakeWord(s, "LOAD")) {
    if (!TakeWord(s, "DATA") && !TakeWord(s, "XML")) return std::nullopt;
    out.verb = "LOAD DATA";
    // LOAD DATA ... INFILE 'f' [REPLACE|IGNORE] INTO TABLE t
    size_t into = std::string_view::npos;
    for (size_t i = 0; i + 4 <= s.size(); ++i) {
      if (s[i] == '\'' || s[i] == '"') {  // the file name and options are quoted strings
        const char quote = s[i];
        for (++i; i < s.size() && s[i] != quote; ++i) {
          if (s[i] == '\\') ++i;
        }
        continue;
      }
      std::string_view at = s.substr(i);
      if ((i == 0 || std::isspace(static_cast<unsigned char>(s[i - 1]))) && TakeWord(at, "INTO") &&
          TakeWord(at, "TABLE")) {
        into = s.size() - at.size();
        break;
      }
    }
    if (into == std::string_view::npos) return out;
    s.remove_prefix(into);
    if (!TakeTable(s, default_db, out)) out.table.clear();
    return out;
  }
  return std::nullopt;
}

}  // namespace sluice::mysql
