#pragma once
// `sluice run`'s configuration routes (design §11), for the console's
// configuration page. `sluice run` keeps no revisions (the file is the
// configuration; SIGHUP reloads it), so these read and validate only; the
// cluster manager's API has revisions, PUT and rollback.
//
//   GET  /api/config            {"path","revision":"<SHA-256 of the file>","yaml":"<secrets masked>"}
//   POST /api/config/validate   body: YAML (masked secrets are taken from the file, config_secrets.h);
//                               200 {"valid":true,"pipelines":N} | 400 {"error":"FILE:LINE: KEY: ..."}
//
// Thread-safe: each request reads the file afresh.

#include <string>

#include "server/http_api.h"

namespace sluice::server {

HttpApi::ExtraRoutes FileConfigRoutes(std::string config_path);

}  // namespace sluice::server
