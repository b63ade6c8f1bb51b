// ServeConsole (server/console/console_assets.h) over the bundle the build
// embedded: the pages and assets with their types and security headers,
// every file the page loads present, nothing else answered.

#include "server/console/console_assets.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "server/console/console_bundle.h"

namespace sluice::server {
namespace {

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(ConsoleAssetsTest, PagesCarryTheSecurityHeaders) {
  for (const char* path : {"/", "/login"}) {
    std::optional<HttpResponse> page = ServeConsole(path);
    ASSERT_TRUE(page) << path;
    EXPECT_EQ(page->status, 200);
    EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
    EXPECT_NE(page->body.find("<div id=\"app\">"), std::string::npos);
    const std::string csp = Header(*page, "Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
    EXPECT_EQ(Header(*page, "X-Frame-Options"), "DENY");
    EXPECT_EQ(Header(*page, "X-Content-Type-Options"), "nosniff");
  }
}

TEST(ConsoleAssetsTest, EveryFileThePageLoadsIsEmbeddedWithItsType) {
  const std::string html = ServeConsole("/")->body;
  // No inline script: the CSP would block it.
  EXPECT_EQ(std::regex_search(html, std::regex("<script>")), false);
  std::regex ref(R"((?:src|href)="(/assets/[^"]+)\")");
  int found = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it, ++found) {
    const std::string path = (*it)[1];
    std::optional<HttpResponse> asset = ServeConsole(path);
    ASSERT_TRUE(asset) << path;
    EXPECT_FALSE(asset->body.empty()) << path;
    EXPECT_EQ(Header(*asset, "X-Content-Type-Options"), "nosniff") << path;
    if (path.ends_with(".js")) EXPECT_EQ(asset->content_type, "text/javascript; charset=utf-8");
    if (path.ends_with(".css")) EXPECT_EQ(asset->content_type, "text/css; charset=utf-8");
    if (path.ends_with(".svg")) EXPECT_EQ(asset->content_type, "image/svg+xml");
  }
  EXPECT_EQ(found, 3);  // app.js, app.css, favicon.svg
  // Nothing from elsewhere: every URL in the bundle's HTML is this origin's.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(ConsoleAssetsTest, OtherPathsAreNotTheConsoles) {
  for (const char* path : {"/api/pipelines", "/assets/nope.js", "/assets/", "/metrics", "/login/x", "/index.htm",
                           "/assets/../index.html"}) {
    EXPECT_FALSE(ServeConsole(path)) << path;
  }
}

}  // namespace
}  // namespace sluice::server
