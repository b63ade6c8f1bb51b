#include "sink/mysql/deferred_indexes.h"

#include <vector>

namespace sluice::sink::mysql {

IndexSplit SplitPlainIndexes(std::string_view create_sql) {
  IndexSplit out;
  out.create = std::string(create_sql);
  if (create_sql.find("FOREIGN KEY") != std::string_view::npos) return out;
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= create_sql.size();) {
    size_t end = create_sql.find('\n', start);
    if (end == std::string_view::npos) end = create_sql.size();
    lines.push_back(create_sql.substr(start, end - start));
    start = end + 1;
  }
  // Definitions sit between "CREATE TABLE ... (" and ") ENGINE=...".
  if (lines.size() < 3 || lines.front().empty() || lines.front().back() != '(' || lines.back().rfind(")", 0) != 0) {
    return out;
  }
  std::vector<std::string_view> kept;
  std::vector<std::string_view> deferred;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    std::string_view def = lines[i];
    if (!def.empty() && def.back() == ',') def.remove_suffix(1);
    if (def.rfind("  KEY ", 0) == 0) {
      deferred.push_back(def.substr(2));
    } else {
      kept.push_back(def);
    }
  }
  if (deferred.empty() || kept.empty()) return out;
  std::string create(lines.front());
  for (size_t i = 0; i < kept.size(); ++i) {
    create += '\n';
    create += kept[i];
    if (i + 1 < kept.size()) create += ',';
  }
  create += '\n';
  create += lines.back();
  out.create = std::move(create);
  for (size_t i = 0; i < deferred.size(); ++i) {
    if (i) out.add_indexes += ", ";
    out.add_indexes += "ADD ";
    out.add_indexes += deferred[i];
  }
  return out;
}

}  // namespace sluice::sink::mysql
