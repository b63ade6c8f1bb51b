#pragma once
// The routes `sluice node` adds to the HTTP API of section 6:
//
//   GET  /api/node        {"id","labels","http","state":"online"|"draining","session",
//                          "revision","config_error","pipelines":[owned names],
//                          "candidacies":[{"pipeline","state","epoch"}]}
//   POST /api/node/drain  publishes `draining`, hands every pipeline over and
//                         campaigns for none; 200 + the node object after it

#include "cluster/node_agent.h"
#include "server/http_api.h"

namespace sluice::cluster {

// `agent` must outlive the HttpApi the routes are set on.
server::HttpApi::ExtraRoutes NodeRoutes(NodeAgent& agent);

}  // namespace sluice::cluster
