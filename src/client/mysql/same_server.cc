#include "client/mysql/same_server.h"

#include <fmt/format.h>

#include <random>

namespace sluice::mysql {

Result<bool> SameServer(MysqlConnection& a, MysqlConnection& b) {
  std::random_device rd;
  const std::string name = fmt::format("sluice.same_server.{:08x}{:08x}{:08x}", rd(), rd(), rd());
  ASSIGN_OR_RETURN(auto taken, a.QueryValue(fmt::format("SELECT GET_LOCK('{}', 0)", name)));
  if (taken.value_or("0") != "1") {
    return Status::Error(StatusCode::kServerError, "GET_LOCK('{}') was not granted", name);
  }
  auto seen = b.QueryValue(fmt::format("SELECT IS_USED_LOCK('{}') IS NOT NULL", name));
  Status released = a.Execute(fmt::format("DO RELEASE_LOCK('{}')", name));
  if (!seen.ok()) return seen.status();
  RETURN_IF_ERROR(released);
  return seen->value_or("0") == "1";
}

}  // namespace sluice::mysql
