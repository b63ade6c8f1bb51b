// MariaDB table kinds beyond plain tables (issue 9 item 7): a SEQUENCE,
// existing before start (copied by `snapshot: initial`) or created after it,
// stands on a MariaDB target where the source's does (sequences_itest.cc
// has more), and never fails the pipeline. A
// system-versioned table replicates its current rows; the target generates
// its own row start/end (and history).

#include "cli/run_command.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

// One pipeline copying shop.* from src to dst: snapshot first, then the stream.
std::string CopyShopConfig(const std::string& dir, MariadbServer& src, MariadbServer& dst, uint32_t server_id) {
  return fmt::format(R"(store: {dir}/sluice.db
sources:
  main: {{url: "{src}", server_id: {id}, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: copy
    source: main
    targets: [dst]
    start: latest
    snapshot: initial
    tables:
      - match: "shop.*"
    batch: {{size: 100, timeout_ms: 50}}
)",
                     fmt::arg("dir", dir), fmt::arg("src", src.Url()), fmt::arg("dst", dst.Url()),
                     fmt::arg("id", server_id));
}

TEST_F(SyncTest, SequencesBeforeAndAfterStartStayInStep) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT); "
                           "CREATE SEQUENCE shop.seq_before; INSERT INTO shop.t VALUES (1, NEXTVAL(shop.seq_before))")
                  .ok());
  WriteConfig(CopyShopConfig(dir_.string(), *src, *dst, 5454));
  StartSluice();
  const std::string q = "SELECT id, v FROM shop.t ORDER BY id";
  ASSERT_TRUE(Converges(*src, q, *dst, q));
  // After start: NEXTVAL/SETVAL on the old sequence, a new sequence, and
  // rows of a plain table around them.
  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (2, NEXTVAL(shop.seq_before)); "
                           "CREATE SEQUENCE shop.seq_after START WITH 100; "
                           "INSERT INTO shop.t VALUES (3, NEXTVAL(shop.seq_after)); "
                           "SELECT SETVAL(shop.seq_after, 500); SELECT SETVAL(shop.seq_before, 50); "
                           "INSERT INTO shop.t VALUES (4, NEXTVAL(shop.seq_after))")
                  .ok());
  ASSERT_TRUE(Converges(*src, q, *dst, q));
  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (5, NEXTVAL(shop.seq_before))").ok());
  ASSERT_TRUE(Converges(*src, q, *dst, q));
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  for (const char* seq : {"SELECT * FROM shop.seq_before", "SELECT * FROM shop.seq_after"}) {
    EXPECT_TRUE(Converges(*src, seq, *dst, seq)) << seq;
  }
  std::string log = sluice_->FullLog();
  EXPECT_EQ(log.find(" error "), std::string::npos) << log;
  EXPECT_EQ(log.find(" warning "), std::string::npos) << log;
  sluice_.reset();
  // check agrees: the sequences are not tables to compare.
  auto r = RunSluice("check -c " + config_, 60);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(SyncTest, SystemVersionedTablesReplicateTheirCurrentRows) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  // Before start (copied by the snapshot): implicit and explicit period
  // columns, each with some history already.
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; "
                           "CREATE TABLE shop.v1 (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING; "
                           "CREATE TABLE shop.v2 (id INT PRIMARY KEY, x INT, rs TIMESTAMP(6) GENERATED ALWAYS AS ROW "
                           "START, re TIMESTAMP(6) GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME(rs, re)) "
                           "WITH SYSTEM VERSIONING; "
                           "INSERT INTO shop.v1 VALUES (1, 1), (2, 2); UPDATE shop.v1 SET x = 10 WHERE id = 1; "
                           "INSERT INTO shop.v2 (id, x) VALUES (1, 1), (2, 2); DELETE FROM shop.v2 WHERE id = 2")
                  .ok());
  WriteConfig(CopyShopConfig(dir_.string(), *src, *dst, 5455));
  StartSluice();
  auto q = [](const char* t) { return fmt::format("SELECT id, x FROM shop.{} ORDER BY id", t); };
  ASSERT_TRUE(Converges(*src, q("v1"), *dst, q("v1")));
  ASSERT_TRUE(Converges(*src, q("v2"), *dst, q("v2")));
  // After start: a new versioned table, and updates, key changes and
  // deletes on all three.
  ASSERT_TRUE(
      src->Execute("CREATE TABLE shop.v3 (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING; "
                   "INSERT INTO shop.v3 VALUES (1, 1), (2, 2), (3, 3); "
                   "UPDATE shop.v3 SET x = x + 100; DELETE FROM shop.v3 WHERE id = 2; "
                   "UPDATE shop.v3 SET id = 30 WHERE id = 3; "
                   "INSERT INTO shop.v1 VALUES (3, 3); UPDATE shop.v1 SET x = x * 2; DELETE FROM shop.v1 "
                   "WHERE id = 2; "
                   "INSERT INTO shop.v2 (id, x) VALUES (2, 20); UPDATE shop.v2 SET x = x + 1 WHERE id = 1; "
                   "BEGIN; UPDATE shop.v1 SET x = 7 WHERE id = 1; UPDATE shop.v1 SET x = 8 WHERE id = 1; COMMIT")
          .ok());
  ASSERT_TRUE(Converges(*src, q("v1"), *dst, q("v1")));
  ASSERT_TRUE(Converges(*src, q("v2"), *dst, q("v2")));
  ASSERT_TRUE(Converges(*src, q("v3"), *dst, q("v3")));
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  // The target keeps its own history (it is versioned too).
  auto type = dst->QueryValue(
      "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND "
      "TABLE_NAME = 'v3'");
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(*type, "SYSTEM VERSIONED");
  sluice_.reset();
  auto r = RunSluice("check -c " + config_, 60);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace sluice::testing
