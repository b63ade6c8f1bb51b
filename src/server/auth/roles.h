#pragma once
// Roles and what each request needs (design §11): `viewer` reads;
// `operator` also starts, stops, moves, sets positions, runs
// check/snapshot/repair and drains nodes; `admin` also changes the
// configuration and users. Pure functions over the method and the decoded
// path segments, shared by `sluice run`'s API and the manager's.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::server {

// Ordered: a higher role may do everything a lower one may. Values are stable.
enum class Role : uint8_t { kNone = 0, kViewer = 1, kOperator = 2, kAdmin = 3 };

const char* RoleName(Role role);  // "none" | "viewer" | "operator" | "admin"
std::optional<Role> ParseRole(std::string_view name);

// The role a request needs. Reads (GET, HEAD) need viewer; the operations
// above need operator; any other mutation (configuration, rollback, users,
// and routes this table does not know) needs admin, so that a new route is
// closed until someone decides otherwise.
Role RequiredRole(std::string_view method, const std::vector<std::string>& segments);

// What a mutation is called in the audit log: "pipeline.stop",
// "config.rollback", "node.drain", else "METHOD /path".
std::string AuditAction(std::string_view method, const std::vector<std::string>& segments);
// The object it acts on: "pipeline/NAME", "node/ID", "config", else "".
std::string AuditObject(const std::vector<std::string>& segments);

// Routes that answer without credentials: /healthz, the login page and the
// console's static assets (`/`, `/login`, `/assets/...`), POST /api/login.
bool IsPublicRoute(std::string_view method, const std::vector<std::string>& segments);

}  // namespace sluice::server
