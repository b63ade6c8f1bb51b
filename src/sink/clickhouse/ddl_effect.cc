#include "sink/clickhouse/ddl_effect.h"

#include <cctype>
#include <vector>

namespace sluice::sink::clickhouse {
namespace {

struct Token {
  std::string text;  // upper-cased for words; identifiers without their quotes
  bool quoted = false;
  std::string raw;   // a word as written
};

// Words, quoted names/strings and single punctuation characters; comments dropped.
std::vector<Token> Tokenize(std::string_view q) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < q.size()) {
    char c = q[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < q.size() && q[i + 1] == '-') {
      while (i < q.size() && q[i] != '\n') ++i;
    } else if (c == '#') {
      while (i < q.size() && q[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < q.size() && q[i + 1] == '*') {
      size_t end = q.find("*/", i + 2);
      i = end == std::string_view::npos ? q.size() : end + 2;
    } else if (c == '`' || c == '\'' || c == '"') {
      Token t{"", true};
      for (++i; i < q.size(); ++i) {
        if (q[i] == '\\' && c != '`' && i + 1 < q.size()) {
          t.text += q[++i];
        } else if (q[i] == c) {
          if (i + 1 < q.size() && q[i + 1] == c) {
            t.text += c;
            ++i;
          } else {
            ++i;
            break;
          }
        } else {
          t.text += q[i];
        }
      }
      out.push_back(std::move(t));
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$') {
      Token t;
      while (i < q.size() && (std::isalnum(static_cast<unsigned char>(q[i])) || q[i] == '_' || q[i] == '$' ||
                              static_cast<unsigned char>(q[i]) >= 0x80)) {
        t.raw += q[i];
        t.text += static_cast<char>(std::toupper(static_cast<unsigned char>(q[i++])));
      }
      out.push_back(std::move(t));
    } else {
      out.push_back({std::string(1, c), false});
      ++i;
    }
  }
  return out;
}

bool Is(const std::vector<Token>& t, size_t i, std::string_view word) {
  return i < t.size() && !t[i].quoted && t[i].text == word;
}

// An identifier as written.
std::string Name(const std::vector<Token>& t, size_t i) {
  if (i >= t.size()) return "";
  return t[i].quoted ? t[i].text : t[i].raw;
}

// A table name at t[*i], `db`.`table` or `table`; *i moves past it.
bool ReadTableName(const std::vector<Token>& t, size_t* i, std::pair<std::string, std::string>* out) {
  if (*i >= t.size() || (!t[*i].quoted && t[*i].raw.empty())) return false;
  if (*i + 2 < t.size() && !t[*i + 1].quoted && t[*i + 1].text == ".") {
    *out = {Name(t, *i), Name(t, *i + 2)};
    *i += 3;
  } else {
    *out = {"", Name(t, *i)};
    *i += 1;
  }
  return true;
}

// One ALTER TABLE clause (tokens between top-level commas).
DdlEffect ClassifyAlterClause(const std::vector<Token>& t, size_t b, size_t e, bool defaults_known) {
  DdlEffect ok{DdlEffect::Kind::kAlterTable, ""};
  if (b >= e) return ok;
  auto unsupported = [](std::string why) { return DdlEffect{DdlEffect::Kind::kUnsupported, std::move(why)}; };
  if (Is(t, b, "RENAME")) {
    if (Is(t, b + 1, "INDEX") || Is(t, b + 1, "KEY")) return ok;
    if (Is(t, b + 1, "COLUMN")) {
      size_t i = b + 2;
      if (Is(t, i, "IF") && Is(t, i + 1, "EXISTS")) i += 2;
      if (i + 2 >= e || !Is(t, i + 1, "TO")) return unsupported("a RENAME COLUMN not understood");
      ok.renamed_columns.emplace_back(Name(t, i), Name(t, i + 2));
      return ok;
    }
    size_t i = b + 1;
    if (Is(t, i, "TO") || Is(t, i, "AS")) ++i;
    std::pair<std::string, std::string> to;
    if (!ReadTableName(t, &i, &to) || i != e) return unsupported("a RENAME not understood");
    ok.renamed_to = std::move(to);
    return ok;
  }
  if (Is(t, b, "CHANGE")) {
    size_t i = b + 1;
    if (Is(t, i, "COLUMN")) ++i;
    if (Is(t, i, "IF") && Is(t, i + 1, "EXISTS")) i += 2;
    // Also a change of case alone: ClickHouse's names are case-sensitive.
    if (i + 1 < e && Name(t, i) != Name(t, i + 1)) ok.renamed_columns.emplace_back(Name(t, i), Name(t, i + 1));
    return ok;
  }
  bool key = false;
  for (size_t i = b; i < e; ++i) key |= Is(t, i, "PRIMARY") && Is(t, i + 1, "KEY");
  if (key && (Is(t, b, "ADD") || Is(t, b, "DROP")))
    return unsupported("changing the primary key (ClickHouse orders the table by it)");
  if (!defaults_known && Is(t, b, "ADD") && !Is(t, b + 1, "INDEX") && !Is(t, b + 1, "KEY") && !Is(t, b + 1, "UNIQUE") &&
      !Is(t, b + 1, "CONSTRAINT") && !Is(t, b + 1, "FULLTEXT") && !Is(t, b + 1, "SPATIAL") &&
      !Is(t, b + 1, "FOREIGN") && !Is(t, b + 1, "CHECK") && !Is(t, b + 1, "PARTITION")) {
    for (size_t i = b; i < e; ++i) {
      if (Is(t, i, "DEFAULT") && !(Is(t, i + 1, "NULL"))) {
        return unsupported("adding a column with a DEFAULT (rows already in ClickHouse would not have it)");
      }
    }
  }
  return ok;
}

}  // namespace

DdlEffect ClassifyDdl(std::string_view query, bool defaults_known) {
  std::vector<Token> t = Tokenize(query);
  using K = DdlEffect::Kind;
  if (t.empty()) return {K::kSkip, ""};
  size_t i = 0;
  if (Is(t, 0, "CREATE") || Is(t, 0, "DROP")) {
    bool create = Is(t, 0, "CREATE");
    i = 1;
    if (Is(t, i, "OR") && Is(t, i + 1, "REPLACE")) i += 2;
    if (Is(t, i, "DATABASE") || Is(t, i, "SCHEMA")) return {create ? K::kCreateDatabase : K::kDropDatabase, ""};
    if (Is(t, i, "TEMPORARY")) return {K::kSkip, ""};
    if (Is(t, i, "TABLE")) return {create ? K::kSkip : K::kDropTable, ""};
    return {K::kSkip, ""};
  }
  if (Is(t, 0, "TRUNCATE")) return {K::kTruncateTable, ""};
  if (Is(t, 0, "RENAME") && (Is(t, 1, "TABLE") || Is(t, 1, "TABLES"))) {
    i = 2;
    std::pair<std::string, std::string> from, to;
    if (!ReadTableName(t, &i, &from) || !Is(t, i, "TO")) return {K::kUnsupported, "a RENAME not understood"};
    ++i;
    if (!ReadTableName(t, &i, &to)) return {K::kUnsupported, "a RENAME not understood"};
    if (i != t.size()) return {K::kUnsupported, "renaming several tables in one statement"};
    DdlEffect e{K::kAlterTable, ""};
    e.renamed_to = std::move(to);
    return e;
  }
  if (Is(t, 0, "ALTER")) {
    i = 1;
    while (i < t.size() && !Is(t, i, "TABLE")) ++i;  // ALTER [ONLINE] [IGNORE] TABLE
    if (i == t.size()) return {K::kSkip, ""};
    ++i;
    if (Is(t, i, "IF") && Is(t, i + 1, "EXISTS")) i += 2;
    ++i;  // table name
    if (i + 1 < t.size() && t[i].text == ".") i += 2;
    DdlEffect result{K::kAlterTable, ""};
    int depth = 0;
    size_t start = i;
    for (size_t j = i; j <= t.size(); ++j) {
      if (j < t.size() && !t[j].quoted) {
        if (t[j].text == "(") ++depth;
        if (t[j].text == ")") --depth;
      }
      if (j == t.size() || (depth == 0 && !t[j].quoted && t[j].text == ",")) {
        DdlEffect c = ClassifyAlterClause(t, start, j, defaults_known);
        if (c.kind == K::kUnsupported) return c;
        for (auto& r : c.renamed_columns) result.renamed_columns.push_back(std::move(r));
        if (c.renamed_to) result.renamed_to = std::move(c.renamed_to);
        start = j + 1;
      }
    }
    return result;
  }
  return {K::kSkip, ""};
}

}  // namespace sluice::sink::clickhouse
