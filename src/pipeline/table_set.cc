#include "pipeline/table_set.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <regex>
#include <set>
#include <string_view>

#include "transform/row_filter.h"

namespace sluice::pipeline {

namespace {

transform::DdlPolicy ToPolicy(DdlMode m) {
  switch (m) {
    case DdlMode::kApply:
      return transform::DdlPolicy::kApply;
    case DdlMode::kIgnore:
      return transform::DdlPolicy::kIgnore;
    case DdlMode::kStop:
      return transform::DdlPolicy::kStop;
    default:
      return transform::DdlPolicy::kUnset;
  }
}

// A COLUMN_TYPE taken apart: "int(10) unsigned" -> int, {10}, unsigned.
struct TypeParts {
  std::string base;
  std::vector<long> args;
  bool is_unsigned = false;
  bool zerofill = false;
};

TypeParts PartsOf(std::string_view type) {
  TypeParts p;
  std::string t(type);
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t end = t.find_first_of("( ");
  p.base = t.substr(0, end);
  size_t open = t.find('(');
  size_t close = t.find(')');
  if (open != std::string::npos && close != std::string::npos && close > open) {
    std::string inner = t.substr(open + 1, close - open - 1);
    for (size_t at = 0; at <= inner.size();) {
      size_t comma = inner.find(',', at);
      if (comma == std::string::npos) comma = inner.size();
      p.args.push_back(std::strtol(inner.c_str() + at, nullptr, 10));
      at = comma + 1;
    }
  }
  p.is_unsigned = t.find(" unsigned") != std::string::npos;
  p.zerofill = t.find(" zerofill") != std::string::npos;
  return p;
}

// Rank within a family of types that differ only in size; 0 outside it.
int RankIn(std::initializer_list<const char*> family, const std::string& base) {
  int rank = 0;
  for (const char* name : family) {
    ++rank;
    if (base == name) return rank;
  }
  return 0;
}

int IntegerRank(const std::string& base) {
  if (base == "integer") return 4;
  return RankIn({"tinyint", "smallint", "mediumint", "int", "bigint"}, base);
}
int TextRank(const std::string& base) { return RankIn({"tinytext", "text", "mediumtext", "longtext"}, base); }
int BlobRank(const std::string& base) { return RankIn({"tinyblob", "blob", "mediumblob", "longblob"}, base); }

}  // namespace

bool TargetTypeHolds(std::string_view target, std::string_view source) {
  if (strcasecmp(std::string(target).c_str(), std::string(source).c_str()) == 0) return true;
  const TypeParts t = PartsOf(target), s = PartsOf(source);
  if (t.zerofill != s.zerofill) return false;
  auto arg = [](const TypeParts& p, size_t i) { return i < p.args.size() ? p.args[i] : -1; };
  if (const int sr = IntegerRank(s.base), tr = IntegerRank(t.base); sr && tr) {
    // The display width is only that; an unsigned source needs a wider signed target.
    if (s.is_unsigned) return t.is_unsigned ? tr >= sr : tr > sr;
    return !t.is_unsigned && tr >= sr;
  }
  if ((s.base == "char" || s.base == "varchar") && t.base == "varchar") return arg(t, 0) >= arg(s, 0);
  if (s.base == "char" && t.base == "char") return arg(t, 0) >= arg(s, 0);
  if (s.base == "varbinary" && t.base == "varbinary") return arg(t, 0) >= arg(s, 0);
  if (const int sr = TextRank(s.base), tr = TextRank(t.base); sr && tr) return tr >= sr;
  if (const int sr = BlobRank(s.base), tr = BlobRank(t.base); sr && tr) return tr >= sr;
  if (s.base == "decimal" && t.base == "decimal") {
    // The same scale (values read back alike), no fewer integer digits.
    const long sp = arg(s, 0) < 0 ? 10 : arg(s, 0), ss = std::max(0L, arg(s, 1));
    const long tp = arg(t, 0) < 0 ? 10 : arg(t, 0), ts = std::max(0L, arg(t, 1));
    return ts == ss && tp - ts >= sp - ss && (t.is_unsigned ? s.is_unsigned : true);
  }
  return false;
}

std::vector<transform::MappingRule> MappingRules(const PipelineConfig& p) {
  std::vector<transform::MappingRule> rules;
  for (const TableRule& r : p.tables) {
    transform::MappingRule m;
    m.match = r.is_regex ? "/" + r.match + "/" : r.match;
    m.to = r.to;
    m.columns = r.columns;
    m.rename_columns = r.rename_columns;
    m.where = r.where;
    m.lua = r.lua;
    m.ddl = ToPolicy(r.ddl != DdlMode::kUnset ? r.ddl : p.ddl);
    m.origin = fmt::format("{} {}", FormatMark(r.mark), r.key_path);
    rules.push_back(std::move(m));
  }
  return rules;
}

namespace {

Result<std::vector<SourceTable>> Selected(sluice::mysql::MysqlConnection& source, const PipelineConfig& p,
                                          std::string_view types) {
  ASSIGN_OR_RETURN(auto rows, source.Query(fmt::format(
                                  "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE IN "
                                  "({}) AND TABLE_SCHEMA NOT IN ('mysql','information_schema','performance_schema',"
                                  "'sys','_sluice') ORDER BY TABLE_SCHEMA, TABLE_NAME",
                                  types)));
  std::vector<SourceTable> out;
  for (const auto& row : rows) {
    std::string db = row[0].value_or(""), table = row[1].value_or("");
    for (const TableRule& r : p.tables) {
      if (MatchesTableRule(r, db, table)) {
        out.push_back(SourceTable{db, table, &r});
        break;
      }
    }
  }
  return out;
}

}  // namespace

Result<std::vector<SourceTable>> SelectedTables(sluice::mysql::MysqlConnection& source, const PipelineConfig& p) {
  return Selected(source, p, "'BASE TABLE', 'SYSTEM VERSIONED'");
}

Result<std::vector<SourceTable>> SelectedSequences(sluice::mysql::MysqlConnection& source, const PipelineConfig& p) {
  return Selected(source, p, "'SEQUENCE'");
}

std::string NoTableMessage(sluice::mysql::MysqlConnection& conn, const TableRule& r, const std::string& source) {
  std::string msg = fmt::format("\"{}\" matches no table on source {}", r.match, source);
  // information_schema lists only the tables a user holds some privilege
  // on: without SELECT, every table is invisible and every rule "matches
  // nothing". Say so when the user has no global SELECT.
  auto grants = conn.Query(
      "SELECT CURRENT_USER(), (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = "
      "'SELECT' AND GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
      "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), ''''))");
  if (!grants.ok() || grants->empty() || (*grants)[0][1].value_or("0") != "0") return msg;
  std::string user = (*grants)[0][0].value_or("");
  size_t at = user.rfind('@');
  std::string quoted =
      at == std::string::npos ? user : fmt::format("'{}'@'{}'", user.substr(0, at), user.substr(at + 1));
  std::string db = r.is_regex ? "" : r.match.substr(0, r.match.find('.'));
  bool plain_db = !db.empty() && db.find_first_of("*?[") == std::string::npos;
  return fmt::format(
      "{} visible to its user {}: the user lacks the SELECT privilege, and information_schema lists "
      "only tables a user has privileges on; on the source run GRANT SELECT ON {} TO {} (or correct "
      "the pattern)",
      msg, quoted, plain_db ? fmt::format("`{}`.*", db) : std::string("*.*"), quoted);
}

Status CheckRuleAgainstTable(const TableRule& r, const TableSchema& s) {
  const std::string table = fmt::format("`{}`.`{}`", s.db, s.table);
  auto find = [&](const std::string& name) {
    for (size_t i = 0; i < s.columns.size(); ++i) {
      if (strcasecmp(s.columns[i].name.c_str(), name.c_str()) == 0) return static_cast<int>(i);
    }
    return -1;
  };
  auto missing = [&](const std::string& name) {
    std::vector<std::string> names;
    for (const auto& c : s.columns) names.push_back(c.name);
    return fmt::format("no column `{}` in source table {} (its columns: {})", name, table, fmt::join(names, ", "));
  };
  auto fail = [&](const Mark& mark, const std::string& key, const std::string& msg) {
    return Status::Invalid("{}", FormatConfigError(mark.line ? mark : r.mark, r.key_path + "." + key, msg));
  };
  for (const auto& c : r.columns) {
    if (find(c) < 0) return fail(r.columns_mark, "columns", missing(c));
  }
  if (!r.columns.empty()) {
    for (uint32_t k : s.primary_key.empty() ? s.unique_key : s.primary_key) {
      bool kept = false;
      for (const auto& c : r.columns) kept |= strcasecmp(c.c_str(), s.columns[k].name.c_str()) == 0;
      if (!kept) {
        return fail(r.columns_mark, "columns",
                    fmt::format("the subset drops key column `{}` of source table {}; the key must stay",
                                s.columns[k].name, table));
      }
    }
  }
  for (const auto& [from, to] : r.rename_columns) {
    if (find(from) < 0) return fail(r.rename_columns_mark, "rename_columns", missing(from));
  }
  if (!r.where.empty()) {
    auto parsed = transform::ParseFilter(r.where);
    if (parsed.ok()) {
      for (const auto& c : transform::ReferencedColumns(**parsed)) {
        if (find(c) < 0) return fail(r.where_mark, "where", missing(c));
      }
      // Binding also checks literals against the columns' types.
      auto bound = transform::BindFilter(**parsed, s);
      if (!bound.ok()) {
        std::string msg = bound.status().message();
        if (msg.rfind("where: ", 0) == 0) msg = msg.substr(7);
        return fail(r.where_mark, "where", fmt::format("source table {}: {}", table, msg));
      }
    }
  }
  return Status::Ok();
}

Result<std::vector<ColumnType>> ReadColumnTypes(const Url& endpoint, const std::string& db, const std::string& table) {
  ASSIGN_OR_RETURN(auto co, sluice::mysql::ConnectOptions::FromUrl(endpoint));
  ASSIGN_OR_RETURN(auto conn, sluice::mysql::MysqlConnection::Connect(co));
  ASSIGN_OR_RETURN(auto rows, conn->Query(fmt::format("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'NO' AND "
                                                      "COLUMN_DEFAULT IS NULL AND EXTRA NOT LIKE '%auto_increment%' "
                                                      "AND EXTRA NOT LIKE '%GENERATED%' FROM "
                                                      "information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND "
                                                      "TABLE_NAME = '{}' ORDER BY ORDINAL_POSITION",
                                                      conn->Escape(db), conn->Escape(table))));
  std::vector<ColumnType> out;
  for (const auto& r : rows) out.push_back({r[0].value_or(""), r[1].value_or(""), r[2].value_or("0") == "1"});
  return out;
}

std::vector<ColumnType> MapColumns(const transform::MappingRule& rule, const std::vector<ColumnType>& source,
                                   std::vector<std::string>* missing) {
  auto find = [&](const std::string& name) -> const ColumnType* {
    for (const auto& c : source) {
      if (strcasecmp(c.name.c_str(), name.c_str()) == 0) return &c;
    }
    return nullptr;
  };
  std::vector<ColumnType> kept;
  if (rule.columns.empty()) {
    kept = source;
  } else {
    for (const auto& name : rule.columns) {
      if (const ColumnType* c = find(name)) {
        kept.push_back(*c);
      } else if (missing != nullptr) {
        missing->push_back(name);
      }
    }
  }
  for (auto& c : kept) {
    for (const auto& [from, to] : rule.rename_columns) {
      if (strcasecmp(from.c_str(), c.name.c_str()) == 0) c.name = to;
    }
  }
  return kept;
}

std::string ColumnDifferences(const std::vector<ColumnType>& want, const std::vector<ColumnType>& have,
                              bool extra_ok) {
  std::vector<std::string> diffs;
  for (const auto& w : want) {
    auto it = std::find_if(have.begin(), have.end(),
                           [&](const ColumnType& h) { return strcasecmp(h.name.c_str(), w.name.c_str()) == 0; });
    if (it == have.end()) {
      diffs.push_back(fmt::format("`{}` ({}) is missing on the target", w.name, w.type));
    } else if (!TargetTypeHolds(it->type, w.type)) {
      diffs.push_back(fmt::format("`{}` is {} on the target, {} on the source", w.name, it->type, w.type));
    }
  }
  for (const auto& h : have) {
    if (extra_ok) break;
    bool known = std::any_of(want.begin(), want.end(),
                             [&](const ColumnType& w) { return strcasecmp(h.name.c_str(), w.name.c_str()) == 0; });
    if (!known) diffs.push_back(fmt::format("`{}` ({}) is only on the target", h.name, h.type));
  }
  return fmt::format("{}", fmt::join(diffs, "; "));
}

OtherWriters OtherWritersOf(const Config& config, const PipelineConfig& p, const std::string& target) {
  const TargetConfig* mine = config.FindTarget(target);
  auto same_server = [&](const std::string& name) {
    if (name == target) return true;
    const TargetConfig* t = config.FindTarget(name);
    return mine != nullptr && t != nullptr && t->endpoint.scheme == mine->endpoint.scheme &&
           t->endpoint.host == mine->endpoint.host && t->endpoint.port == mine->endpoint.port &&
           t->endpoint.path == mine->endpoint.path;
  };
  struct Other {
    std::string name;
    std::shared_ptr<transform::TableMapper> mapper;  // null: its rules did not compile (taken to write anything)
    std::vector<std::regex> renamed;                 // each `to:` template, ${db} and ${table} matching any name
  };
  auto others = std::make_shared<std::vector<Other>>();
  for (const PipelineConfig& q : config.pipelines) {
    if (q.name == p.name || std::none_of(q.targets.begin(), q.targets.end(), same_server)) continue;
    Other o;
    o.name = q.name;
    auto mapper = transform::TableMapper::Create(MappingRules(q));
    if (mapper.ok()) o.mapper = std::move(mapper).value();
    for (const TableRule& r : q.tables) {
      if (r.to.empty()) continue;
      std::string pattern;
      for (size_t i = 0; i < r.to.size();) {
        if (r.to.compare(i, 5, "${db}") == 0 || r.to.compare(i, 8, "${table}") == 0) {
          pattern += ".+";
          i += r.to.compare(i, 5, "${db}") == 0 ? 5 : 8;
          continue;
        }
        if (std::strchr("\\^$.|?*+()[]{}", r.to[i]) != nullptr) pattern += '\\';
        pattern += r.to[i++];
      }
      o.renamed.emplace_back(pattern, std::regex::icase);
    }
    others->push_back(std::move(o));
  }
  if (others->empty()) return {};
  return [others](const std::string& db, const std::string& table) -> std::string {
    const std::string name = db + "." + table;
    for (const Other& o : *others) {
      if (!o.mapper) return o.name;
      // The same name, by a rule without `to:` (the first rule that matches decides, as in the stream).
      const transform::MappingRule* rule = o.mapper->RuleFor(db, table);
      if (rule != nullptr && rule->to.empty()) return o.name;
      for (const std::regex& re : o.renamed) {
        if (std::regex_match(name, re)) return o.name;
      }
    }
    return "";
  };
}

std::string TargetTableName(const TableRule& rule, const std::string& db, const std::string& table) {
  return rule.to.empty() ? db + "." + table : transform::TableMapper::ExpandTemplate(rule.to, db, table);
}

std::vector<SourceTable> FeedingTargetsOf(std::vector<SourceTable> selected, const std::vector<std::string>& tables) {
  std::set<std::string> targets;
  for (const SourceTable& t : selected) {
    if (t.rule != nullptr && std::find(tables.begin(), tables.end(), t.name()) != tables.end()) {
      targets.insert(TargetTableName(*t.rule, t.db, t.table));
    }
  }
  std::erase_if(selected, [&](const SourceTable& t) {
    return t.rule == nullptr || !targets.contains(TargetTableName(*t.rule, t.db, t.table));
  });
  return selected;
}

bool MergesTables(const transform::MappingRule& rule) {
  if (rule.to.empty()) return false;
  const bool by_db = rule.to.find("${db}") != std::string::npos;
  const bool by_table = rule.to.find("${table}") != std::string::npos;
  if (by_db && by_table) return false;
  if (rule.match.size() > 1 && rule.match.front() == '/') return true;  // a regex: any names
  const size_t dot = rule.match.find('.');
  auto wild = [](std::string_view part) { return part.find_first_of("*?[") != std::string_view::npos; };
  const std::string_view match = rule.match;
  const std::string_view db = match.substr(0, dot), table = dot == std::string::npos ? "" : match.substr(dot + 1);
  return (!by_db && wild(db)) || (!by_table && wild(table));
}

}  // namespace sluice::pipeline
