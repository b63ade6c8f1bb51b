#pragma once
// Connection URLs (design §3): scheme://user:password@host:port/path?k=v&k2=v2.
// User and password are percent-decoded. ToRedactedString never shows the password.

#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice {

struct Url {
  std::string scheme;
  std::string user;
  std::string password;
  bool has_password = false;
  std::string host;
  uint16_t port = 0;
  std::string path;  // without the leading '/' for network URLs; absolute for file://
  std::map<std::string, std::string> params;

  static Result<Url> Parse(std::string_view text);
  std::string Param(const std::string& key, std::string_view fallback = "") const {
    auto it = params.find(key);
    return it == params.end() ? std::string(fallback) : it->second;
  }
  std::string ToRedactedString() const;
};

// mysql:// and mariadb://: the MySQL protocol.
inline bool IsMysqlScheme(std::string_view scheme) { return scheme == "mysql" || scheme == "mariadb"; }

}  // namespace sluice
