// A source's DDL statement runs on a MySQL target in the session the source
// ran it in (the Query event's sql_mode, character sets and time zone), as
// a native replica runs it. Before, the loader's own session read it: a
// target server whose default character set differs (MariaDB's built-in
// latin1) created the replicated database in it and then rejected the
// source's text; a TIMESTAMP default written in a non-UTC zone was read as
// UTC (rows the ALTER gave it held another instant); statements written
// under ANSI_QUOTES or NO_BACKSLASH_ESCAPES failed or meant something else.

#include <cstdlib>

#include "cli/run_command.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

TEST_F(SyncTest, DdlRunsOnTheTargetInTheSourceSessionsSettings) {
  // The source server's own zone is UTC+8 (time_zone SYSTEM), the target's
  // default character set latin1.
  ::setenv("TZ", "CST-8", 1);
  auto src = StartServer(1);
  ::unsetenv("TZ");
  MariadbServerOptions o;
  o.server_id = 2;
  o.extra_args = {"--character-set-server=latin1", "--collation-server=latin1_swedish_ci"};
  auto dst_started = MariadbServer::Start(o);
  ASSERT_TRUE(src && dst_started.ok());
  auto& dst = *dst_started;
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, s VARCHAR(10)); "
                           "INSERT INTO shop.t VALUES (1, 'a'); "
                           "ALTER TABLE shop.t ADD COLUMN at TIMESTAMP NOT NULL DEFAULT '2024-01-01 08:00:00'; "
                           "SET time_zone = '-05:00'; "
                           "ALTER TABLE shop.t ADD COLUMN due TIMESTAMP NOT NULL DEFAULT '2024-01-01 07:00:00'")
                  .ok());
  ASSERT_TRUE(src->Execute("SET sql_mode = 'ANSI_QUOTES'; "
                           "CREATE TABLE shop.\"q\" (id INT PRIMARY KEY, \"v\" VARCHAR(10) DEFAULT 'x')")
                  .ok());
  ASSERT_TRUE(src->Execute("SET sql_mode = 'NO_BACKSLASH_ESCAPES'; "
                           "CREATE TABLE shop.b (id INT PRIMARY KEY, v VARCHAR(10) DEFAULT 'a\\b')")
                  .ok());
  ASSERT_TRUE(src->Execute("INSERT INTO shop.t (id, s) VALUES (2, '\xe2\x9c\x93'); INSERT INTO shop.q (id) VALUES (1); "
                           "INSERT INTO shop.b (id) VALUES (1)")
                  .ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  const char* kT = "SELECT id, s, UNIX_TIMESTAMP(at), UNIX_TIMESTAMP(due) FROM shop.t ORDER BY id";
  EXPECT_TRUE(Converges(*src, kT, *dst, kT));
  auto at = dst->QueryValue("SELECT CONCAT(UNIX_TIMESTAMP(at), ' ', UNIX_TIMESTAMP(due)) FROM shop.t WHERE id = 1");
  ASSERT_TRUE(at.ok()) << at.status().message();
  EXPECT_EQ(*at, "1704067200 1704110400");  // 2024-01-01 00:00 and 12:00 UTC
  EXPECT_TRUE(Converges(*src, "SELECT * FROM shop.q", *dst, "SELECT * FROM shop.q"));
  EXPECT_TRUE(Converges(*src, "SELECT * FROM shop.b", *dst, "SELECT * FROM shop.b"));
  auto b = dst->QueryValue("SELECT v FROM shop.b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "a\\b");
  auto charset = dst->QueryValue("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE "
                                 "SCHEMA_NAME = 'shop'");
  ASSERT_TRUE(charset.ok());
  EXPECT_EQ(*charset, "utf8mb4");
  auto r = RunSluice("check -c " + config_ + " --pipeline copy", 60);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(SyncTest, TimestampColumnsTakeTheSourcesExplicitDefaultsSetting) {
  // A target whose explicit_defaults_for_timestamp is OFF (MySQL 5.7's and
  // MariaDB's before 10.10 default) made the source's nullable TIMESTAMP
  // columns NOT NULL and auto-set, and turned the NULLs written into them
  // into the time of the apply.
  auto src = StartServer(1);
  MariadbServerOptions o;
  o.server_id = 2;
  o.extra_args = {"--explicit-defaults-for-timestamp=OFF"};
  auto dst_started = MariadbServer::Start(o);
  ASSERT_TRUE(src && dst_started.ok());
  auto& dst = *dst_started;
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, a TIMESTAMP)").ok());
  ASSERT_TRUE(src->Execute("SET explicit_defaults_for_timestamp = OFF; "
                           "CREATE TABLE shop.auto (id INT PRIMARY KEY, a TIMESTAMP)")
                  .ok());
  ASSERT_TRUE(src->Execute("SET explicit_defaults_for_timestamp = ON; ALTER TABLE shop.t ADD COLUMN b TIMESTAMP; "
                           "INSERT INTO shop.t VALUES (1, NULL, NULL), (2, '2020-01-01 00:00:00', NULL); "
                           "INSERT INTO shop.auto VALUES (1, '2021-01-01 00:00:00')")
                  .ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  const char* kT = "SELECT id, UNIX_TIMESTAMP(a), UNIX_TIMESTAMP(b) FROM shop.t ORDER BY id";
  EXPECT_TRUE(Converges(*src, kT, *dst, kT));
  const char* kAuto = "SELECT id, UNIX_TIMESTAMP(a) FROM shop.auto";
  EXPECT_TRUE(Converges(*src, kAuto, *dst, kAuto));
  const char* kColumns = "SELECT GROUP_CONCAT(CONCAT_WS(' ', TABLE_NAME, COLUMN_NAME, IS_NULLABLE, "
                         "IFNULL(COLUMN_DEFAULT, '-'), EXTRA) ORDER BY TABLE_NAME, COLUMN_NAME SEPARATOR '; ') "
                         "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND DATA_TYPE = 'timestamp'";
  auto want = src->QueryValue(kColumns);
  auto got = dst->QueryValue(kColumns);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(*got, *want);
  EXPECT_NE(want->find("t a YES NULL ; t b YES NULL"), std::string::npos) << *want;
  EXPECT_NE(want->find("auto a NO current_timestamp()"), std::string::npos) << *want;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
