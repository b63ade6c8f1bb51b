// `snapshot: initial` and the targets it copies into. A target added to a
// pipeline that already streams gets the existing rows copied, and only it,
// while the others stream on; then the pipeline starts again and it joins
// the stream where its copy began. The others keep their rows (before,
// every target was copied again, and a keyless table's rows written while
// sluice was stopped then landed twice there: once from the copy, once from
// the replay). A keyless table is copied exactly at the position streaming
// starts from (MariaDB: read in the consistent snapshot that position comes
// from), so a row written during the copy is not copied and replayed both.
// A target left behind (re-added after a long absence, restored from an old
// backup) whose checkpoint the source's binlog no longer holds stops alone,
// naming the way back; the others go on.

#include <fmt/format.h>

#include <fstream>

#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kOrders = "SELECT id, amount FROM shop.orders ORDER BY id";
constexpr const char* kAudit = "SELECT txn FROM shop.audit ORDER BY txn";

class SnapshotTargetsTest : public SyncTest {
 protected:
  // shop.orders (keyed) and shop.audit (keyless, as log tables often are),
  // copied with `snapshot: initial` into `targets`.
  std::string Config(const std::vector<std::pair<std::string, MariadbServer*>>& targets,
                     const std::string& extra = "") {
    std::string defs, names;
    for (const auto& [name, server] : targets) {
      defs += fmt::format("  {}: {{url: \"{}\"}}\n", name, server->Url());
      names += (names.empty() ? "" : ", ") + name;
    }
    return fmt::format(R"(store: {}/sluice.db
http: 127.0.0.1:{}
sources:
  main: {{url: "{}", server_id: 5151, heartbeat_ms: 200}}
targets:
{}pipelines:
  - name: copy
    source: main
    targets: [{}]
    start: earliest
    snapshot: initial
    tables:
      - match: "shop.*"
    batch: {{size: 100, timeout_ms: 50}}
{})",
                       dir_.string(), http_port_, src_->Url(), defs, names, extra);
  }
  Status Write(int first, int n) {
    for (int i = first; i < first + n; ++i) {
      RETURN_IF_ERROR(src_->Execute(fmt::format("BEGIN; INSERT INTO shop.orders VALUES ({0}, {0}); "
                                                "UPDATE shop.orders SET amount = amount + 1 WHERE id = {1}; "
                                                "INSERT INTO shop.audit VALUES ({0}); COMMIT",
                                                i, (i + 1) / 2)));
    }
    return Status::Ok();
  }
  ::testing::AssertionResult Same(MariadbServer& dst) {
    auto orders = Converges(*src_, kOrders, dst, kOrders);
    return orders ? Converges(*src_, kAudit, dst, kAudit) : orders;
  }

  void SetUp() override {
    SyncTest::SetUp();
    http_port_ = FreePort();
  }
  // The source with shop.orders and shop.audit.
  void StartShop() {
    src_ = StartServer(1);
    ASSERT_TRUE(src_);
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT); "
                              "CREATE TABLE shop.audit (txn INT NOT NULL)")
                    .ok());
  }

  // sluice started with its copies held at their first write until `go`
  // exists; returns once one is held.
  void StartHeldAtChunkWrite(const std::string& go) {
    ::setenv("SLUICE_SYNC_POINTS", ("mysql.chunk.write=wait:" + go).c_str(), 1);
    StartSluice();
    ::unsetenv("SLUICE_SYNC_POINTS");
    ASSERT_TRUE(WaitUntil([&] { return sluice_->FullLog().find("waiting for") != std::string::npos; },
                          std::chrono::seconds(30)))
        << sluice_->FullLog();
  }
  // shop.a and shop.b, keyless, two rows each, copied into `dst` with the
  // copy held at its first write (the sync point waits for `go`); then a
  // row into each and one deleted from shop.b.
  void HoldTheKeylessCopy(MariadbServer& dst, const std::string& go) {
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (v INT); CREATE TABLE shop.b (v INT); "
                              "INSERT INTO shop.a VALUES (1), (1); INSERT INTO shop.b VALUES (1), (1)")
                    .ok());
    WriteConfig(Config({{"dst", &dst}}, "    parallel: 1\n"));
    ASSERT_NO_FATAL_FAILURE(StartHeldAtChunkWrite(go));
    ASSERT_TRUE(
        src_->Execute("INSERT INTO shop.a VALUES (2); INSERT INTO shop.b VALUES (2); DELETE FROM shop.b LIMIT 1").ok());
  }
  void ExpectKeylessTablesEqual(MariadbServer& dst) {
    for (const char* t : {"shop.a", "shop.b"}) {
      std::string q = fmt::format("SELECT v FROM {} ORDER BY v", t);
      EXPECT_TRUE(Converges(*src_, q, dst, q));
    }
  }

  std::unique_ptr<MariadbServer> src_;
};

TEST_F(SnapshotTargetsTest, ATargetAddedLaterIsCopiedAloneAndTheOthersGoOn) {
  ASSERT_NO_FATAL_FAILURE(StartShop());
  auto dst = StartServer(2);
  auto added = StartServer(3);
  ASSERT_TRUE(dst && added);
  ASSERT_TRUE(Write(1, 20).ok());
  WriteConfig(Config({{"dst", dst.get()}}));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Write(21, 5).ok());
  ASSERT_TRUE(Same(*dst));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  // While sluice is stopped: more rows, a delete; then a second target.
  ASSERT_TRUE(Write(26, 5).ok());
  ASSERT_TRUE(src_->Execute("DELETE FROM shop.orders WHERE id = 3; DELETE FROM shop.audit WHERE txn = 4").ok());
  // The copy into the added target is held at its first chunk: `dst` is
  // not held with it, it streams meanwhile.
  WriteConfig(Config({{"dst", dst.get()}, {"added", added.get()}}));
  std::string go = (dir_ / "go").string();
  ASSERT_NO_FATAL_FAILURE(StartHeldAtChunkWrite(go));
  ASSERT_TRUE(Write(31, 5).ok());
  EXPECT_TRUE(Same(*dst));  // audit rows 26..30 once, not again from a copy
  EXPECT_TRUE(WaitForState("copy", "snapshotting", std::chrono::seconds(5), "added"));
  std::ofstream(go).put('\n');
  ASSERT_TRUE(Write(36, 5).ok());
  EXPECT_TRUE(Same(*added));
  EXPECT_TRUE(Same(*dst));
  ASSERT_TRUE(WaitForState("copy", "running", std::chrono::seconds(30), "added"));
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("copying the existing rows into target(s) added (snapshot: initial; added since the pipeline "
                     "last ran, or their copy was not finished) while the others stream"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("target(s) added copied: they join the stream where their copy began: starting it again"),
            std::string::npos)
      << log;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The copy is held after its first table's read while rows go into both
// keyless tables: the second table, read later, still holds exactly the
// rows before the start position, and the stream brings the new ones once.
TEST_F(SnapshotTargetsTest, AKeylessTableWrittenDuringTheCopyGetsEachRowOnce) {
  src_ = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src_ && dst);
  std::string go = (dir_ / "go").string();
  ASSERT_NO_FATAL_FAILURE(HoldTheKeylessCopy(*dst, go));
  std::ofstream(go).put('\n');
  ExpectKeylessTablesEqual(*dst);
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A crash (kill -9) before a keyless table's copy committed: the next start
// copies it again, reading it later than where the stream starts from; the
// stream leaves out the table's changes that copy holds (before, a row
// written between the two starts landed twice).
TEST_F(SnapshotTargetsTest, AKeylessTableCopiedAgainAfterACrashGetsEachRowOnce) {
  src_ = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src_ && dst);
  ASSERT_NO_FATAL_FAILURE(HoldTheKeylessCopy(*dst, (dir_ / "never").string()));
  sluice_->Kill();
  // Also a TRUNCATE the copy holds: run again over the copy, it would wipe
  // the rows inserted after it, whose inserts the stream leaves out.
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.a VALUES (3); DELETE FROM shop.a WHERE v = 1 LIMIT 1; "
                            "TRUNCATE TABLE shop.b; INSERT INTO shop.b VALUES (5), (5)")
                  .ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.a VALUES (4); INSERT INTO shop.b VALUES (4)").ok());
  ExpectKeylessTablesEqual(*dst);
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// `sluice snapshot` by hand while the pipeline is stopped and its target
// streams from an earlier position: the keyless table's changes in between
// are in the copy, and the next start leaves them out (the output says so,
// and what a stream running meanwhile would do).
TEST_F(SnapshotTargetsTest, AKeylessCopyBesideAnEarlierCheckpointGetsEachRowOnce) {
  ASSERT_NO_FATAL_FAILURE(StartShop());
  auto dst = StartServer(2);
  ASSERT_TRUE(dst);
  ASSERT_TRUE(Write(1, 5).ok());
  WriteConfig(Config({{"dst", dst.get()}}));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Same(*dst));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(Write(6, 2).ok());
  std::string out = (dir_ / "snapshot.log").string();
  Status snapshot = RunCommand({SLUICE_BINARY, "snapshot", "-c", config_, "--pipeline", "copy", "--progress", "plain"},
                               out);
  ASSERT_TRUE(snapshot.ok()) << snapshot.message();
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("shop.audit without a primary or unique key copied into target dst, which streams from"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("the pipeline's next start leaves out their changes the copy holds"), std::string::npos)
      << text;
  ASSERT_TRUE(Write(8, 2).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(Same(*dst));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(SnapshotTargetsTest, ATargetWhoseBinlogIsGoneStopsAloneAndComesBackByACopy) {
  ASSERT_NO_FATAL_FAILURE(StartShop());
  auto dst = StartServer(2);
  auto behind = StartServer(3);
  ASSERT_TRUE(dst && behind);
  ASSERT_TRUE(Write(1, 5).ok());
  const auto both = Config({{"dst", dst.get()}, {"behind", behind.get()}});
  WriteConfig(both);
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Same(*behind));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  // `behind` is left out a while; its binlog goes meanwhile.
  WriteConfig(Config({{"dst", dst.get()}}));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Write(6, 5).ok());
  ASSERT_TRUE(src_->Execute("DELETE FROM shop.orders WHERE id = 2").ok());
  ASSERT_TRUE(Same(*dst));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(PurgeBinlogs(*src_));
  // `dst` applies a little more, so its checkpoint is in the binlog kept.
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Write(11, 1).ok());
  ASSERT_TRUE(Same(*dst));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  WriteConfig(both);
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Write(12, 3).ok());
  EXPECT_TRUE(Same(*dst));  // before: the whole pipeline failed on the missing file
  ASSERT_TRUE(WaitForState("copy", "failed", std::chrono::seconds(20), "behind"));
  std::string status = PipelineStatus("copy").dump();
  EXPECT_NE(status.find("no longer has"), std::string::npos) << status;
  EXPECT_NE(status.find("DELETE FROM _sluice.checkpoints WHERE pipeline = 'copy' AND target = 'behind'"),
            std::string::npos)
      << status;
  EXPECT_EQ(PipelineStatus("copy")["state"], "running") << status;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  // The way back it names: its checkpoint removed, a copy into it alone;
  // the repair then removes the row deleted while it was away.
  ASSERT_TRUE(behind->Execute("DELETE FROM _sluice.checkpoints WHERE pipeline = 'copy' AND target = 'behind'").ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Write(15, 2).ok());
  EXPECT_TRUE(Converges(*src_, kOrders, *dst, kOrders));
  ASSERT_TRUE(WaitForState("copy", "running", std::chrono::seconds(30), "behind"));
  Status repair = RunCommand({SLUICE_BINARY, "check", "-c", config_, "--pipeline", "copy", "--repair"},
                             (dir_ / "repair.log").string());
  EXPECT_TRUE(repair.ok()) << repair.message();
  EXPECT_TRUE(Same(*behind));
  EXPECT_TRUE(Same(*dst));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
