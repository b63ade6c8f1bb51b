#include "core/url.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(UrlTest, MysqlUrlWithEverything) {
  auto u = Url::Parse("mysql://repl:s%40cret@127.0.0.1:3307/shop?tls=required&ca=/etc/ca.pem");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->scheme, "mysql");
  EXPECT_EQ(u->user, "repl");
  EXPECT_EQ(u->password, "s@cret");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 3307);
  EXPECT_EQ(u->path, "shop");
  EXPECT_EQ(u->Param("tls"), "required");
  EXPECT_EQ(u->Param("ca"), "/etc/ca.pem");
  EXPECT_EQ(u->ToRedactedString(), "mysql://repl:***@127.0.0.1:3307/shop");
}

TEST(UrlTest, FileUrl) {
  auto u = Url::Parse("file:///var/lib/mysql/binlog.000001");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->path, "/var/lib/mysql/binlog.000001");
  EXPECT_FALSE(Url::Parse("file://relative/path").ok());
}

TEST(UrlTest, ErrorsNeverEchoThePassword) {
  auto u = Url::Parse("repl:topsecret@127.0.0.1:3306");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().message().find("topsecret"), std::string::npos);
  auto p = Url::Parse("mysql://repl:topsecret@127.0.0.1:99999");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("99999"), std::string::npos);
  EXPECT_EQ(p.status().message().find("topsecret"), std::string::npos);
  EXPECT_FALSE(Url::Parse("mysql://:3306").ok());
}

TEST(UrlTest, Ipv6Host) {
  auto u = Url::Parse("mysql://root@[::1]:3306");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 3306);
}

}  // namespace
}  // namespace sluice
