// A pipeline feeding two targets, one of which goes down for longer than
// `detach_after`: the other must go on (before, the down target's full
// queue held the capture and with it every target), and the down one,
// once it answers again, catches up from its checkpoint: both end equal to
// the source, every transaction exactly once.

#include "pipeline/pg_source_fixture.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

// b's connection options: short timeouts, so that a down b is seen soon.
constexpr const char* kShortTimeouts = "?read_timeout=3&write_timeout=3&connect_timeout=2";

std::string TwoTargetConfig(const std::string& dir, uint16_t port, const MariadbServer& src, const MariadbServer& a,
                            const MariadbServer& b, const std::string& detach_after,
                            const std::string& b_options = kShortTimeouts) {
  return fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  main: {{url: "{src}", server_id: 5252, heartbeat_ms: 200}}
targets:
  a: {{url: "{a}"}}
  b: {{url: "{b}{b_options}"}}
pipelines:
  - name: p
    source: main
    targets: [a, b]
    start: earliest
    tables:
      - match: "shop.*"
    batch: {{size: 100, timeout_ms: 50}}
    queue_bytes: 1MiB
    detach_after: {detach_after}
)",
                     fmt::arg("dir", dir), fmt::arg("port", port), fmt::arg("src", src.Url()),
                     fmt::arg("a", a.Url()), fmt::arg("b", b.Url()), fmt::arg("detach_after", detach_after),
                     fmt::arg("b_options", b_options));
}

class DownTargetTest : public SyncTest {
 protected:
  // Source, a and b, the configuration (detach_after: 2s), and transactions
  // 1-100 on the source.
  void StartServers(const std::string& b_options = kShortTimeouts) {
    src_ = StartServer(1);
    a_ = StartServer(2);
    b_ = StartServer(3);
    ASSERT_TRUE(src_ && a_ && b_);
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, note TEXT); "
                              "CREATE TABLE shop.audit (txn INT, msg VARCHAR(40))")
                    .ok());
    http_port_ = FreePort();
    WriteConfig(TwoTargetConfig(dir_.string(), http_port_, *src_, *a_, *b_, "2s", b_options));
    ASSERT_NO_FATAL_FAILURE(Write(1, 100));
  }
  // Transactions first..first+n-1, each an order with a 1 KB note and a
  // row of the keyless audit table (which would show a transaction applied
  // twice).
  void Write(int first, int n) {
    for (int t = first; t < first + n; t += 50) {
      std::string sql;
      for (int k = t; k < std::min(first + n, t + 50); ++k) {
        sql += fmt::format("BEGIN; INSERT INTO shop.orders VALUES ({0}, REPEAT('x', 1000)); INSERT INTO shop.audit "
                           "VALUES ({0}, 'txn {0}'); COMMIT;",
                           k);
      }
      ASSERT_TRUE(src_->Execute(sql).ok());
    }
    written_ = first + n - 1;
  }
  ::testing::AssertionResult Rows(MariadbServer& dst, int want,
                                  std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::string got;
    bool ok = WaitUntil(
        [&] {
          auto n = dst.QueryValue("SELECT COUNT(*) FROM shop.orders");
          got = n.ok() ? *n : n.status().message();
          return got == std::to_string(want);
        },
        timeout);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "orders on the target: " << got << ", want " << want << "\n"
                                         << (sluice_ ? sluice_->Log() : "");
  }
  void ExpectExactlyOnce(MariadbServer& dst) {
    EXPECT_TRUE(Converges(*src_, "SELECT id, note FROM shop.orders ORDER BY id", dst,
                          "SELECT id, note FROM shop.orders ORDER BY id"));
    EXPECT_TRUE(Converges(*src_, "SELECT txn, msg FROM shop.audit ORDER BY txn", dst,
                          "SELECT txn, msg FROM shop.audit ORDER BY txn"));
  }
  std::unique_ptr<MariadbServer> src_, a_, b_;
  int written_ = 0;
};

// b crashes; 3,000 transactions (3 MB, three times the queues) follow. a
// gets them all while b is down (without `detach_after` a stops once b's
// queue and the capture's are full). b, restarted, catches up on a stream
// of its own: held once it has, the pipeline's stream still feeds a (and
// the catch-up b); let go, the pipeline starts anew and both go on.
TEST_F(DownTargetTest, ADownTargetIsSetAsideAndCatchesUpOnItsOwn) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  const std::string go = (dir_ / "go").string();
  StartSluiceWithSyncPoints("pipeline.catch_up.caught_up=wait:" + go);
  ASSERT_TRUE(Rows(*a_, 100));
  ASSERT_TRUE(Rows(*b_, 100));

  ASSERT_TRUE(b_->Crash().ok());
  ASSERT_NO_FATAL_FAILURE(Write(101, 3000));
  ASSERT_TRUE(Rows(*a_, 3100, std::chrono::seconds(90)));
  nlohmann::json status = PipelineStatus("p");
  bool set_aside = false;
  for (const auto& t : status["targets"]) {
    if (t.value("name", "") != "b") continue;
    EXPECT_EQ(t.value("state", ""), "retrying") << status.dump();
    set_aside = t.value("last_error", "").find("set aside") != std::string::npos;
    EXPECT_GT(t.value("delay_ms", int64_t{0}), 0) << status.dump();
  }
  EXPECT_TRUE(set_aside) << status.dump();

  ASSERT_TRUE(b_->Restart().ok());
  ASSERT_TRUE(LogShows("sync point pipeline.catch_up.caught_up: waiting for", std::chrono::seconds(90)));
  ASSERT_TRUE(Rows(*b_, 3100));
  ASSERT_NO_FATAL_FAILURE(Write(3101, 100));
  ASSERT_TRUE(Rows(*a_, 3200));
  ASSERT_TRUE(Rows(*b_, 3200));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(20), "b"));
  std::ofstream(go).close();

  ASSERT_TRUE(LogShows("caught up on its own stream"));
  ASSERT_NO_FATAL_FAILURE(Write(3201, 100));
  ExpectExactlyOnce(*a_);
  ExpectExactlyOnce(*b_);
  EXPECT_TRUE(WaitForState("p", "running"));
}

// b is slow, not down: each order it takes waits for a named lock the test
// holds (a stand-in for a slower machine, a busy disk, a heavy trigger).
// Before, its full queue held the capture and with it a, for as long as b
// was slow. Having held a back for `detach_after`, b is set aside: a gets
// everything; b, fast again, catches up on a stream of its own, and then the
// pipeline starts anew with both. Every transaction once on each.
TEST_F(DownTargetTest, ASlowTargetIsSetAsideSoThatTheOthersGoOn) {
  ASSERT_NO_FATAL_FAILURE(StartServers(""));  // default timeouts: b answers, slowly
  StartSluice();
  ASSERT_TRUE(Rows(*a_, 100));
  ASSERT_TRUE(Rows(*b_, 100));
  ASSERT_TRUE(b_->Execute("CREATE TRIGGER shop.slow BEFORE INSERT ON shop.orders FOR EACH ROW "
                          "SET @waited = GET_LOCK('slow', 3600) + RELEASE_LOCK('slow')")
                  .ok());
  ASSERT_TRUE(b_->Execute("DO GET_LOCK('slow', 0)").ok());  // held by the test's session
  ASSERT_NO_FATAL_FAILURE(Write(101, 3000));  // three times the queues
  ASSERT_TRUE(Rows(*a_, 3100, std::chrono::seconds(90)));
  auto on_b = b_->QueryValue("SELECT COUNT(*) FROM shop.orders");
  ASSERT_TRUE(on_b.ok());
  EXPECT_EQ(*on_b, "100") << "b took rows while the lock was held";
  const std::string events = PipelineStatus("p")["events"].dump();
  EXPECT_NE(events.find("target b: slower than the others for"), std::string::npos) << events;

  ASSERT_TRUE(b_->Execute("DO RELEASE_LOCK('slow')").ok());
  ASSERT_TRUE(Rows(*b_, 3100, std::chrono::seconds(90)));
  ASSERT_TRUE(LogShows("caught up on its own stream", std::chrono::seconds(60)));
  ASSERT_NO_FATAL_FAILURE(Write(3101, 100));
  ExpectExactlyOnce(*a_);
  ExpectExactlyOnce(*b_);
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(20), "b"));
}

// kill -9 of sluice while b catches up on its own stream (held once it has
// caught up, with a write after): started again, both targets go on from
// their checkpoints, every transaction once.
TEST_F(DownTargetTest, AKillDuringACatchUpLosesAndDoublesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  const std::string go = (dir_ / "go").string();
  StartSluiceWithSyncPoints("pipeline.catch_up.caught_up=wait:" + go);
  ASSERT_TRUE(Rows(*b_, 100));
  ASSERT_TRUE(b_->Crash().ok());
  ASSERT_NO_FATAL_FAILURE(Write(101, 500));
  ASSERT_TRUE(Rows(*a_, 600));
  ASSERT_TRUE(LogShows("set aside so that"));
  ASSERT_TRUE(b_->Restart().ok());
  ASSERT_TRUE(LogShows("sync point pipeline.catch_up.caught_up: waiting for", std::chrono::seconds(90)));
  ASSERT_NO_FATAL_FAILURE(Write(601, 100));
  sluice_->Kill();
  StartSluice();
  ASSERT_NO_FATAL_FAILURE(Write(701, 100));
  ExpectExactlyOnce(*a_);
  ExpectExactlyOnce(*b_);
}

// An outage longer than the source keeps its binlogs: b's catch-up cannot
// read from its checkpoint, so b fails alone, saying why, and a goes on.
TEST_F(DownTargetTest, ASetAsideTargetWhoseBinlogsWerePurgedFailsAlone) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  StartSluice();
  ASSERT_TRUE(Rows(*b_, 100));
  ASSERT_TRUE(b_->Crash().ok());
  ASSERT_NO_FATAL_FAILURE(Write(101, 50));
  ASSERT_TRUE(Rows(*a_, 150));
  ASSERT_TRUE(LogShows("set aside so that"));
  // Purged while a's stream reads on (PurgeBinlogs waits for no reader).
  ASSERT_TRUE(src_->Execute("FLUSH BINARY LOGS").ok());
  auto current = src_->Query("SHOW MASTER STATUS");
  ASSERT_TRUE(current.ok() && !current->empty());
  const std::string file = (*current)[0][0].value_or("");
  ASSERT_TRUE(WaitUntil(
      [&] {
        if (!src_->Execute(fmt::format("PURGE BINARY LOGS TO '{}'", file)).ok()) return false;
        auto first = src_->Query("SHOW BINARY LOGS");
        return first.ok() && !first->empty() && (*first)[0][0].value_or("") == file;
      },
      std::chrono::seconds(30)));
  ASSERT_TRUE(b_->Restart().ok());
  std::string status;
  ASSERT_TRUE(WaitUntil(
      [&] {
        status = PipelineStatus("p").dump();
        return status.find("its catch-up failed") != std::string::npos;
      },
      std::chrono::seconds(60)))
      << status;
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(60), "b"));
  EXPECT_NE(status.find("no longer has"), std::string::npos) << status;
  EXPECT_NE(status.find("DELETE FROM _sluice.checkpoints WHERE pipeline = 'p' AND target = 'b'"), std::string::npos)
      << status;
  EXPECT_EQ(PipelineStatus("p")["state"], "running") << status;
  ASSERT_NO_FATAL_FAILURE(Write(151, 50));
  ExpectExactlyOnce(*a_);
}

// sluice started again while b is still down: a does not wait for it (b
// ran before, so its checkpoint on b says where it resumes).
TEST_F(DownTargetTest, ATargetDownAtStartDoesNotHoldTheOthers) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  StartSluice();
  ASSERT_TRUE(Rows(*b_, 100));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  ASSERT_TRUE(b_->Crash().ok());
  ASSERT_NO_FATAL_FAILURE(Write(101, 200));
  StartSluice();
  ASSERT_TRUE(Rows(*a_, 300));
  // A check meanwhile compares the targets in the stream: b, set aside, is
  // neither a difference nor an error.
  HttpReply r = HttpPost(http_port_, "/api/pipelines/p/check");
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  nlohmann::json check;
  ASSERT_TRUE(WaitUntil(
      [&] {
        nlohmann::json s = PipelineStatus("p");
        if (!s.is_object() || !s["check"].is_object()) return false;
        check = s["check"];
        return check.value("runs", 0) > 0 && check.value("state", "") != "running";
      },
      std::chrono::seconds(60)))
      << check.dump();
  EXPECT_EQ(check.value("state", ""), "consistent") << check.dump();
  ASSERT_TRUE(b_->Restart().ok());
  ExpectExactlyOnce(*a_);
  ExpectExactlyOnce(*b_);
}

// A target that never ran is waited for, though: set aside, it would start
// where the others are, later than `start: earliest` says.
TEST_F(DownTargetTest, ATargetThatNeverRanIsWaitedFor) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(b_->Crash().ok());
  StartSluice();
  // Retried after 200 + 400 + 800 + 1600 ms: down for 3 s, past detach_after.
  ASSERT_TRUE(LogShows("retrying in 3200 ms"));
  auto applied = a_->QueryValue("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'");
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, "0") << "a started without b";
  ASSERT_TRUE(b_->Restart().ok());
  ExpectExactlyOnce(*a_);
  ExpectExactlyOnce(*b_);
}

// A PostgreSQL source into PostgreSQL and MariaDB targets (detach_after:
// 2s), sluice started with a catch-up held once it has caught up (`go_`
// lets it go on); the keyless table audit, and `tables` before it.
class PgDownTargetTest : public PgSourceTest {
 protected:
  void StartHeldAtTheCatchUp(const std::string& tables = "", const std::string& extra = "") {
    ASSERT_NO_FATAL_FAILURE(StartServers());
    Sql(tables + "CREATE TABLE audit (txn int, msg text); ALTER TABLE audit REPLICA IDENTITY FULL");
    WritePipeline("      - match: \"public.*\"\n", "    detach_after: 2s\n" + extra);
    go_ = (dir_ / "go").string();
    StartSluiceWithSyncPoints("pipeline.catch_up.caught_up=wait:" + go_);
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    ASSERT_TRUE(WaitForState("p", "running", 30s));
  }
  std::string go_;
};

// A PostgreSQL source: the set-aside MariaDB target catches up through a
// copy of the pipeline's slot (held for it meanwhile), so the PostgreSQL
// target goes on during the catch-up too; the copy is dropped once it has
// joined. The MariaDB target crashes under 3 MB of writes; the keyless
// audit table ends exactly once on both.
TEST_F(PgDownTargetTest, ADownTargetIsSetAsideAndCatchesUpThroughACopyOfTheSlot) {
  ASSERT_NO_FATAL_FAILURE(StartHeldAtTheCatchUp("CREATE TABLE orders (id int PRIMARY KEY, note text); ",
                                                "    queue_bytes: 1MiB\n"));
  auto write = [&](int first, int n) {
    for (int t = first; t < first + n; t += 100) {
      Sql(fmt::format("INSERT INTO orders SELECT i, repeat('x', 1000) FROM generate_series({0}, {1}) i; INSERT INTO "
                      "audit SELECT i, 'txn ' || i FROM generate_series({0}, {1}) i",
                      t, std::min(first + n, t + 100) - 1));
    }
  };
  const std::string orders = "SELECT count(*), sum(length(note)) FROM public.orders";
  const std::string my_orders = "SELECT COUNT(*), SUM(LENGTH(note)) FROM public.orders";
  const std::string audit = "SELECT count(*), count(DISTINCT txn) FROM public.audit";
  write(1, 100);
  ASSERT_TRUE(Converge(orders, orders, my_orders));
  ASSERT_TRUE(my_->Crash().ok());
  write(101, 3000);
  ASSERT_TRUE(Converge(orders, orders, ""));
  ASSERT_TRUE(LogShows("set aside so that"));
  ASSERT_TRUE(my_->Restart().ok());
  ASSERT_TRUE(LogShows("sync point pipeline.catch_up.caught_up: waiting for", 90s));
  EXPECT_EQ(Value("SELECT count(*) FROM pg_replication_slots"), "2");
  write(3101, 100);
  EXPECT_TRUE(Converge(orders, orders, my_orders));
  std::ofstream(go_).close();
  ASSERT_TRUE(LogShows("caught up on its own stream"));
  write(3201, 100);
  EXPECT_TRUE(Converge(orders, orders, my_orders));
  EXPECT_TRUE(Converge(audit, audit, "SELECT COUNT(*), COUNT(DISTINCT txn) FROM public.audit"));
  EXPECT_TRUE(WaitUntil([&] { return Value("SELECT count(*) FROM pg_replication_slots") == "1"; }, 30s))
      << Value("SELECT string_agg(slot_name, ',') FROM pg_replication_slots");
}

// kill -9 during that catch-up leaves the copy of the slot behind, holding
// the source's WAL: the next start drops it, and both targets go on from
// their checkpoints, every row once.
TEST_F(PgDownTargetTest, ACopyOfTheSlotLeftByAKillIsDroppedAtTheNextStart) {
  ASSERT_NO_FATAL_FAILURE(StartHeldAtTheCatchUp());
  auto write = [&](int first, int last) {
    Sql(fmt::format("INSERT INTO audit SELECT i, 'txn ' || i FROM generate_series({}, {}) i", first, last));
  };
  const std::string audit = "SELECT count(*), count(DISTINCT txn) FROM public.audit";
  write(1, 100);
  ASSERT_TRUE(Converge(audit, audit, "SELECT COUNT(*), COUNT(DISTINCT txn) FROM public.audit"));
  ASSERT_TRUE(my_->Crash().ok());
  write(101, 200);
  ASSERT_TRUE(LogShows("set aside so that"));
  ASSERT_TRUE(my_->Restart().ok());
  ASSERT_TRUE(LogShows("sync point pipeline.catch_up.caught_up: waiting for", 90s));
  sluice_->Kill();
  EXPECT_TRUE(WaitUntil([&] { return Value("SELECT count(*) FROM pg_replication_slots WHERE active") == "0"; }, 30s));
  EXPECT_EQ(Value("SELECT count(*) FROM pg_replication_slots"), "2");
  StartSluice();
  write(201, 300);
  EXPECT_TRUE(Converge(audit, audit, "SELECT COUNT(*), COUNT(DISTINCT txn) FROM public.audit"));
  EXPECT_EQ(Value("SELECT count(*) FROM pg_replication_slots"), "1");
  EXPECT_NE(sluice_->Log().find("left by a catch-up that did not end"), std::string::npos) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
