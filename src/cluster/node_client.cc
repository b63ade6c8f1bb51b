#include "cluster/node_client.h"

#include <fmt/format.h>
#include <httplib.h>

#include <cctype>

namespace sluice::cluster {

Result<NodeReply> CallNode(const std::string& address, std::string_view method, const std::string& path,
                           const std::string& body, NodeCallTimeouts timeouts, const NodeCredentials& credentials) {
  if (address.empty()) return Status::Error(StatusCode::kNotSupported, "the node publishes no http address");
  const bool tls = address.starts_with("https://");
  const std::string base = tls ? address : "http://" + address;
  httplib::Client client(base);
  if (tls) {
    client.enable_server_certificate_verification(true);
    if (!credentials.ca_file.empty()) client.set_ca_cert_path(credentials.ca_file.c_str());
  }
  if (!credentials.token.empty()) client.set_bearer_token_auth(credentials.token);
  client.set_connection_timeout(timeouts.connect);
  client.set_read_timeout(timeouts.read);
  client.set_write_timeout(timeouts.read);
  client.set_keep_alive(false);
  httplib::Result res = method == "POST" ? client.Post(path, body, "application/json") : client.Get(path);
  if (!res) {
    return Status::Retryable(StatusCode::kIoError, "{} {}{}: {}", method, base, path, httplib::to_string(res.error()));
  }
  return NodeReply{res->status, res->body};
}

std::string EncodePathSegment(std::string_view segment) {
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace sluice::cluster
