// `sluice snapshot`, `snapshot: initial` and `sluice check` from a
// PostgreSQL 15 source: every common type copied exactly as the stream
// converts it, into a PostgreSQL and a MariaDB target; the copy meeting the
// stream exactly (writes running during the snapshot, then streaming:
// nothing lost, nothing duplicated, keyless rows counted); kill -9 in the
// middle of the copy resuming its plan; a keyless table refused when the
// slot existed before; check finding planted differences and --repair
// fixing them.

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "cli/run_command.h"
#include "harness/kafka_mock.h"
#include "pipeline/pg_source_fixture.h"

namespace sluice::testing {
namespace {

class PgSourceSnapshotTest : public PgSourceTest {
 protected:
  // Done chunk records of `table` on the PostgreSQL target.
  long long DoneChunks(const std::string& table = "") {
    auto v = pg_->QueryValue(
        "SELECT count(*) FROM _sluice.snapshot_chunks WHERE done" +
            (table.empty() ? std::string() : " AND tbl = '" + table + "'"),
        "target");
    return v.ok() ? std::stoll(*v) : 0;
  }
  long long MyDoneChunks(const std::string& table) {
    auto v = my_->QueryValue("SELECT count(*) FROM _sluice.snapshot_chunks WHERE done AND tbl = '" + table +
                             "'");
    return v.ok() ? std::stoll(*v) : 0;
  }
  // Transactions that insert, update and delete orders and log each in the
  // keyless audit table: a change applied twice shows as an extra audit row.
  Status Write(int from, int to) {
    for (int i = from; i <= to; ++i) {
      Status st = pg_->Execute(
          fmt::format("SET ROLE repl; BEGIN; INSERT INTO orders VALUES ({0} + 100000, {0}, 'new') ON CONFLICT (id) "
                      "DO NOTHING; UPDATE orders SET amount = amount + 1, note = 'upd' WHERE id = {1}; DELETE FROM "
                      "orders WHERE id = {2}; INSERT INTO audit VALUES ({0}, 'w'); INSERT INTO journal VALUES ({0}); "
                      "COMMIT",
                      i, i * 37 % 20000 + 1, i * 53 % 20000 + 1),
          "shop");
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }
  void CreateOrders(int rows) {
    Sql("CREATE TABLE orders (id int PRIMARY KEY, amount int NOT NULL, note text); CREATE TABLE audit (txn int, msg "
        "text); CREATE TABLE journal (txn int); ALTER TABLE audit REPLICA IDENTITY FULL; "
        "ALTER TABLE journal REPLICA IDENTITY FULL");
    Sql(fmt::format("INSERT INTO orders SELECT i, i, 'n' || i FROM generate_series(1, {}) i;"
                    "INSERT INTO audit SELECT i % 7, 'seed' FROM generate_series(1, 50) i;"
                    "INSERT INTO journal SELECT -i FROM generate_series(1, 20) i",
                    rows));
  }
  ::testing::AssertionResult OrdersAndAuditConverge() {
    const std::string orders = "SELECT id, amount, note FROM {}orders ORDER BY id";
    auto a = Converge(fmt::format(fmt::runtime(orders), ""), fmt::format(fmt::runtime(orders), "public."),
                      fmt::format(fmt::runtime(orders), "public."), 120s);
    if (!a) return a;
    const std::string audit = "SELECT txn, msg, count(*) FROM {}audit GROUP BY txn, msg ORDER BY txn, msg";
    auto b = Converge(fmt::format(fmt::runtime(audit), ""), fmt::format(fmt::runtime(audit), "public."),
                      fmt::format(fmt::runtime(audit), "public."));
    if (!b) return b;
    const std::string journal = "SELECT txn, count(*) FROM {}journal GROUP BY txn ORDER BY txn";
    return Converge(fmt::format(fmt::runtime(journal), ""), fmt::format(fmt::runtime(journal), "public."),
                    fmt::format(fmt::runtime(journal), "public."));
  }
};

TEST_F(PgSourceSnapshotTest, CopiesEveryTypeExactlyThenTheStreamGoesOn) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql(kTypes);
  Sql(kTypeRows);
  Sql("CREATE TABLE docs (id int PRIMARY KEY, body text, n int);"
      "INSERT INTO docs SELECT 1, string_agg(md5(i::text), ''), 0 FROM generate_series(1, 5000) i;"
      "INSERT INTO docs VALUES (2, 'small', 0);"
      "CREATE TABLE audit (txn int, msg text); ALTER TABLE audit REPLICA IDENTITY FULL; "
      "INSERT INTO audit VALUES (1, 'a'), (1, 'a'), (2, NULL)");
  ASSERT_NO_FATAL_FAILURE(WritePipeline());
  auto r = RunSluice("snapshot -c " + ShellQuote(config_) + " --pipeline p", 120);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Converge(kTypesSource, kTypesPgTarget, "", 5s));
  EXPECT_TRUE(Converge(kTypesSourceForMysql, "", kTypesMysql, 5s));
  const std::string docs = "SELECT id, md5(body), length(body), n FROM {}docs ORDER BY id";
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(docs), ""), fmt::format(fmt::runtime(docs), "public."),
                       "SELECT id, MD5(body), LENGTH(body), n FROM public.docs ORDER BY id", 5s));
  const std::string audit = "SELECT txn, msg, count(*) FROM {}audit GROUP BY txn, msg ORDER BY txn, msg";
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(audit), ""), fmt::format(fmt::runtime(audit), "public."),
                       fmt::format(fmt::runtime(audit), "public."), 5s));
  // The snapshot made the pipeline's slot, and the targets start where it
  // was created; its plans are gone.
  std::string slot_lsn = Value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'sluice_p'");
  auto start = my_->QueryValue("SELECT resume_position FROM _sluice.checkpoints WHERE part = -1");
  ASSERT_TRUE(start.ok()) << start.status().message();
  EXPECT_EQ(*start, slot_lsn);
  EXPECT_EQ(Value("SELECT resume_position FROM _sluice.checkpoints WHERE part = -1", "target"), slot_lsn);
  EXPECT_EQ(Value("SELECT count(*) FROM _sluice.snapshot_chunks", "target"), "0");

  // Changes made after the snapshot stream in once the pipeline runs.
  Sql("UPDATE types SET b = NOT b, t = t || '!' WHERE id = 1; DELETE FROM types WHERE id = 2;"
      "INSERT INTO audit VALUES (3, 'after'); UPDATE docs SET n = 7 WHERE id = 1");
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(Converge(kTypesSource, kTypesPgTarget, ""));
  EXPECT_TRUE(Converge(kTypesSourceForMysql, "", kTypesMysql));
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(docs), ""), fmt::format(fmt::runtime(docs), "public."),
                       "SELECT id, MD5(body), LENGTH(body), n FROM public.docs ORDER BY id"));
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(audit), ""), fmt::format(fmt::runtime(audit), "public."),
                       fmt::format(fmt::runtime(audit), "public.")));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// `snapshot: initial` in `sluice run` with writes running while it copies:
// the copy (the slot's exported snapshot) and the stream (from the slot's
// consistent point) meet exactly. One worker, held once the first keyless
// table is copied: the second (journal) is read after the writes, and only
// the exported snapshot keeps its copy from holding them as well as the
// stream (keyless rows would then be there twice).
TEST_F(PgSourceSnapshotTest, InitialSnapshotWithWritesDuringTheCopyMeetsTheStream) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  CreateOrders(20000);
  ASSERT_NO_FATAL_FAILURE(
      WritePipeline("      - match: \"public.*\"\n", "    snapshot: initial\n    chunk_rows: 500\n", /*parallel=*/1));
  const std::string release = (dir_ / "release").string();
  ::setenv("SLUICE_SYNC_POINTS", ("snapshot.chunk.committed=wait@2:" + release).c_str(), 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitUntil([&] { return DoneChunks("public.audit") == 1 && MyDoneChunks("public.audit") == 1; }, 120s))
      << sluice_->Log();
  EXPECT_EQ(DoneChunks("public.journal"), 0);
  Status written = Write(1, 300);
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_EQ(DoneChunks("public.journal"), 0) << "the copy went on before the writes";
  std::ofstream(release) << "go";
  ASSERT_TRUE(WaitForState("p", "running", 180s));
  EXPECT_NE(sluice_->FullLog().find("with snapshot"), std::string::npos) << sluice_->Log();
  EXPECT_TRUE(OrdersAndAuditConverge());
  EXPECT_EQ(Value("SELECT count(*) FROM public.audit", "target"), "350");
  EXPECT_EQ(Value("SELECT count(*) FROM public.journal", "target"), "320");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSourceSnapshotTest, KilledMidSnapshotResumesItsPlanAndConverges) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  CreateOrders(20000);
  // One worker: the keyless tables (first) are surely copied before it is
  // held after a few chunks (a file never made), so the kill lands mid-copy.
  ASSERT_NO_FATAL_FAILURE(
      WritePipeline("      - match: \"public.*\"\n", "    snapshot: initial\n    chunk_rows: 250\n", /*parallel=*/1));
  ::setenv("SLUICE_SYNC_POINTS", ("snapshot.chunk.committed=wait@8:" + (dir_ / "never").string()).c_str(), 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  // Keyless tables go first: whole, under the exported snapshot.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return DoneChunks("public.audit") == 1 && MyDoneChunks("public.audit") == 1 &&
               DoneChunks("public.journal") == 1 && MyDoneChunks("public.journal") == 1;
      },
      120s))
      << sluice_->Log();
  ASSERT_TRUE(WaitUntil([&] { return DoneChunks() >= 3; }, 120s)) << sluice_->Log();
  sluice_->Kill();
  const long long done_before = DoneChunks();
  ASSERT_LT(done_before, 82) << "the copy finished before the kill";
  // Changes while sluice is down, to rows already copied and not yet.
  Status written = Write(1, 200);
  ASSERT_TRUE(written.ok()) << written.message();
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "running", 180s)) << sluice_->Log();
  EXPECT_NE(sluice_->FullLog().find("resuming the snapshot"), std::string::npos) << sluice_->Log();
  Status more = Write(201, 260);
  ASSERT_TRUE(more.ok()) << more.message();
  EXPECT_TRUE(OrdersAndAuditConverge());
  EXPECT_EQ(Value("SELECT count(*) FROM public.audit", "target"), "310");
  EXPECT_EQ(Value("SELECT count(*) FROM public.journal", "target"), "280");
  EXPECT_EQ(Value("SELECT count(*) FROM _sluice.snapshot_chunks", "target"), "0");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Once the slot exists (the pipeline ran), no snapshot can be exported from
// it: a keyless table would get the rows inserted since twice, so it is
// refused with a message naming it.
// A target added later (`my`) is copied while the other (`pg`) streams on;
// the slot confirms nothing meanwhile, so the new start after the copy reads
// again from where the copy began and both targets end equal. The copy is
// held at its first chunk while the source takes writes.
TEST_F(PgSourceSnapshotTest, ATargetAddedLaterIsCopiedWhileTheOtherStreams) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, n int); INSERT INTO items SELECT g, g FROM generate_series(1, 50) g");
  const char* kItems = "SELECT id, n FROM items ORDER BY id";
  const char* kTargetItems = "SELECT id, n FROM public.items ORDER BY id";
  WritePipeline("      - match: \"public.*\"\n", "    snapshot: initial\n", 2, "[pg]");
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Converge(kItems, kTargetItems, ""));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  Sql("UPDATE items SET n = n + 100 WHERE id <= 10; DELETE FROM items WHERE id = 50");

  WritePipeline("      - match: \"public.*\"\n", "    snapshot: initial\n", 2, "[pg, my]");
  std::string go = (dir_ / "go").string();
  ::setenv("SLUICE_SYNC_POINTS", ("mysql.chunk.write=wait:" + go).c_str(), 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(WaitUntil([&] { return sluice_->FullLog().find("waiting for") != std::string::npos; }, 30s))
      << sluice_->FullLog();
  Sql("INSERT INTO items VALUES (51, 51); UPDATE items SET n = -1 WHERE id = 20");
  EXPECT_TRUE(Converge(kItems, kTargetItems, ""));  // `pg` streams while `my` is copied
  std::ofstream(go).put('\n');
  Sql("INSERT INTO items VALUES (52, 52); DELETE FROM items WHERE id = 1");
  EXPECT_TRUE(Converge(kItems, kTargetItems, kTargetItems));
  ASSERT_TRUE(WaitForState("p", "running", 30s, "my"));
  EXPECT_NE(sluice_->FullLog().find("they join the stream where their copy began: starting it again"),
            std::string::npos)
      << sluice_->FullLog();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSourceSnapshotTest, KeylessTableRefusedOnceTheSlotExists) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE audit (txn int, msg text); "
      "ALTER TABLE audit REPLICA IDENTITY FULL");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  auto r = RunSluice("snapshot -c " + ShellQuote(config_) + " --pipeline p", 120);
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("pipeline p: table public.audit: table public.audit has no primary key, and replication slot "
                       "\"sluice_p\" existed before this snapshot"),
            std::string::npos)
      << r.err;
}

// PG -> PG (checksums where the types agree, rows otherwise) and PG ->
// MariaDB (rows, values as the stream wrote them there): planted differences
// of each kind found by key and repaired.
TEST_F(PgSourceSnapshotTest, CheckFindsPlantedDifferencesAndRepairFixesThem) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql(kTypes);
  Sql(kTypeRows);
  Sql("CREATE TABLE items (id int PRIMARY KEY, name text, n numeric(10,2));"
      "INSERT INTO items SELECT i, 'item ' || i, i / 4.0 FROM generate_series(1, 3000) i;"
      "CREATE TABLE pairs (a text, b int, v text, PRIMARY KEY (a, b));"
      "INSERT INTO pairs SELECT chr(65 + i % 26) || i, i % 3, 'v' FROM generate_series(1, 500) i;"
      "CREATE TABLE log (k int, msg text); ALTER TABLE log REPLICA IDENTITY FULL; "
      "INSERT INTO log VALUES (1, 'x'), (1, 'x'), (2, 'y')");
  ASSERT_NO_FATAL_FAILURE(WritePipeline("      - match: \"public.*\"\n", "    chunk_rows: 400\n", 2, "[pg, my]"));
  auto snap = RunSluice("snapshot -c " + ShellQuote(config_) + " --pipeline p", 120);
  ASSERT_EQ(snap.exit_code, 0) << snap.out << snap.err;
  const std::string check = "check -c " + ShellQuote(config_) + " --wait-seconds 1";
  auto clean = RunSluice(check, 120);
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;

  auto target = [&](const std::string& sql) {
    Status st = pg_->Execute(sql, "target");
    ASSERT_TRUE(st.ok()) << sql << ": " << st.message();
  };
  target("DELETE FROM public.items WHERE id = 1234; INSERT INTO public.items VALUES (5000, 'extra', 1);"
         "UPDATE public.items SET n = n + 0.01 WHERE id = 2999; UPDATE public.types SET jb = '{\"a\": 2}' WHERE id = 1;"
         "UPDATE public.types SET ai = '[1, 2]' WHERE id = 2; DELETE FROM public.pairs WHERE a = 'B1' AND b = 1;"
         "DELETE FROM public.log WHERE ctid = (SELECT min(ctid) FROM public.log WHERE k = 1);"
         "INSERT INTO public.log VALUES (3, 'z')");
  for (const char* sql : {"DELETE FROM public.items WHERE id = 777", "UPDATE public.types SET t = 'changed' WHERE id = 2",
                          "INSERT INTO public.pairs VALUES ('ZZ', 1, 'v')"}) {
    Status st = my_->Execute(sql);
    ASSERT_TRUE(st.ok()) << sql << ": " << st.message();
  }
  auto found = RunSluice(check, 120);
  EXPECT_EQ(found.exit_code, 1) << found.out << found.err;
  for (const char* key : {"id=1234", "id=5000", "id=2999", "id=1", "id=2", "(a='B1', b=1)", "k=3", "id=777",
                          "(a='ZZ', b=1)"}) {
    EXPECT_NE(found.out.find(key), std::string::npos) << key << "\n" << found.out;
  }
  EXPECT_EQ(found.out.find("id=1500"), std::string::npos) << found.out;

  auto repaired = RunSluice(check + " --repair", 120);
  EXPECT_EQ(repaired.exit_code, 0) << repaired.out << repaired.err;
  auto again = RunSluice(check, 120);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(Converge("SELECT id, name, n FROM items ORDER BY id", "SELECT id, name, n FROM public.items ORDER BY id",
                       "", 5s));
  EXPECT_TRUE(Converge(kTypesSource, kTypesPgTarget, "", 5s));
  EXPECT_TRUE(Converge(kTypesSourceForMysql, "", kTypesMysql, 5s));
  EXPECT_TRUE(Converge("SELECT a, b, v FROM pairs ORDER BY a COLLATE \"C\", b", "",
                       "SELECT a, b, v FROM public.pairs ORDER BY a, b", 5s));
  EXPECT_TRUE(Converge("SELECT k, msg, count(*) FROM log GROUP BY k, msg ORDER BY k",
                       "SELECT k, msg, count(*) FROM public.log GROUP BY k, msg ORDER BY k", "", 5s));
}

// `snapshot: initial` and `check: {every, repair}` in `sluice run`: a row
// lost on the target while the pipeline streams is found and put back.
TEST_F(PgSourceSnapshotTest, PeriodicCheckInRunRepairsThePostgresTarget) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, name text, tags text[]);"
      "INSERT INTO items SELECT i, 'item ' || i, ARRAY['a', i::text] FROM generate_series(1, 2000) i");
  ASSERT_NO_FATAL_FAILURE(WritePipeline("      - match: \"public.items\"\n",
                                        "    snapshot: initial\n    chunk_rows: 300\n    check: {every: 1s, repair: true}\n",
                                        2, "[pg]"));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", 120s));
  const std::string items = "SELECT id, name, tags::text FROM {}items ORDER BY id";
  const std::string target_items = "SELECT id, name, (SELECT array_agg(x) FROM jsonb_array_elements_text(tags) x)::text"
                                   " FROM public.items ORDER BY id";
  ASSERT_TRUE(Converge(fmt::format(fmt::runtime(items), ""), target_items, ""));
  Sql("UPDATE items SET name = 'renamed' WHERE id = 7");
  ASSERT_TRUE(pg_->Execute("DELETE FROM public.items WHERE id = 1999", "target").ok());
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(items), ""), target_items, "", 120s));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// `snapshot: initial` from PostgreSQL into ClickHouse, Redis and Kafka at
// once, then the stream: ClickHouse keeps the streamed versions over the
// copied rows (snapshot rows are version 0, streamed ones from the commit
// LSN), Redis hashes follow, and Kafka gets every copied row then every
// change (at least once).
TEST_F(PgSourceSnapshotTest, InitialSnapshotIntoClickhouseRedisAndKafkaThenTheStream) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_NO_FATAL_FAILURE(StartClickhouseAndRedis());
  auto k = KafkaMock::Start(3);
  ASSERT_TRUE(k.ok()) << k.status().message();
  std::unique_ptr<KafkaMock> kafka = std::move(k).value();
  Sql("CREATE TABLE items (id int PRIMARY KEY, amount int NOT NULL, ok boolean, note text);"
      "INSERT INTO items SELECT i, i, i % 2 = 0, 'n' || i FROM generate_series(1, 2000) i");
  ASSERT_NO_FATAL_FAILURE(WritePipeline(
      "      - match: \"public.items\"\n", "    snapshot: initial\n    chunk_rows: 300\n", 1, "[ch, cache, bus]",
      fmt::format("  ch: {{url: \"{}\"}}\n  cache: {{url: \"{}\"}}\n  bus: {{url: \"{}\", format: json}}\n",
                  ch_->Url("default"), redis_->Url(0), kafka->Url())));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", 120s)) << sluice_->Log();
  Sql("UPDATE items SET amount = amount + 1000, ok = NOT ok WHERE id <= 10; DELETE FROM items WHERE id = 2000;"
      "INSERT INTO items VALUES (5000, 5, NULL, 'late')");

  const std::string want = PgRows("SELECT count(*), sum(amount), sum(ok::int), max(note) FROM items", "shop");
  std::string got;
  EXPECT_TRUE(WaitUntil(
      [&] {
        got = ClickhouseRows("SELECT count(), sum(amount), sum(ok), max(note) FROM public.items FINAL WHERE _sign = 1");
        return got == want;
      },
      90s))
      << RowsDiff(want, got) << sluice_->Log();

  EXPECT_TRUE(WaitUntil([&] { return RedisHash("public:items:5000")["note"] == "late"; }, 60s)) << sluice_->Log();
  EXPECT_EQ(RedisHash("public:items:1"),
            (std::map<std::string, std::string>{{"id", "1"}, {"amount", "1001"}, {"ok", "true"}, {"note", "n1"}}));
  EXPECT_EQ(RedisHash("public:items:1999"),
            (std::map<std::string, std::string>{{"id", "1999"}, {"amount", "1999"}, {"ok", "false"}, {"note", "n1999"}}));
  EXPECT_TRUE(RedisHash("public:items:2000").empty());
  EXPECT_EQ(RedisKeyCount("public:items:*"), 2000u);

  // 2,000 copied rows, 10 updates, a delete and an insert; a copied row may
  // come twice (at least once), a change at least once.
  std::set<std::string> ops;
  size_t messages = 0;
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto m = ReadTopic(kafka->bootstraps(), "public.items");
        if (!m.ok()) return false;
        ops.clear();
        messages = m->size();
        for (const KafkaMessage& msg : *m) {
          if (!msg.value) continue;
          auto j = nlohmann::json::parse(*msg.value, nullptr, false);
          if (j.is_discarded()) continue;
          ops.insert(j["op"].get<std::string>() + ":" +
                     (j["after"].is_object() ? j["after"]["id"].dump() : j["before"]["id"].dump()));
        }
        return ops.count("update:10") && ops.count("delete:2000") && ops.count("insert:5000") && messages >= 2012;
      },
      60s))
      << messages << " messages; " << sluice_->Log();
  EXPECT_TRUE(ops.count("insert:1999")) << "copied rows go to Kafka as inserts";
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
