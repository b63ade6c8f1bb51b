// Two-way sync (design §13): two pipelines in opposite directions between
// two MariaDB servers, naming each other with `peer:`. Both servers are
// written at once; the pipelines must converge them, across kill -9, and
// never echo a change back (once quiet, both binlogs stay quiet).

#include <fmt/format.h>

#include <random>

#include "sync_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kSchema =
    "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, v INT NOT NULL, site CHAR(1) NOT NULL, "
    "note VARCHAR(40))";

std::string TwoWayConfig(const std::string& dir, MariadbServer& a, MariadbServer& b, const std::string& extra = "") {
  return fmt::format(R"(store: {dir}/sluice.db
sources:
  a: {{url: "{a}", server_id: 6161, heartbeat_ms: 200}}
  b: {{url: "{b}", server_id: 6262, heartbeat_ms: 200}}
targets:
  a: {{url: "{a}"}}
  b: {{url: "{b}"}}
pipelines:
  - name: a_to_b
    source: a
    targets: [b]
    peer: b_to_a
    start: "{a_start}"
    tables: ["shop.*"]
    batch: {{size: 200, timeout_ms: 50}}
{extra}
  - name: b_to_a
    source: b
    targets: [a]
    peer: a_to_b
    start: "{b_start}"
    tables: ["shop.*"]
    batch: {{size: 200, timeout_ms: 50}}
{extra}
)",
                     fmt::arg("dir", dir), fmt::arg("a", a.Url()), fmt::arg("b", b.Url()),
                     fmt::arg("a_start", BinlogEnd(a)), fmt::arg("b_start", BinlogEnd(b)), fmt::arg("extra", extra));
}

// `n` small transactions on `server` over the keys with id % 2 == parity
// (each side owns half the keys, both sides write the same table at once):
// inserts, updates, deletes, and some multi-row transactions.
void Workload(MariadbServer& server, char site, int parity, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    int id = static_cast<int>(rng() % 100) * 2 + parity;
    std::string sql;
    switch (rng() % 4) {
      case 0:
        sql = fmt::format("DELETE FROM shop.items WHERE id = {}", id);
        break;
      case 1:
        sql = fmt::format(
            "BEGIN; INSERT INTO shop.items VALUES ({0}, {1}, '{2}', 'multi') ON DUPLICATE KEY UPDATE "
            "v = v + 1; UPDATE shop.items SET note = 'touched {1}' WHERE id = {3}; COMMIT",
            id, i, site, (id + 2) % 200);
        break;
      default:
        sql = fmt::format(
            "INSERT INTO shop.items VALUES ({}, {}, '{}', NULL) ON DUPLICATE KEY UPDATE v = VALUES(v), "
            "site = VALUES(site)",
            id, i, site);
    }
    ASSERT_TRUE(server.Execute(sql).ok()) << sql;
  }
}

// The server's binlog end, "file:offset".
std::string End(MariadbServer& s) { return BinlogEnd(s); }

constexpr const char* kVersioned =
    "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, v INT NOT NULL, site CHAR(1) NOT NULL, "
    "ver BIGINT NOT NULL)";
constexpr const char* kLatestWins = "    conflict: {policy: latest_wins, column: ver}";

class TwoWayTest : public SyncTest {
 protected:
  // Waits until neither binlog moves for `still`, within `within`; true
  // when both were quiet.
  bool BothQuiet(MariadbServer& a, MariadbServer& b, std::chrono::milliseconds still,
                 std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    std::string ea = End(a), eb = End(b);
    auto since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::string na = End(a), nb = End(b);
      if (na != ea || nb != eb) {
        ea = na;
        eb = nb;
        since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - since >= still) {
        return true;
      }
    }
    return false;
  }
  // Both servers answer `query` with `want` within 30 s.
  ::testing::AssertionResult BothShow(MariadbServer& a, MariadbServer& b, const std::string& query,
                                      const std::string& want) {
    return SidesShow(a, b, query, want, want);
  }
  // A answers `query` with `want_a` and B with `want_b`, within 30 s.
  ::testing::AssertionResult SidesShow(MariadbServer& a, MariadbServer& b, const std::string& query,
                                       const std::string& want_a, const std::string& want_b) {
    bool ok = WaitUntil(
        [&] {
          auto x = a.Query(query);
          auto y = b.Query(query);
          return x.ok() && y.ok() && RowsToText(*x) == want_a && RowsToText(*y) == want_b;
        },
        std::chrono::seconds(30));
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "A:\n"
                                         << RowsToText(*a.Query(query)) << "B:\n"
                                         << RowsToText(*b.Query(query)) << sluice_->Log();
  }
  // Starts A and B with kVersioned holding `rows` on both, and writes the
  // latest_wins pair's configuration (with the HTTP endpoint).
  ::testing::AssertionResult VersionedPair(std::unique_ptr<MariadbServer>& a, std::unique_ptr<MariadbServer>& b,
                                           const std::string& rows) {
    a = StartServer(1);
    b = StartServer(2);
    if (!a || !b) return ::testing::AssertionFailure() << "servers did not start";
    for (MariadbServer* s : {a.get(), b.get()}) {
      if (!s->Execute(kVersioned).ok() || !s->Execute("INSERT INTO shop.items VALUES " + rows).ok()) {
        return ::testing::AssertionFailure() << "schema or rows not created";
      }
    }
    http_port_ = FreePort();
    WriteConfig(fmt::format("http: 127.0.0.1:{}\n", http_port_) + TwoWayConfig(dir_.string(), *a, *b, kLatestWins));
    return ::testing::AssertionSuccess();
  }
  void CheckBothWays() {
    for (const char* p : {"a_to_b", "b_to_a"}) {
      Status st = RunCommand({SLUICE_BINARY, "check", "-c", config_, "--pipeline", p},
                             (dir_ / (std::string("check-") + p + ".log")).string());
      EXPECT_TRUE(st.ok()) << p << ": " << st.message();
    }
  }
};

TEST_F(TwoWayTest, BothSidesWrittenAtOnceConvergeAcrossKillNineWithoutEcho) {
  auto a = StartServer(1);
  auto b = StartServer(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Execute(kSchema).ok());
  ASSERT_TRUE(b->Execute(kSchema).ok());
  WriteConfig(TwoWayConfig(dir_.string(), *a, *b));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted());

  const std::string all = "SELECT * FROM shop.items ORDER BY id";
  uint32_t seed = 1;
  for (int round = 0; round < 3; ++round) {
    std::thread wa([&, s = seed++] { Workload(*a, 'a', 0, 150, s); });
    std::thread wb([&, s = seed++] { Workload(*b, 'b', 1, 150, s); });
    if (round > 0) {
      // kill -9 while both sides are written and both pipelines apply.
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * round));
      sluice_->Kill();
      wa.join();
      wb.join();
      StartSluice();
    } else {
      wa.join();
      wb.join();
    }
  }
  ASSERT_TRUE(Converges(*a, all, *b, all));
  auto count = a->QueryValue("SELECT COUNT(*) FROM shop.items");
  ASSERT_TRUE(count.ok());
  EXPECT_GT(std::stoi(*count), 50);
  auto mixed = a->QueryValue("SELECT COUNT(DISTINCT site) FROM shop.items");
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(*mixed, "2");  // both sides' rows are on both sides

  // No echo: once both sides are quiet, both binlogs are quiet within 5 s
  // (an echo, or checkpoint writes answering each other, never stops).
  ASSERT_TRUE(BothQuiet(*a, *b, std::chrono::seconds(2), std::chrono::seconds(5) + std::chrono::seconds(2)))
      << sluice_->Log();
  std::string ea = End(*a), eb = End(*b);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(End(*a), ea);
  EXPECT_EQ(End(*b), eb);

  // One more change on A: it reaches B, and b_to_a writes nothing back to
  // A for it (neither the row nor a checkpoint): A's binlog holds the
  // user's transaction only.
  std::string before_a = End(*a);
  ASSERT_TRUE(a->Execute("UPDATE shop.items SET note = 'once' WHERE id = (SELECT MIN(id) FROM shop.items)").ok());
  std::string after_write = End(*a);
  ASSERT_TRUE(Converges(*a, all, *b, all));
  ASSERT_TRUE(BothQuiet(*a, *b, std::chrono::seconds(2), std::chrono::seconds(7)));
  EXPECT_EQ(End(*a), after_write) << "b_to_a wrote to A for a change that came from A";
  EXPECT_NE(before_a, after_write);

  sluice_->Kill();
  CheckBothWays();
}

TEST_F(TwoWayTest, LatestWinsResolvesPlantedConflictsTheSameWayOnBothSides) {
  std::unique_ptr<MariadbServer> a, b;
  ASSERT_TRUE(VersionedPair(a, b, "(1,0,'x',1),(2,0,'x',1),(3,0,'x',1),(4,0,'x',1)"));
  // Both sides change the same rows before either change crosses over.
  ASSERT_TRUE(a->Execute("UPDATE shop.items SET v=10, site='a', ver=10 WHERE id=1").ok());  // B newer
  ASSERT_TRUE(b->Execute("UPDATE shop.items SET v=20, site='b', ver=20 WHERE id=1").ok());
  ASSERT_TRUE(a->Execute("UPDATE shop.items SET v=30, site='a', ver=30 WHERE id=2").ok());  // A newer
  ASSERT_TRUE(b->Execute("UPDATE shop.items SET v=5, site='b', ver=5 WHERE id=2").ok());
  ASSERT_TRUE(a->Execute("DELETE FROM shop.items WHERE id=3").ok());  // an older delete loses: B's row stays
  ASSERT_TRUE(b->Execute("UPDATE shop.items SET v=9, site='b', ver=9 WHERE id=3").ok());
  ASSERT_TRUE(a->Execute("UPDATE shop.items SET v=8, site='a', ver=8 WHERE id=4").ok());
  ASSERT_TRUE(b->Execute("DELETE FROM shop.items WHERE id=4").ok());
  ASSERT_TRUE(a->Execute("INSERT INTO shop.items VALUES (5,3,'a',3)").ok());  // two inserts: the higher wins
  ASSERT_TRUE(b->Execute("INSERT INTO shop.items VALUES (5,4,'b',4)").ok());
  ASSERT_TRUE(b->Execute("INSERT INTO shop.items VALUES (6,1,'b',1)").ok());  // no conflict
  ASSERT_TRUE(b->Execute("DELETE FROM shop.items WHERE id=6").ok());
  StartSluice();
  const std::string want = "1|20|b|20\n2|30|a|30\n3|9|b|9\n4|8|a|8\n5|4|b|4\n";
  const std::string all = "SELECT * FROM shop.items ORDER BY id";
  ASSERT_TRUE(BothShow(*a, *b, all, want));
  // Counted: id 1 on B, 2 on A, 3 on A (kept) and B (the delete of A kept
  // out), 4 likewise, 5 on A: target_kept; the updates of ids 3 and 4
  // found no row: inserted.
  HttpReply metrics = HttpGet(http_port_, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find(
                "sluice_conflicts_total{pipeline=\"a_to_b\",table=\"shop.items\",resolution=\"target_kept\"} 3"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(
                "sluice_conflicts_total{pipeline=\"b_to_a\",table=\"shop.items\",resolution=\"target_kept\"} 2"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("resolution=\"inserted\"} 1"), std::string::npos) << metrics.body;
  nlohmann::json st = PipelineStatus("a_to_b");
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st.value("conflicts", 0), 4) << st.dump();
  EXPECT_NE(sluice_->FullLog().find("the target's `ver` is newer, kept"), std::string::npos);
}

// The contract's rules at their edges (design section 13), each side writing
// before either change crosses: a tie applies the incoming row, so with
// equal `ver` each side takes the other's row (the documented limit: the
// sides then differ); an update that raised `ver` beats a delete of that row
// on the other side, in both directions: the update is inserted where the
// row was deleted, and the delete (its before image older than the updated
// row) is not applied, so the row is on both sides. And the documented limit
// of an update that did not raise `ver`: the delete applies on one side, the
// update is inserted on the other.
TEST_F(TwoWayTest, LatestWinsTieAppliesTheIncomingRowAndARaisedUpdateBeatsADelete) {
  std::unique_ptr<MariadbServer> a, b;
  ASSERT_TRUE(VersionedPair(a, b, "(1,0,'x',1),(2,0,'x',1),(3,0,'x',1),(4,0,'x',1)"));
  ASSERT_TRUE(a->Execute("UPDATE shop.items SET v=1, site='a', ver=5 WHERE id=1").ok());  // tie: both swap
  ASSERT_TRUE(b->Execute("UPDATE shop.items SET v=2, site='b', ver=5 WHERE id=1").ok());
  ASSERT_TRUE(a->Execute("DELETE FROM shop.items WHERE id=2").ok());  // ver raised: the update wins
  ASSERT_TRUE(b->Execute("UPDATE shop.items SET v=9, site='b', ver=6 WHERE id=2").ok());
  ASSERT_TRUE(b->Execute("DELETE FROM shop.items WHERE id=3").ok());  // the same, the other way
  ASSERT_TRUE(a->Execute("UPDATE shop.items SET v=8, site='a', ver=8 WHERE id=3").ok());
  ASSERT_TRUE(a->Execute("DELETE FROM shop.items WHERE id=4").ok());  // ver not raised: the sides differ
  ASSERT_TRUE(b->Execute("UPDATE shop.items SET v=7, site='b' WHERE id=4").ok());
  StartSluice();
  const std::string want_a = "1|2|b|5\n2|9|b|6\n3|8|a|8\n4|7|b|1\n";
  const std::string want_b = "1|1|a|5\n2|9|b|6\n3|8|a|8\n";
  const std::string all = "SELECT * FROM shop.items ORDER BY id";
  ASSERT_TRUE(SidesShow(*a, *b, all, want_a, want_b));
  // And stay so: nothing swaps back (both binlogs go quiet).
  ASSERT_TRUE(BothQuiet(*a, *b, std::chrono::seconds(2), std::chrono::seconds(7))) << sluice_->Log();
  EXPECT_EQ(RowsToText(*a->Query(all)), want_a);
  EXPECT_EQ(RowsToText(*b->Query(all)), want_b);
  // A tie is no conflict. Ids 2 and 3: the update found no row (inserted)
  // and the delete found a newer row (target_kept), once each way; id 4:
  // the update found no row on A, the delete applied on B.
  HttpReply metrics = HttpGet(http_port_, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const char* line :
       {"sluice_conflicts_total{pipeline=\"a_to_b\",table=\"shop.items\",resolution=\"target_kept\"} 1",
        "sluice_conflicts_total{pipeline=\"a_to_b\",table=\"shop.items\",resolution=\"inserted\"} 1",
        "sluice_conflicts_total{pipeline=\"b_to_a\",table=\"shop.items\",resolution=\"target_kept\"} 1",
        "sluice_conflicts_total{pipeline=\"b_to_a\",table=\"shop.items\",resolution=\"inserted\"} 2"}) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\n" << metrics.body;
  }
  for (auto [name, want] : {std::pair{"a_to_b", 2}, std::pair{"b_to_a", 3}}) {
    nlohmann::json st = PipelineStatus(name);
    ASSERT_TRUE(st.is_object()) << name;
    EXPECT_EQ(st.value("conflicts", 0), want) << name << ": " << st.dump();
  }
  EXPECT_NE(sluice_->FullLog().find("update of a missing row, inserted"), std::string::npos);
}

TEST_F(TwoWayTest, LatestWinsConvergesWithOverlappingKeysWrittenAtOnce) {
  auto a = StartServer(1);
  auto b = StartServer(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Execute(kVersioned).ok());
  ASSERT_TRUE(b->Execute(kVersioned).ok());
  WriteConfig(TwoWayConfig(dir_.string(), *a, *b, kLatestWins));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted());
  // Every write raises the row's version to the next one of its side's
  // parity: versions never tie across sides, as timestamps of real writes.
  auto writer = [](MariadbServer& s, char site, int parity, uint32_t seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 300; ++i) {
      int id = static_cast<int>(rng() % 40);
      std::string sql = fmt::format(
          "INSERT INTO shop.items VALUES ({0}, {1}, '{2}', {3}) ON DUPLICATE KEY UPDATE v = {1}, site = '{2}', "
          "ver = (ver DIV 2 + 1) * 2 + {3}",
          id, i, site, parity);
      ASSERT_TRUE(s.Execute(sql).ok()) << sql;
    }
  };
  std::thread wa([&] { writer(*a, 'a', 0, 7); });
  std::thread wb([&] { writer(*b, 'b', 1, 8); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  sluice_->Kill();
  StartSluice();
  wa.join();
  wb.join();
  const std::string all = "SELECT * FROM shop.items ORDER BY id";
  ASSERT_TRUE(Converges(*a, all, *b, all));
  ASSERT_TRUE(BothQuiet(*a, *b, std::chrono::seconds(2), std::chrono::seconds(7))) << sluice_->Log();
  sluice_->Kill();
  CheckBothWays();
}

TEST_F(TwoWayTest, PeerMustExistAndNameThisPipelineBack) {
  auto a = StartServer(1);
  auto b = StartServer(2);
  ASSERT_TRUE(a && b);
  std::string good = TwoWayConfig(dir_.string(), *a, *b);
  struct Case {
    std::string from, to, want;
  };
  std::vector<Case> cases = {
      {"peer: b_to_a\n    start", "peer: b_to_x\n    start", "pipelines[0].peer: unknown pipeline \"b_to_x\""},
      {"peer: a_to_b\n    start", "peer: b_to_a\n    start", "a pipeline cannot be its own peer"},
      {"    peer: a_to_b\n", "", "pipeline \"b_to_a\" must name this one back (peer: a_to_b)"},
      {"    source: b\n    targets: [a]", "    source: b\n    targets: [b]",
       "must run the opposite way between the same two servers"},
  };
  for (const Case& c : cases) {
    std::string yaml = good;
    auto at = yaml.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    yaml.replace(at, c.from.size(), c.to);
    WriteConfig(yaml);
    std::string log = (dir_ / "bad.log").string();
    Status st = RunCommand({SLUICE_BINARY, "run", "-c", config_}, log, std::chrono::seconds(20));
    EXPECT_FALSE(st.ok());
    std::string out = TailOfFile(log, 0, 4000);
    EXPECT_NE(out.find(c.want), std::string::npos) << out;
    EXPECT_NE(out.find("sluice.yaml:"), std::string::npos) << out;
  }
}

// Each side's sequence gives values of its own (here odd on A, even on B):
// neither pipeline carries sequences, so they stay apart, and nothing
// echoes; each names the sequence once in a warning.
TEST_F(TwoWayTest, EachSideKeepsItsOwnSequences) {
  auto a = StartServer(1);
  auto b = StartServer(2);
  ASSERT_TRUE(a && b);
  for (auto [s, start] : {std::pair{a.get(), 1}, std::pair{b.get(), 2}}) {
    ASSERT_TRUE(s->Execute(kSchema).ok());
    ASSERT_TRUE(s->Execute(fmt::format("CREATE SEQUENCE shop.ids START WITH {} INCREMENT BY 2 CACHE 2", start)).ok());
  }
  WriteConfig(TwoWayConfig(dir_.string(), *a, *b));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted());
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(a->Execute("INSERT INTO shop.items VALUES (NEXTVAL(shop.ids), 1, 'a', NULL)").ok());
    ASSERT_TRUE(b->Execute("INSERT INTO shop.items VALUES (NEXTVAL(shop.ids), 2, 'b', NULL)").ok());
  }
  const std::string all = "SELECT * FROM shop.items ORDER BY id";
  ASSERT_TRUE(Converges(*a, all, *b, all));
  EXPECT_TRUE(SidesShow(*a, *b, "SELECT start_value, next_not_cached_value % 2 FROM shop.ids", "1|1\n", "2|0\n"));
  ASSERT_TRUE(BothQuiet(*a, *b, std::chrono::seconds(2), std::chrono::seconds(7))) << sluice_->Log();
  const std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("`shop.ids` is a SEQUENCE and the pipeline is one of a two-way pair (peer: b_to_a)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("`shop.ids` is a SEQUENCE and the pipeline is one of a two-way pair (peer: a_to_b)"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace sluice::testing
