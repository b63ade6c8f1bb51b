#include "sink/chunk_target.h"

#include <fmt/format.h>

#include <functional>

namespace sluice::sink {

std::string ShardKey(const std::string& where_sql) {
  if (where_sql.size() <= 200) return where_sql;
  return fmt::format("{}...#{:016x}", where_sql.substr(0, 160), std::hash<std::string>()(where_sql));
}

}  // namespace sluice::sink
