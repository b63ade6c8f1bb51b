#include "cluster/node_client.h"

#include <fmt/format.h>
#include <httplib.h>

#include <cctype>

namespace sluice::cluster {

Result<NodeReply> CallNode(const std::string& address, std::string_view method, const std::string& path,
                           const std::string& body, NodeCallTimeouts timeouts) {
  if (address.empty()) return Status::Error(StatusCode::kNotSupported, "the node publishes no http address");
  httplib::Client client("http://" + address);
  client.set_connection_timeout(timeouts.connect);
  client.set_read_timeout(timeouts.read);
  client.set_write_timeout(timeouts.read);
  client.set_keep_alive(false);
  httplib::Result res = method == "POST" ? client.Post(path, body, "application/json") : client.Get(path);
  if (!res) {
    return Status::Retryable(StatusCode::kIoError, "{} http://{}{}: {}", method, address, path,
                             httplib::to_string(res.error()));
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
