#pragma once
// The manager's calls to a node's own HTTP API (the address the node
// publishes in its liveness node): a pipeline's live status, a drain.
// Short timeouts: a node that does not answer must not hold up the
// manager's answer about the whole cluster.

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::cluster {

struct NodeReply {
  int status = 0;
  std::string body;
};

struct NodeCallTimeouts {
  std::chrono::milliseconds connect{1000};
  std::chrono::milliseconds read{2000};
};

// How the manager proves itself to nodes whose API has auth: and trusts
// their http_tls: certificates (cluster: {node_token_env, node_ca}).
struct NodeCredentials {
  std::string token;    // sent as a bearer token when set
  std::string ca_file;  // verifies https:// nodes; "" for the system's CAs
};

// `method` "GET" or "POST" to http://<address><path>, or to <address><path>
// when the node publishes "https://host:port" (certificate verified, never
// a plaintext fallback). An error (retryable) when the node cannot be
// reached or does not answer in time; any HTTP status is a reply.
[[nodiscard]] Result<NodeReply> CallNode(const std::string& address, std::string_view method, const std::string& path,
                                         const std::string& body = "", NodeCallTimeouts timeouts = {},
                                         const NodeCredentials& credentials = {});

// A path segment percent-encoded (a pipeline name may hold '/', ' ', '%').
std::string EncodePathSegment(std::string_view segment);

}  // namespace sluice::cluster
