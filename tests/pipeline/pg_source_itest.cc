// `sluice run` from a PostgreSQL 15 source (logical replication, a role with
// REPLICATION that owns its tables) into a PostgreSQL and a MariaDB target
// at once, into Kafka (mock cluster) and a file, and into ClickHouse and
// Redis: every common type, TOASTed values an update leaves alone, key
// changes and deletes; kill -9 of sluice under load (nothing lost, nothing
// duplicated, keyless rows counted); the slot's confirmed position moving
// while idle and never past what both targets applied.

#include <fmt/format.h>

#include <map>
#include <thread>

#include "cli/run_command.h"
#include "core/position.h"
#include "harness/kafka_mock.h"
#include "pipeline/pg_source_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(PgSourceTest, AllTypesIntoPostgresAndMariadb) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql(kTypes);
  Sql("CREATE TABLE docs (id int PRIMARY KEY, body text, n int)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  Sql(kTypeRows);
  // 160 kB of hex digits: TOASTed; updates that leave it alone send no value for it.
  Sql("INSERT INTO docs SELECT 1, string_agg(md5(i::text), ''), 0 FROM generate_series(1, 5000) i;"
      "INSERT INTO docs VALUES (2, 'small', 0)");
  EXPECT_TRUE(Converge(kTypesSource, kTypesPgTarget, ""));
  EXPECT_TRUE(Converge(kTypesSourceForMysql, "", kTypesMysql));

  // Updates (a key change among them), a delete, and TOAST left unchanged,
  // also twice within one transaction and after an insert in the same batch.
  Sql("UPDATE types SET b = NOT b, num2 = num2 + 1, t = t || '!' WHERE id IN (1, 2);"
      "UPDATE types SET id = 30 WHERE id = 3; DELETE FROM types WHERE id = 2");
  Sql("BEGIN; UPDATE docs SET n = n + 1 WHERE id = 1; UPDATE docs SET n = n + 1 WHERE id = 1; COMMIT");
  Sql("BEGIN; INSERT INTO docs SELECT 3, string_agg(md5((i * 7)::text), ''), 5 FROM generate_series(1, 5000) i;"
      "UPDATE docs SET n = 6 WHERE id = 3; COMMIT");
  Sql("UPDATE docs SET n = 9, body = body || 'x' WHERE id = 2");
  EXPECT_TRUE(Converge(kTypesSource, kTypesPgTarget, ""));
  EXPECT_TRUE(Converge(kTypesSourceForMysql, "", kTypesMysql));
  EXPECT_TRUE(Converge("SELECT id, md5(body), length(body), n FROM docs ORDER BY id",
                       "SELECT id, md5(body), length(body), n FROM public.docs ORDER BY id",
                       "SELECT id, MD5(body), LENGTH(body), n FROM public.docs ORDER BY id"));
  EXPECT_EQ(Value("SELECT count(*) FROM public.docs WHERE body IS NULL", "target"), "0");

  // Positions are commit LSNs, in the targets' checkpoints and the store.
  auto checkpoint = my_->QueryValue("SELECT resume_position FROM _sluice.checkpoints WHERE part = -1");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().message();
  EXPECT_NE(checkpoint->find('/'), std::string::npos) << *checkpoint;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSourceTest, KillNineUnderLoadLosesNothingAndDuplicatesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  // audit has no key: a change applied twice would show as an extra row.
  Sql("CREATE TABLE orders (id int PRIMARY KEY, amount int NOT NULL, note text); CREATE TABLE audit (txn int, msg "
      "text); ALTER TABLE audit REPLICA IDENTITY FULL");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  constexpr int kTransactions = 600;
  Status written;
  std::jthread writer([&] {
    for (int i = 1; i <= kTransactions && written.ok(); ++i) {
      written = pg_->Execute(fmt::format("SET ROLE repl; BEGIN; INSERT INTO orders VALUES ({0}, {0}, 'n') ON "
                                         "CONFLICT (id) DO NOTHING; UPDATE orders SET amount = amount + 1 WHERE id = "
                                         "{1}; DELETE FROM orders WHERE id = {2}; INSERT INTO audit VALUES ({0}, "
                                         "'t'); COMMIT",
                                         i, i / 2, i - 250),
                             "shop");
      std::this_thread::sleep_for(2ms);
    }
  });
  auto applied = [&] {
    auto n = pg_->QueryValue("SELECT count(*) FROM public.audit", "target");
    return n.ok() ? std::stoll(*n) : 0;
  };
  for (long long at : {80, 250, 450}) {
    ASSERT_TRUE(WaitUntil([&] { return applied() >= at; }, 90s)) << sluice_->Log();
    sluice_->Kill();
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  const std::string orders = "SELECT id, amount, note FROM {}orders ORDER BY id";
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(orders), ""), fmt::format(fmt::runtime(orders), "public."), fmt::format(fmt::runtime(orders), "public."), 90s));
  const std::string audit = "SELECT txn, msg, count(*) FROM {}audit GROUP BY txn, msg ORDER BY txn";
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(audit), ""), fmt::format(fmt::runtime(audit), "public."), fmt::format(fmt::runtime(audit), "public.")));
  EXPECT_EQ(Value("SELECT count(*) FROM public.audit", "target"), std::to_string(kTransactions));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSourceTest, IdlePipelineKeepsConfirmedFlushLsnMovingButNeverPastTheTargets) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE watched (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  Sql("INSERT INTO watched VALUES (1)");
  EXPECT_TRUE(Converge("SELECT id FROM watched", "SELECT id FROM public.watched", "SELECT id FROM public.watched"));
  const std::string slot = "slot_name = 'sluice_p'";
  EXPECT_EQ(Value("SELECT count(*) FROM pg_replication_slots WHERE " + slot), "1");

  // The default slot is sluice_<pipeline>. A target down: the slot stays at
  // what that target applied, however long.
  ASSERT_TRUE(my_->Crash().ok());
  Sql("INSERT INTO watched VALUES (2)");
  std::string after_insert = Value("SELECT pg_current_wal_lsn()");
  EXPECT_TRUE(Converge("SELECT id FROM watched", "SELECT id FROM public.watched", ""));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(Value("SELECT confirmed_flush_lsn < '" + after_insert + "' FROM pg_replication_slots WHERE " + slot), "t")
      << Value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE " + slot) << " vs " << after_insert;
  ASSERT_TRUE(my_->Restart().ok());
  EXPECT_TRUE(Converge("SELECT id FROM watched", "", "SELECT id FROM public.watched"));

  // Idle: WAL of a table no one reads; the slot follows the server's WAL end.
  ASSERT_TRUE(pg_->Execute("CREATE TABLE unrelated (id int); INSERT INTO unrelated SELECT generate_series(1, 1000)",
                           "postgres")
                  .ok());
  std::string wal_end = Value("SELECT pg_current_wal_lsn()");
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Value("SELECT confirmed_flush_lsn >= '" + wal_end + "' FROM pg_replication_slots WHERE " + slot) ==
               "t";
      },
      15s))
      << Value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE " + slot) << " < " << wal_end;
  // A fast shutdown of the server is not held up, and the pipeline goes on.
  ASSERT_TRUE(pg_->Restart().ok());
  Sql("INSERT INTO watched VALUES (3)");
  EXPECT_TRUE(Converge("SELECT id FROM watched", "SELECT id FROM public.watched", "SELECT id FROM public.watched"));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Log targets get every change in order: Debezium with the PostgreSQL
// connector's source block, JSON lines whose "pos" is the commit LSN, and
// an unchanged TOASTed value left out of "after" (never null).
TEST_F(PgSourceTest, IntoKafkaAndFilesEveryChangeInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  auto k = KafkaMock::Start(3);
  ASSERT_TRUE(k.ok()) << k.status().message();
  std::unique_ptr<KafkaMock> kafka = std::move(k).value();
  Sql("CREATE TABLE docs (id int PRIMARY KEY, body text, n int)");
  const std::string file = (dir_ / "changes.jsonl").string();
  WritePipeline("      - match: \"public.docs\"\n", "", 1, "[bus, out]",
                fmt::format("  bus: {{url: \"{}\", format: debezium}}\n  out: {{url: \"file://{}\", format: json}}\n",
                            kafka->Url(), file));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", 30s));
  Sql("INSERT INTO docs SELECT 1, string_agg(md5(i::text), ''), 0 FROM generate_series(1, 5000) i;"
      "INSERT INTO docs VALUES (2, 'small', 0)");
  Sql("UPDATE docs SET n = 1 WHERE id = 1");
  Sql("DELETE FROM docs WHERE id = 2");
  std::string lsn = Value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'sluice_p'");

  std::vector<nlohmann::json> lines = WaitJsonLines(file, 4);
  ASSERT_EQ(lines.size(), 4u) << sluice_->Log();
  EXPECT_EQ(lines[0]["op"], "insert");
  EXPECT_EQ(lines[0]["after"]["body"].get<std::string>().size(), 160000u);
  EXPECT_EQ(lines[2]["op"], "update");
  EXPECT_EQ(lines[2]["after"], nlohmann::json::parse(R"({"id":1,"n":1})")) << lines[2].dump();
  EXPECT_EQ(lines[3]["op"], "delete");
  for (const auto& l : lines) {
    EXPECT_TRUE(l["gtid"].is_null()) << l.dump();
    EXPECT_TRUE(Lsn::Parse(l["pos"].get<std::string>()).ok()) << l.dump();
  }
  EXPECT_EQ(lines[0]["pos"], lines[1]["pos"]);  // one transaction
  EXPECT_NE(lines[1]["pos"], lines[2]["pos"]);

  std::vector<KafkaMessage> messages;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = ReadTopic(kafka->bootstraps(), "public.docs");
        if (r.ok()) messages = *r;
        return messages.size() >= 5;  // and the delete's tombstone
      },
      60s))
      << sluice_->Log();
  ASSERT_EQ(messages.size(), 5u);
  std::map<std::string, std::vector<std::string>> ops_by_key;
  for (const KafkaMessage& m : messages) {
    if (!m.value) {
      ops_by_key[m.key].push_back("tombstone");
      continue;
    }
    auto v = nlohmann::json::parse(*m.value);
    EXPECT_EQ(v["source"]["connector"], "postgresql") << *m.value;
    EXPECT_EQ(v["source"]["table"], "docs");
    EXPECT_GT(v["source"]["lsn"].get<uint64_t>(), 0u);
    if (v["op"] == "u") {
      EXPECT_FALSE(v["after"].contains("body")) << *m.value;
    }
    ops_by_key[m.key].push_back(v["op"].get<std::string>());
  }
  EXPECT_EQ(ops_by_key[R"({"id":1})"], (std::vector<std::string>{"c", "u"}));
  EXPECT_EQ(ops_by_key[R"({"id":2})"], (std::vector<std::string>{"c", "d", "tombstone"}));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  (void)lsn;
  kafka.reset();
}

// ClickHouse and Redis from PostgreSQL: ClickHouse row versions come from
// commit LSNs (several changes of one row in one transaction, a key change
// and a delete land as the last one left them), booleans are Int8 1/0 in
// ClickHouse and true/false in Redis hashes.
TEST_F(PgSourceTest, IntoClickhouseAndRedis) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_NO_FATAL_FAILURE(StartClickhouseAndRedis());
  Sql("CREATE TABLE items (id int PRIMARY KEY, b boolean, num numeric(12,4), t text, u uuid, iv interval, d date,"
      " ai int[], jb jsonb)");
  WritePipeline("      - match: \"public.items\"\n", "", 1, "[ch, cache]",
                fmt::format("  ch: {{url: \"{}\"}}\n  cache: {{url: \"{}\"}}\n", ch_->Url("default"), redis_->Url(0)));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", 30s));
  Sql("INSERT INTO items VALUES (1, true, 12.5, 'héllo', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:00:00',"
      " '2024-02-29', '{1,NULL,3}', '{\"a\": 1}'), (2, false, -0.0001, '', NULL, '-1 mons', '1970-01-02', '{}', 'null'),"
      " (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
  Sql("BEGIN; UPDATE items SET num = num + 1, b = NOT b WHERE id = 1; UPDATE items SET num = num * 2 WHERE id = 1;"
      "UPDATE items SET id = 30 WHERE id = 3; DELETE FROM items WHERE id = 2; COMMIT");
  Sql("INSERT INTO items (id, t) SELECT g, 'bulk' FROM generate_series(100, 299) g");  // 200 rows in one transaction
  Sql("UPDATE items SET t = 'bulk2' WHERE id = 150");

  const std::string want = PgRows("SELECT id, b::int, num, t, u, iv, d FROM items ORDER BY id", "shop");
  std::string got;
  EXPECT_TRUE(WaitUntil(
      [&] {
        got = ClickhouseRows("SELECT id, b, num, t, u, iv, d FROM public.items FINAL WHERE _sign = 1 ORDER BY id");
        return got == want;
      },
      90s))
      << RowsDiff(want, got) << sluice_->Log();
  auto json = ch_->Rows("SELECT ai, jb FROM public.items FINAL WHERE _sign = 1 AND id = 1 FORMAT TabSeparated");
  ASSERT_TRUE(json.ok()) << json.status().message();
  ASSERT_EQ(json->size(), 1u);
  EXPECT_EQ((*json)[0], (std::vector<std::string>{"[1,null,3]", "{\"a\": 1}"}));

  const std::map<std::string, std::string> one{{"id", "1"},
                                               {"b", "false"},
                                               {"num", "27.0000"},
                                               {"t", "héllo"},
                                               {"u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
                                               {"iv", "1 day 02:00:00"},
                                               {"d", "2024-02-29"},
                                               {"ai", "[1,null,3]"},
                                               {"jb", "{\"a\": 1}"}};
  EXPECT_TRUE(WaitUntil([&] { return RedisHash("public:items:150")["t"] == "bulk2"; }, 60s)) << sluice_->Log();
  EXPECT_EQ(RedisHash("public:items:1"), one);
  EXPECT_EQ(RedisHash("public:items:30"), (std::map<std::string, std::string>{{"id", "30"}}));
  EXPECT_TRUE(RedisHash("public:items:2").empty());
  EXPECT_TRUE(RedisHash("public:items:3").empty());
  EXPECT_EQ(RedisKeyCount("public:items:*"), 202u);
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// `where:` over columns a key-only old image (REPLICA IDENTITY DEFAULT)
// lacks: the new image decides, so rows leave and enter the targets as the
// filter says; renames and a column subset apply as for MySQL sources.
TEST_F(PgSourceTest, RowFilterAndRenamesWithKeyOnlyOldImages) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, status text NOT NULL, n int, secret text)");
  Sql("INSERT INTO items VALUES (1, 'new', 1, 'x'), (2, 'deleted', 2, 'y')");
  ASSERT_NO_FATAL_FAILURE(StartPipeline(
      "      - match: \"public.items\"\n        to: \"shop.goods\"\n        columns: [id, status, n]\n"
      "        where: \"status != 'deleted'\"\n"));
  Sql("INSERT INTO items VALUES (3, 'new', 3, 'z'), (4, 'deleted', 4, 'w')");
  Sql("UPDATE items SET status = 'deleted' WHERE id = 3; UPDATE items SET status = 'paid' WHERE id IN (1, 4);"
      "UPDATE items SET n = 10 WHERE id = 2");
  const std::string want = "SELECT id, status, n FROM items WHERE status != 'deleted' AND id > 2 OR id = 1 ORDER BY id";
  EXPECT_TRUE(Converge(want, "SELECT id, status, n FROM shop.goods ORDER BY id",
                       "SELECT id, status, n FROM shop.goods ORDER BY id"));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
