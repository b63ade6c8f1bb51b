#include "pipeline/selection.h"

#include <nlohmann/json.hpp>

namespace sluice::pipeline {

namespace {

// Whether two rules carry a table's rows the same way.
bool SameCarriage(const TableRule& a, const TableRule& b) {
  return a.to == b.to && a.columns == b.columns && a.rename_columns == b.rename_columns && a.where == b.where;
}

}  // namespace

std::string DescribeSelection(const std::vector<TableRule>& rules) {
  nlohmann::json out = nlohmann::json::array();
  for (const TableRule& r : rules) {
    nlohmann::json renames = nlohmann::json::array();
    for (const auto& [from, to] : r.rename_columns) renames.push_back({from, to});
    out.push_back({{"match", r.match},
                   {"regex", r.is_regex},
                   {"to", r.to},
                   {"columns", r.columns},
                   {"rename_columns", renames},
                   {"where", r.where}});
  }
  return out.dump();
}

Result<std::vector<TableRule>> ParseSelection(const std::string& record) {
  auto j = nlohmann::json::parse(record, nullptr, /*allow_exceptions=*/false);
  auto bad = [&] { return Status::Invalid("the recorded table selection does not parse: {}", record); };
  if (!j.is_array()) return bad();
  std::vector<TableRule> rules;
  try {
    for (const auto& e : j) {
      TableRule r;
      r.match = e.at("match").get<std::string>();
      r.is_regex = e.at("regex").get<bool>();
      r.to = e.at("to").get<std::string>();
      r.columns = e.at("columns").get<std::vector<std::string>>();
      for (const auto& pair : e.at("rename_columns")) {
        r.rename_columns.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
      }
      r.where = e.at("where").get<std::string>();
      rules.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception&) {
    return bad();
  }
  return rules;
}

std::vector<SourceTable> NewlySelected(const std::vector<SourceTable>& now, const std::vector<TableRule>& before) {
  std::vector<SourceTable> out;
  for (const SourceTable& t : now) {
    const TableRule* was = nullptr;
    for (const TableRule& r : before) {
      if (MatchesTableRule(r, t.db, t.table)) {
        was = &r;
        break;
      }
    }
    if (was == nullptr || t.rule == nullptr || !SameCarriage(*was, *t.rule)) out.push_back(t);
  }
  return out;
}

}  // namespace sluice::pipeline
