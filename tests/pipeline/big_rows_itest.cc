// Rows larger than the target's max_allowed_packet (a binlog carries rows of
// any size; a statement to the target must fit the packet, and bytes take
// twice their size as SQL literals). Before, such a row wedged the pipeline:
// "Server has gone away", retried forever. Now each path writes them in
// pieces (big_rows.h): the snapshot (bulk load, and statements on a target
// without LOCAL INFILE), the stream, and check --repair; a value no
// statement can carry stops the pipeline with an error naming table, key,
// column and the setting to raise.

#include "cli/run_command.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

std::unique_ptr<MariadbServer> StartWith(uint32_t id, std::vector<std::string> args) {
  MariadbServerOptions o;
  o.server_id = id;
  o.extra_args = std::move(args);
  auto s = MariadbServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST_F(SyncTest, RowsLargerThanTheTargetsPacketAreWrittenInPieces) {
  auto src = StartWith(1, {"--max-allowed-packet=64M"});
  // Two targets with a 4 MiB packet: one takes the snapshot as a bulk load,
  // the other (LOCAL INFILE off) as statements.
  auto bulk = StartWith(2, {"--max-allowed-packet=4M"});
  auto plain = StartWith(3, {"--max-allowed-packet=4M", "--local-infile=0"});
  ASSERT_TRUE(src && bulk && plain);
  // 3 MB of bytes (6 MB as a hex literal) and 3 MB of two-byte characters.
  const std::string big_blob = "REPEAT(UNHEX('00FF27'), 1000000)";
  const std::string big_text = "REPEAT('a\xc3\xa9', 1000000)";
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.files (id INT PRIMARY KEY, name VARCHAR(20), "
                           "body LONGTEXT CHARACTER SET utf8mb4, data LONGBLOB)")
                  .ok());
  ASSERT_TRUE(src->Execute(fmt::format("INSERT INTO shop.files VALUES (1, 'one', {}, {}), (2, 'two', 'small', NULL)",
                                       big_text, big_blob))
                  .ok());
  WriteConfig(fmt::format(R"(store: {dir}/sluice.db
sources:
  main: {{url: "{src}", server_id: 4711, heartbeat_ms: 200}}
targets:
  bulk: {{url: "{bulk}"}}
  plain: {{url: "{plain}"}}
pipelines:
  - name: files
    source: main
    targets: [bulk, plain]
    start: latest
    snapshot: initial
    tables:
      - match: "shop.*"
    parallel: 2
    batch: {{size: 100, timeout_ms: 50}}
)",
                          fmt::arg("dir", dir_.string()), fmt::arg("src", src->Url()), fmt::arg("bulk", bulk->Url()),
                          fmt::arg("plain", plain->Url())));
  StartSluice();
  const std::string q = "SELECT id, name, MD5(body), LENGTH(body), MD5(data), LENGTH(data) FROM shop.files ORDER BY id";
  ASSERT_TRUE(Converges(*src, q, *bulk, q));
  ASSERT_TRUE(Converges(*src, q, *plain, q));
  // The stream: a large row inserted beside small ones in one transaction,
  // one grown and one shrunk, a key change of a large row.
  ASSERT_TRUE(src->Execute(fmt::format("BEGIN; INSERT INTO shop.files VALUES (3, 'three', {0}, {1}); "
                                       "INSERT INTO shop.files VALUES (4, 'four', 'x', 'y'); "
                                       "UPDATE shop.files SET data = {1} WHERE id = 2; "
                                       "UPDATE shop.files SET body = 'now small' WHERE id = 1; COMMIT; "
                                       "UPDATE shop.files SET id = 30 WHERE id = 3",
                                       big_text, big_blob))
                  .ok());
  EXPECT_TRUE(Converges(*src, q, *bulk, q));
  EXPECT_TRUE(Converges(*src, q, *plain, q));
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  sluice_.reset();
  // check --repair mends a large row changed on a target.
  ASSERT_TRUE(plain->Execute("UPDATE shop.files SET data = 'planted' WHERE id = 30").ok());
  auto r = RunSluice("check -c " + config_ + " --repair", 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 rows repaired"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(Converges(*src, q, *plain, q));
  r = RunSluice("check -c " + config_, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(SyncTest, AValueNoStatementCanCarryStopsThePipelineNamingWhatToRaise) {
  auto src = StartWith(1, {"--max-allowed-packet=64M"});
  auto dst = StartWith(2, {"--max-allowed-packet=4M"});
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.files (id INT PRIMARY KEY, data LONGBLOB)").ok());
  http_port_ = FreePort();
  WriteConfig(fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  main: {{url: "{src}", server_id: 4712, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: files
    source: main
    targets: [dst]
    start: latest
    snapshot: initial
    tables:
      - match: "shop.*"
)",
                          fmt::arg("dir", dir_.string()), fmt::arg("src", src->Url()), fmt::arg("dst", dst->Url()),
                          fmt::arg("port", http_port_)));
  StartSluice();
  ASSERT_TRUE(WaitForState("files", "running"));
  // 5 MB: more than the target's 4 MiB max_allowed_packet even in pieces.
  ASSERT_TRUE(src->Execute("INSERT INTO shop.files VALUES (1, 'fits'); "
                           "INSERT INTO shop.files VALUES (2, REPEAT('z', 5000000)); "
                           "INSERT INTO shop.files VALUES (3, 'after')")
                  .ok());
  ASSERT_TRUE(WaitForState("files", "failed", std::chrono::seconds(30), "dst"));
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("table `shop`.`files` (from shop.files) key id=2 @ "), std::string::npos) << log;
  EXPECT_NE(log.find("column `data` holds 5000000 bytes, more than the target's max_allowed_packet (4194304 bytes)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("SET GLOBAL max_allowed_packet = 5242880"), std::string::npos) << log;
  // Stopped at that transaction: what came before it is applied, nothing after.
  auto rows = dst->Query("SELECT id FROM shop.files ORDER BY id");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(RowsToText(*rows), "1\n");
  // Raised as it says, the pipeline goes on from that row.
  sluice_.reset();
  ASSERT_TRUE(dst->Execute("SET GLOBAL max_allowed_packet = 5242880").ok());
  StartSluice();
  const std::string q = "SELECT id, MD5(data) FROM shop.files ORDER BY id";
  EXPECT_TRUE(Converges(*src, q, *dst, q));
}

}  // namespace
}  // namespace sluice::testing
