#include "pipeline/table_swap.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <strings.h>

#include <algorithm>

#include "client/mysql/table_reader.h"

namespace sluice::pipeline {

namespace {

const ColumnType* Find(const std::vector<ColumnType>& columns, const std::string& name) {
  for (const ColumnType& c : columns) {
    if (strcasecmp(c.name.c_str(), name.c_str()) == 0) return &c;
  }
  return nullptr;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ColumnDefinitions(std::string_view create_table) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t at = 0;
  while (at < create_table.size()) {
    size_t end = create_table.find('\n', at);
    if (end == std::string_view::npos) end = create_table.size();
    std::string_view line = create_table.substr(at, end - at);
    at = end + 1;
    // Column lines are the body's lines that begin with a quoted name; keys
    // and constraints begin with a keyword.
    size_t lead = line.find_first_not_of(' ');
    if (lead == std::string_view::npos || lead == 0 || line[lead] != '`') continue;
    std::string name;
    size_t i = lead + 1;
    for (; i < line.size(); ++i) {
      if (line[i] == '`') {
        if (i + 1 < line.size() && line[i + 1] == '`') {
          name += '`';
          ++i;
          continue;
        }
        break;
      }
      name += line[i];
    }
    if (i >= line.size()) continue;
    std::string_view definition = line.substr(i + 1);
    while (!definition.empty() && definition.front() == ' ') definition.remove_prefix(1);
    while (!definition.empty() && (definition.back() == ',' || definition.back() == ' ' || definition.back() == '\r')) {
      definition.remove_suffix(1);
    }
    out.emplace_back(std::move(name), std::string(definition));
  }
  return out;
}

TargetAlter AlterToMatch(const std::string& db, const std::string& table, const std::vector<ColumnType>& want,
                         const std::vector<std::string>& definitions, const std::vector<ColumnType>& have) {
  TargetAlter out;
  std::vector<std::string> clauses;
  std::vector<std::string> added, dropped;
  for (const ColumnType& h : have) {
    if (Find(want, h.name) == nullptr) {
      clauses.push_back("DROP COLUMN " + mysql::QuoteIdent(h.name));
      dropped.push_back(h.name);
    }
  }
  for (size_t i = 0; i < want.size(); ++i) {
    const ColumnType& w = want[i];
    const std::string& definition = i < definitions.size() ? definitions[i] : w.type;
    const ColumnType* h = Find(have, w.name);
    std::string place = i == 0 ? " FIRST" : " AFTER " + mysql::QuoteIdent(want[i - 1].name);
    if (h == nullptr) {
      clauses.push_back(fmt::format("ADD COLUMN {} {}{}", mysql::QuoteIdent(w.name), definition, place));
      added.push_back(w.name);
    } else if (strcasecmp(h->type.c_str(), w.type.c_str()) != 0) {
      clauses.push_back(fmt::format("MODIFY COLUMN {} {}", mysql::QuoteIdent(w.name), definition));
      out.lossy.push_back(fmt::format("`{}` retyped from {} to {}", w.name, h->type, w.type));
    }
  }
  if (!added.empty() && !dropped.empty()) {
    out.lossy.push_back(fmt::format("`{}` dropped and `{}` added (a rename carries no values)",
                                    fmt::join(dropped, "`, `"), fmt::join(added, "`, `")));
  }
  if (!clauses.empty()) {
    out.statement = fmt::format("ALTER TABLE {}.{} {}", mysql::QuoteIdent(db), mysql::QuoteIdent(table), fmt::join(clauses, ", "));
  }
  return out;
}

}  // namespace sluice::pipeline
