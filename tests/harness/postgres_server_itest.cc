#include "harness/postgres_server.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

namespace sluice::testing {
namespace {

TEST(PostgresServer, StartsQueriesRestartsAndStops) {
  std::string dir;
  pid_t pid = -1;
  {
    auto pg = PostgresServer::Start({.logical_replication = true});
    ASSERT_TRUE(pg.ok()) << pg.status().message();
    dir = (*pg)->dir();
    pid = (*pg)->pid();
    EXPECT_EQ((*pg)->QueryValue("SHOW server_version_num").value().substr(0, 2), "15");
    EXPECT_EQ((*pg)->QueryValue("SHOW wal_level").value(), "logical");
    EXPECT_EQ((*pg)->QueryValue("SHOW fsync").value(), "off");
    ASSERT_TRUE((*pg)->CreateUser("app", "pw").ok());
    ASSERT_TRUE((*pg)->CreateDatabase("shop", "app").ok());
    ASSERT_TRUE((*pg)->Execute("CREATE TABLE t (id int primary key); INSERT INTO t VALUES (1)", "shop").ok());
    ASSERT_TRUE((*pg)->Restart().ok());
    EXPECT_EQ((*pg)->QueryValue("SELECT count(*) FROM t", "shop").value(), "1");
    EXPECT_EQ((*pg)->Url("app", "p@ss", "shop"), "postgres://app:p%40ss@127.0.0.1:" + std::to_string((*pg)->port()) +
                                                     "/shop");
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_NE(::kill(pid, 0), 0) << "the postmaster outlived its server object";
}

}  // namespace
}  // namespace sluice::testing
