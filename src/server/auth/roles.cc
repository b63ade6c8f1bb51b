#include "server/auth/roles.h"

#include <fmt/format.h>

#include <array>

namespace sluice::server {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
    case Role::kNone:
      break;
  }
  return "none";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

namespace {

// POST /api/pipelines/NAME/ACTION that operators may run.
constexpr std::array<std::string_view, 7> kOperatorPipelineActions = {"start", "stop",  "move",  "position",
                                                                      "check", "snapshot", "repair"};

bool IsRead(std::string_view method) { return method == "GET" || method == "HEAD" || method == "OPTIONS"; }

}  // namespace

Role RequiredRole(std::string_view method, const std::vector<std::string>& s) {
  if (IsRead(method)) return Role::kViewer;
  if (method == "POST" && s.size() == 4 && s[0] == "api" && s[1] == "pipelines") {
    for (std::string_view a : kOperatorPipelineActions) {
      if (s[3] == a) return Role::kOperator;
    }
  }
  if (method == "POST" && s.size() == 4 && s[0] == "api" && s[1] == "nodes" && s[3] == "drain") return Role::kOperator;
  if (method == "POST" && s.size() == 3 && s[0] == "api" && s[1] == "node" && s[2] == "drain") return Role::kOperator;
  return Role::kAdmin;
}

std::string AuditAction(std::string_view method, const std::vector<std::string>& s) {
  if (s.size() == 4 && s[0] == "api" && s[1] == "pipelines") return "pipeline." + s[3];
  if (s.size() == 4 && s[0] == "api" && s[1] == "nodes") return "node." + s[3];
  if (s.size() == 3 && s[0] == "api" && s[1] == "node") return "node." + s[2];
  if (s.size() >= 2 && s[0] == "api" && s[1] == "config") {
    if (s.size() == 2) return method == "PUT" ? "config.update" : fmt::format("config.{}", method);
    return "config." + s[2];
  }
  std::string path;
  for (const std::string& seg : s) path += "/" + seg;
  return fmt::format("{} {}", method, path);
}

std::string AuditObject(const std::vector<std::string>& s) {
  if (s.size() >= 3 && s[0] == "api" && s[1] == "pipelines") return "pipeline/" + s[2];
  if (s.size() >= 3 && s[0] == "api" && s[1] == "nodes") return "node/" + s[2];
  if (s.size() >= 2 && s[0] == "api" && s[1] == "config") return "config";
  return "";
}

bool IsPublicRoute(std::string_view method, const std::vector<std::string>& s) {
  if (s.size() == 1 && s[0] == "healthz") return true;
  if (method == "POST" && s.size() == 2 && s[0] == "api" && s[1] == "login") return true;
  if (!IsRead(method)) return false;
  // The console's login page and static assets (the console itself comes later).
  if (s.size() == 1 && (s[0].empty() || s[0] == "login")) return true;
  return !s.empty() && s[0] == "assets";
}

}  // namespace sluice::server
