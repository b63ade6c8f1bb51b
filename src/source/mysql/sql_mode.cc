#include "source/mysql/sql_mode.h"

#include <utility>

namespace sluice::mysql {

std::string SqlModeNames(uint64_t bits, bool mariadb) {
  static constexpr std::pair<uint64_t, const char*> kCommon[] = {
      {1ull << 0, "REAL_AS_FLOAT"},
      {1ull << 1, "PIPES_AS_CONCAT"},
      {1ull << 2, "ANSI_QUOTES"},
      {1ull << 3, "IGNORE_SPACE"},
      {1ull << 6, "NO_UNSIGNED_SUBTRACTION"},
      {1ull << 7, "NO_DIR_IN_CREATE"},
      {1ull << 19, "NO_AUTO_VALUE_ON_ZERO"},
      {1ull << 20, "NO_BACKSLASH_ESCAPES"},
      {1ull << 21, "STRICT_TRANS_TABLES"},
      {1ull << 22, "STRICT_ALL_TABLES"},
      {1ull << 23, "NO_ZERO_IN_DATE"},
      {1ull << 24, "NO_ZERO_DATE"},
      {1ull << 25, "ALLOW_INVALID_DATES"},
      {1ull << 26, "ERROR_FOR_DIVISION_BY_ZERO"},
      {1ull << 29, "HIGH_NOT_PRECEDENCE"},
      {1ull << 30, "NO_ENGINE_SUBSTITUTION"},
  };
  static constexpr std::pair<uint64_t, const char*> kMariadb[] = {
      {1ull << 9, "ORACLE"},
      {1ull << 10, "MSSQL"},
      {1ull << 32, "EMPTY_STRING_IS_NULL"},
      {1ull << 33, "SIMULTANEOUS_ASSIGNMENT"},
      {1ull << 34, "TIME_ROUND_FRACTIONAL"},
  };
  std::string out;
  auto add = [&](const auto& table) {
    for (const auto& [bit, name] : table) {
      if ((bits & bit) == 0) continue;
      if (!out.empty()) out += ',';
      out += name;
    }
  };
  add(kCommon);
  if (mariadb) add(kMariadb);
  return out;
}

}  // namespace sluice::mysql
