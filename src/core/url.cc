#include "core/url.h"

#include <charconv>

namespace sluice {
namespace {

Result<std::string> PercentDecode(std::string_view s, std::string_view what) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    unsigned v = 0;
    if (i + 2 >= s.size()) {
      return Status::Invalid("invalid URL: bad percent escape in {}", what);
    }
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) return Status::Invalid("invalid URL: bad percent escape in {}", what);
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

}  // namespace

Result<Url> Url::Parse(std::string_view text) {
  Url u;
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    // The text may hold a password: do not echo it.
    return Status::Invalid(
        "invalid URL: expected SCHEME://[USER[:PASSWORD]@]HOST[:PORT][/DB][?PARAMS] "
        "or file:///PATH");
  }
  u.scheme = std::string(text.substr(0, scheme_end));
  std::string_view rest = text.substr(scheme_end + 3);
  if (u.scheme == "file") {
    if (rest.empty() || rest.front() != '/') {
      return Status::Invalid("invalid URL \"file://{}\": expected an absolute path, file:///path/to/file", rest);
    }
    u.path = std::string(rest);
    return u;
  }
  size_t q = rest.find('?');
  std::string_view query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  rest = rest.substr(0, q);
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    ASSIGN_OR_RETURN(u.user, PercentDecode(userinfo.substr(0, colon), "user"));
    if (colon != std::string_view::npos) {
      ASSIGN_OR_RETURN(u.password, PercentDecode(userinfo.substr(colon + 1), "password"));
      u.has_password = true;
    }
  }
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) u.path = std::string(rest.substr(slash + 1));
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return Status::Invalid("invalid URL: unterminated IPv6 address");
    u.host = std::string(hostport.substr(1, close - 1));
    hostport = hostport.substr(close + 1);
    if (!hostport.empty() && hostport.front() != ':') return Status::Invalid("invalid URL: junk after IPv6 address");
    hostport = hostport.empty() ? hostport : hostport.substr(1);
  } else {
    size_t colon = hostport.rfind(':');
    u.host = std::string(hostport.substr(0, colon));
    hostport = colon == std::string_view::npos ? std::string_view() : hostport.substr(colon + 1);
  }
  if (!hostport.empty()) {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(hostport.data(), hostport.data() + hostport.size(), port);
    if (ec != std::errc() || p != hostport.data() + hostport.size() || port == 0 || port > 65535) {
      return Status::Invalid("invalid URL {}://{}: port \"{}\" is not a number from 1 to 65535", u.scheme,
                             u.host, hostport);
    }
    u.port = static_cast<uint16_t>(port);
  }
  if (u.host.empty()) return Status::Invalid("invalid URL {}://...: no host", u.scheme);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    size_t eq = kv.find('=');
    ASSIGN_OR_RETURN(std::string key, PercentDecode(kv.substr(0, eq), "parameter"));
    std::string value;
    if (eq != std::string_view::npos) {
      ASSIGN_OR_RETURN(value, PercentDecode(kv.substr(eq + 1), "parameter"));
    }
    if (!key.empty()) u.params[key] = value;
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return u;
}

std::string Url::ToRedactedString() const {
  if (scheme == "file") return "file://" + path;
  std::string s = scheme + "://";
  if (!user.empty()) {
    s += user;
    if (has_password) s += ":***";
    s += '@';
  }
  s += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port) s += ":" + std::to_string(port);
  if (!path.empty()) s += "/" + path;
  return s;
}

}  // namespace sluice
