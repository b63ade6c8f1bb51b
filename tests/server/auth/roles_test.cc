#include "server/auth/roles.h"

#include <gtest/gtest.h>

namespace sluice::server {
namespace {

std::vector<std::string> Segs(std::initializer_list<const char*> s) { return {s.begin(), s.end()}; }

TEST(RolesTest, RoleTable) {
  EXPECT_EQ(RequiredRole("GET", Segs({"api", "pipelines"})), Role::kViewer);
  EXPECT_EQ(RequiredRole("HEAD", Segs({"metrics"})), Role::kViewer);
  EXPECT_EQ(RequiredRole("GET", Segs({"api", "config"})), Role::kViewer);
  for (const char* a : {"start", "stop", "move", "position", "check", "snapshot", "repair"}) {
    EXPECT_EQ(RequiredRole("POST", Segs({"api", "pipelines", "p", a})), Role::kOperator) << a;
  }
  EXPECT_EQ(RequiredRole("POST", Segs({"api", "nodes", "n1", "drain"})), Role::kOperator);
  EXPECT_EQ(RequiredRole("PUT", Segs({"api", "config"})), Role::kAdmin);
  EXPECT_EQ(RequiredRole("POST", Segs({"api", "config", "rollback"})), Role::kAdmin);
  EXPECT_EQ(RequiredRole("POST", Segs({"api", "users"})), Role::kAdmin);
  // A mutation the table does not know is closed to operators.
  EXPECT_EQ(RequiredRole("POST", Segs({"api", "pipelines", "p", "drop"})), Role::kAdmin);
  EXPECT_EQ(RequiredRole("DELETE", Segs({"api", "pipelines", "p"})), Role::kAdmin);
  EXPECT_LT(Role::kViewer, Role::kOperator);
  EXPECT_LT(Role::kOperator, Role::kAdmin);
  EXPECT_EQ(ParseRole("operator"), Role::kOperator);
  EXPECT_FALSE(ParseRole("root").has_value());
}

TEST(RolesTest, PublicRoutes) {
  EXPECT_TRUE(IsPublicRoute("GET", Segs({"healthz"})));
  EXPECT_TRUE(IsPublicRoute("POST", Segs({"api", "login"})));
  EXPECT_TRUE(IsPublicRoute("GET", Segs({"login"})));
  EXPECT_TRUE(IsPublicRoute("GET", Segs({"assets", "app.js"})));
  EXPECT_FALSE(IsPublicRoute("GET", Segs({"metrics"})));
  EXPECT_FALSE(IsPublicRoute("GET", Segs({"api", "pipelines"})));
  EXPECT_FALSE(IsPublicRoute("POST", Segs({"assets", "x"})));
  EXPECT_FALSE(IsPublicRoute("POST", Segs({"api", "logout"})));
}

TEST(RolesTest, AuditNames) {
  EXPECT_EQ(AuditAction("POST", Segs({"api", "pipelines", "p", "stop"})), "pipeline.stop");
  EXPECT_EQ(AuditObject(Segs({"api", "pipelines", "p", "stop"})), "pipeline/p");
  EXPECT_EQ(AuditAction("PUT", Segs({"api", "config"})), "config.update");
  EXPECT_EQ(AuditAction("GET", Segs({"metrics"})), "GET /metrics");
}

}  // namespace
}  // namespace sluice::server
