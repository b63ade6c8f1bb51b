#pragma once
// WebhookSender: POSTs one alarm notification as JSON to the `alarms:
// webhook: url` (http or https, cpp-httplib's client). User and password in
// the URL become HTTP Basic credentials.
//
// The URL may hold secrets (a password, a token in the path or query):
// errors and logs name only Endpoint() = "scheme://host:port".
//
// Threading: one caller (the alarm engine's thread); Send blocks for at most
// about the timeout.

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "pipeline/alarm_rules.h"

namespace sluice::server::alarms {

class WebhookSender {
 public:
  // InvalidArgument for a URL that is not http(s)://host[:port][/path][?query].
  static Result<std::unique_ptr<WebhookSender>> Create(const pipeline::AlarmWebhook& config);

  // Ok on a 2xx answer; otherwise a retryable error naming Endpoint() and the
  // HTTP status or the connection error.
  Status Send(const std::string& json_body);
  const std::string& Endpoint() const { return endpoint_; }

 private:
  WebhookSender() = default;
  std::string endpoint_;  // scheme://host:port, safe to print
  std::string target_;    // path and query
  std::string user_, password_;
  bool has_credentials_ = false;
  uint64_t timeout_ms_ = 5000;
};

}  // namespace sluice::server::alarms
