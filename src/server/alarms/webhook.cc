#include "server/alarms/webhook.h"

#include <fmt/format.h>
#include <httplib.h>

#include "core/url.h"

namespace sluice::server::alarms {

Result<std::unique_ptr<WebhookSender>> WebhookSender::Create(const pipeline::AlarmWebhook& config) {
  auto bad = [] { return Status::Invalid("alarms.webhook.url: expected http(s)://host[:port][/path][?query]"); };
  ASSIGN_OR_RETURN(Url parsed, Url::Parse(config.url));  // user and password, percent-decoded
  std::string_view url = config.url;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad();
  std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return bad();
  std::string_view rest = url.substr(scheme_end + 3);
  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? "/" : rest.substr(path_start);
  if (size_t hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  if (authority.empty()) return bad();
  auto sender = std::unique_ptr<WebhookSender>(new WebhookSender());
  // "[::1]:9000", "host:9000" or "host" (then the scheme's port).
  bool has_port = authority.front() == '[' ? authority.find("]:") != std::string_view::npos
                                           : authority.find(':') != std::string_view::npos;
  std::string default_port = scheme == "https" ? ":443" : ":80";
  sender->endpoint_ = fmt::format("{}://{}{}", scheme, authority, has_port ? "" : default_port);
  sender->target_ = target.empty() || target[0] != '/' ? "/" + std::string(target) : std::string(target);
  sender->user_ = parsed.user;
  sender->password_ = parsed.password;
  sender->has_credentials_ = !parsed.user.empty();
  sender->timeout_ms_ = config.timeout_ms;
  return sender;
}

Status WebhookSender::Send(const std::string& json_body) {
  httplib::Client client(endpoint_);
  const auto timeout = std::chrono::milliseconds(timeout_ms_);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  if (has_credentials_) client.set_basic_auth(user_, password_);
  httplib::Result r = client.Post(target_, json_body, "application/json");
  if (!r) {
    return Status::Retryable(StatusCode::kIoError, "alarm webhook {}: {}", endpoint_, httplib::to_string(r.error()));
  }
  if (r->status < 200 || r->status >= 300) {
    return Status::Retryable(StatusCode::kIoError, "alarm webhook {}: HTTP {}", endpoint_, r->status);
  }
  return Status::Ok();
}

}  // namespace sluice::server::alarms
