#include "sink/postgres/pg_ddl.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "client/postgres/connection.h"
#include "sink/postgres/pg_statements.h"

namespace sluice::sink::postgres {
namespace {

struct Token {
  std::string text;   // identifiers unquoted; keywords as written
  bool word = false;  // an unquoted word or a `quoted` identifier
  bool quoted = false;
};

// MySQL's lexical basics: words, `identifiers`, 'strings', "strings",
// comments (-- , #, /* */), punctuation.
std::vector<Token> Lex(const std::string& q) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < q.size()) {
    char c = q[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '#' || (c == '-' && i + 2 < q.size() && q[i + 1] == '-' && std::isspace(static_cast<unsigned char>(q[i + 2])))) {
      while (i < q.size() && q[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < q.size() && q[i + 1] == '*') {
      size_t end = q.find("*/", i + 2);
      i = end == std::string::npos ? q.size() : end + 2;
    } else if (c == '`' || c == '\'' || c == '"') {
      std::string text;
      ++i;
      while (i < q.size()) {
        if (q[i] == c && i + 1 < q.size() && q[i + 1] == c) {
          text += c;
          i += 2;
        } else if (q[i] == c) {
          ++i;
          break;
        } else if (c != '`' && q[i] == '\\' && i + 1 < q.size()) {
          text += q[i + 1];
          i += 2;
        } else {
          text += q[i++];
        }
      }
      out.push_back({text, c == '`', true});
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80) {
      size_t start = i;
      while (i < q.size() && (std::isalnum(static_cast<unsigned char>(q[i])) || q[i] == '_' || q[i] == '$' ||
                              static_cast<unsigned char>(q[i]) >= 0x80)) {
        ++i;
      }
      out.push_back({q.substr(start, i - start), true, false});
    } else {
      out.push_back({std::string(1, c), false, false});
      ++i;
    }
  }
  return out;
}

bool Is(const Token& t, std::string_view kw) {
  if (!t.word || t.quoted || t.text.size() != kw.size()) return false;
  for (size_t i = 0; i < kw.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(t.text[i])) != kw[i]) return false;
  }
  return true;
}

// Tokens [from, to) split at commas outside parentheses.
std::vector<std::vector<Token>> SplitClauses(const std::vector<Token>& tokens, size_t from) {
  std::vector<std::vector<Token>> out(1);
  int depth = 0;
  for (size_t i = from; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (!t.word && t.text == "(") ++depth;
    if (!t.word && t.text == ")") --depth;
    if (!t.word && t.text == ";" && depth == 0) break;
    if (!t.word && t.text == "," && depth == 0) {
      out.emplace_back();
      continue;
    }
    out.back().push_back(t);
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

// A [db.]name at tokens[*i]; advances *i.
bool ReadName(const std::vector<Token>& t, size_t* i, std::string* db, std::string* name) {
  if (*i >= t.size() || !t[*i].word) return false;
  *name = t[*i].text;
  ++*i;
  if (*i + 1 < t.size() && !t[*i].word && t[*i].text == "." && t[*i + 1].word) {
    *db = *name;
    *name = t[*i + 1].text;
    *i += 2;
  }
  return true;
}

std::string Join(const std::vector<Token>& clause) {
  std::string out;
  for (const Token& t : clause) {
    if (!out.empty() && t.word) out += ' ';
    out += t.quoted ? "`" + t.text + "`" : t.text;
  }
  return out;
}

Status Unsupported(const DdlChange& ddl, const std::string& why) {
  return Status::Error(StatusCode::kNotSupported, "DDL cannot be translated for PostgreSQL ({}): {}", why,
                       ddl.query.substr(0, 300));
}

}  // namespace

Result<PgDdlPlan> TranslateDdl(const DdlChange& ddl,
                               const std::function<std::optional<std::string>(const std::string&)>& target_column,
                               const std::function<bool(const std::string&)>& target_has) {
  PgDdlPlan plan;
  std::vector<Token> t = Lex(ddl.query);
  const std::string table = QualifiedName(ddl.target_db, ddl.target_table);
  size_t i = 0;
  auto at = [&](size_t k, std::string_view kw) { return k < t.size() && Is(t[k], kw); };
  if (t.empty()) return plan;

  if (at(0, "CREATE") || at(0, "DROP")) {
    const bool create = at(0, "CREATE");
    i = 1;
    while (at(i, "OR") || at(i, "REPLACE") || at(i, "TEMPORARY") || at(i, "UNIQUE") || at(i, "FULLTEXT") ||
           at(i, "SPATIAL") || at(i, "ONLINE") || at(i, "OFFLINE")) {
      ++i;
    }
    if (at(i, "DATABASE") || at(i, "SCHEMA")) {
      if (ddl.target_db.empty()) return plan;
      plan.statements.push_back(create ? "CREATE SCHEMA IF NOT EXISTS " + sluice::postgres::QuoteIdent(ddl.target_db)
                                       : "DROP SCHEMA IF EXISTS " + sluice::postgres::QuoteIdent(ddl.target_db) +
                                             " CASCADE");
      return plan;
    }
    if (at(i, "TABLE")) {
      if (!create) plan.statements.push_back("DROP TABLE IF EXISTS " + table);
      return plan;  // CREATE: made from the first row's columns
    }
    if (at(i, "INDEX")) {
      plan.skipped.push_back(ddl.query.substr(0, 200));
      plan.retype = !create;  // the key rows were found by may be gone: re-derived with the next row
      return plan;
    }
    return Unsupported(ddl, "statement kind");
  }
  if (at(0, "TRUNCATE")) {
    plan.statements.push_back("TRUNCATE " + table);
    return plan;
  }
  auto rename_table = [&](const std::string& new_db, const std::string& new_table) -> Status {
    if (!ddl.one_to_one) return Unsupported(ddl, "a table renamed or subset by the pipeline's rules cannot follow a rename");
    std::string db = new_db.empty() ? ddl.target_db : new_db;
    if (db != ddl.target_db) {
      plan.statements.push_back("CREATE SCHEMA IF NOT EXISTS " + sluice::postgres::QuoteIdent(db));
      plan.statements.push_back("ALTER TABLE IF EXISTS " + table + " SET SCHEMA " + sluice::postgres::QuoteIdent(db));
    }
    if (new_table != ddl.target_table) {
      plan.statements.push_back("ALTER TABLE IF EXISTS " + QualifiedName(db, ddl.target_table) + " RENAME TO " +
                                sluice::postgres::QuoteIdent(new_table));
    }
    return Status::Ok();
  };
  if (at(0, "RENAME") && (at(1, "TABLE") || at(1, "TABLES"))) {
    i = 2;
    std::string db, name, new_db, new_name;
    if (!ReadName(t, &i, &db, &name) || !at(i, "TO")) return Unsupported(ddl, "unparsed RENAME");
    ++i;
    if (!ReadName(t, &i, &new_db, &new_name)) return Unsupported(ddl, "unparsed RENAME");
    if (i < t.size() && t[i].text == ",") return Unsupported(ddl, "several tables renamed in one statement");
    RETURN_IF_ERROR(rename_table(new_db, new_name));
    return plan;
  }
  if (!at(0, "ALTER")) return Unsupported(ddl, "statement kind");
  i = 1;
  while (at(i, "ONLINE") || at(i, "IGNORE")) ++i;
  if (!at(i, "TABLE")) return Unsupported(ddl, "statement kind");
  ++i;
  if (at(i, "IF") && at(i + 1, "EXISTS")) i += 2;
  std::string db, name;
  if (!ReadName(t, &i, &db, &name)) return Unsupported(ddl, "unparsed ALTER TABLE");

  bool partition_list = false;  // the clause before named partitions: `DROP PARTITION p0, p1`
  for (const std::vector<Token>& c : SplitClauses(t, i)) {
    size_t k = 0;
    auto is = [&](std::string_view kw) { return k < c.size() && Is(c[k], kw); };
    if (partition_list && c.size() == 1 && c[0].word) {
      plan.skipped.push_back(Join(c));  // the next partition of that list
      continue;
    }
    partition_list = c.size() > 1 && Is(c[1], "PARTITION");
    auto skip_if_exists = [&] {
      if (is("IF") && k + 1 < c.size() && (Is(c[k + 1], "EXISTS"))) k += 2;
      if (is("IF") && k + 2 < c.size() && Is(c[k + 1], "NOT") && Is(c[k + 2], "EXISTS")) k += 3;
    };
    if (is("ADD")) {
      ++k;
      if (is("COLUMN") || (k < c.size() && (c[k].quoted || (c[k].word && !is("INDEX") && !is("KEY") &&
                                                             !is("UNIQUE") && !is("FULLTEXT") && !is("SPATIAL") &&
                                                             !is("CONSTRAINT") && !is("PRIMARY") && !is("FOREIGN") &&
                                                             !is("PARTITION") && !is("CHECK") && !is("PERIOD") &&
                                                             !is("SYSTEM")))) ||
          (k < c.size() && c[k].text == "(")) {
        continue;  // the next row's columns add it, with the source's type
      }
      plan.skipped.push_back(Join(c));
      continue;
    }
    if (is("DROP")) {
      ++k;
      if (is("PRIMARY")) {
        // The source's rows may repeat those values now: the target's
        // primary key, which would refuse them, goes too (whatever its name).
        plan.statements.push_back(fmt::format(
            "DO $sluice$ DECLARE c name; BEGIN SELECT conname INTO c FROM pg_catalog.pg_constraint WHERE conrelid = "
            "to_regclass({0}) AND contype = 'p'; IF c IS NOT NULL THEN EXECUTE format('ALTER TABLE %s DROP "
            "CONSTRAINT %I', {0}, c); END IF; END $sluice$",
            sluice::postgres::QuoteLiteral(table)));
        continue;
      }
      if (is("INDEX") || is("KEY") || is("FOREIGN") || is("CONSTRAINT") || is("CHECK") ||
          is("PARTITION") || is("SYSTEM") || is("PERIOD")) {
        plan.skipped.push_back(Join(c));
        // A unique key dropped may be the one rows were found by: re-derived with the next row.
        plan.retype |= is("INDEX") || is("KEY") || is("CONSTRAINT");
        continue;
      }
      if (is("COLUMN")) ++k;
      skip_if_exists();
      if (k >= c.size() || !c[k].word) return Unsupported(ddl, "unparsed DROP");
      std::optional<std::string> target = target_column(c[k].text);
      if (!target) {
        plan.skipped.push_back(Join(c) + " (column not in the target)");
        continue;
      }
      plan.statements.push_back("ALTER TABLE " + table + " DROP COLUMN IF EXISTS " +
                                sluice::postgres::QuoteIdent(*target));
      continue;
    }
    auto rename_column = [&](const std::string& from, const std::string& to) {
      std::optional<std::string> target = target_column(from);
      if (!target || *target == to) return;
      // Replayed after the rename is in (or when the target never had the
      // column): nothing to do.
      if (!target_has(*target) || target_has(to)) return;
      plan.statements.push_back("ALTER TABLE " + table + " RENAME COLUMN " + sluice::postgres::QuoteIdent(*target) +
                                " TO " + sluice::postgres::QuoteIdent(to));
    };
    if (is("RENAME")) {
      ++k;
      if (is("COLUMN")) {
        ++k;
        if (k + 2 >= c.size() + 0 || !c[k].word || !Is(c[k + 1], "TO") || !c[k + 2].word) {
          return Unsupported(ddl, "unparsed RENAME COLUMN");
        }
        rename_column(c[k].text, c[k + 2].text);
        continue;
      }
      if (is("INDEX") || is("KEY")) {
        plan.skipped.push_back(Join(c));
        continue;
      }
      if (is("TO") || is("AS")) ++k;
      std::string new_db, new_name;
      if (!ReadName(c, &k, &new_db, &new_name)) return Unsupported(ddl, "unparsed RENAME");
      RETURN_IF_ERROR(rename_table(new_db, new_name));
      continue;
    }
    if (is("CHANGE")) {
      ++k;
      if (is("COLUMN")) ++k;
      skip_if_exists();
      if (k + 1 >= c.size() || !c[k].word || !c[k + 1].word) return Unsupported(ddl, "unparsed CHANGE");
      rename_column(c[k].text, c[k + 1].text);
      plan.retype = true;
      continue;
    }
    if (is("MODIFY")) {
      plan.retype = true;
      continue;
    }
    if (is("CONVERT")) {
      plan.retype = true;  // CONVERT TO CHARACTER SET binary turns text into bytes
      continue;
    }
    static const char* kNoShape[] = {"ALTER",     "ENGINE",   "AUTO_INCREMENT", "DEFAULT",   "CHARACTER", "CHARSET",
                                     "COLLATE",   "COMMENT",  "ALGORITHM",      "LOCK",      "ROW_FORMAT", "FORCE",
                                     "ORDER",     "STATS_PERSISTENT", "STATS_AUTO_RECALC", "STATS_SAMPLE_PAGES",
                                     "PACK_KEYS", "CHECKSUM", "MAX_ROWS",       "MIN_ROWS",  "AVG_ROW_LENGTH",
                                     "KEY_BLOCK_SIZE", "DISABLE", "ENABLE",     "PAGE_CHECKSUM", "TRANSACTIONAL",
                                     "ANALYZE",   "OPTIMIZE", "REPAIR",         "CHECK",     "COALESCE", "REORGANIZE",
                                     "PARTITION", "REMOVE",   "DELAY_KEY_WRITE", "INSERT_METHOD", "UNION",
                                     "ENCRYPTION", "COMPRESSION", "SECONDARY_ENGINE_ATTRIBUTE", "WAIT", "NOWAIT",
                                     "VALIDATION", "WITH", "WITHOUT",
                                     // a partition's rows: the pipeline warns that they stay
                                     "TRUNCATE"};
    bool harmless = false;
    for (const char* kw : kNoShape) harmless |= is(kw);
    if (harmless) {
      plan.skipped.push_back(Join(c));
      continue;
    }
    return Unsupported(ddl, "ALTER clause \"" + Join(c).substr(0, 80) + "\"");
  }
  return plan;
}

}  // namespace sluice::sink::postgres
