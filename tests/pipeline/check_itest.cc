// `sluice check` end to end against real servers: equal tables, planted
// differences in every chunk position, repair, comparisons through rename /
// subset / column renames / row filter, every value type (no false
// positives), tables without keys, and a check while `sluice run` streams a
// live workload (differences in flight are not differences).
//
// One source and one target server serve every test of the suite (each test
// uses its own databases and pipeline name), which keeps the suite short.

#include <random>
#include <set>

#include "cli/run_command.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

class CheckTest : public SyncTest {
 protected:
  static void SetUpTestSuite() {
    MariadbServerOptions o;
    o.server_id = 1;
    o.relaxed_durability = true;
    auto s = MariadbServer::Start(o);
    if (s.ok()) src_ = std::move(s).value();
    o.server_id = 2;
    auto d = MariadbServer::Start(o);
    if (d.ok()) dst_ = std::move(d).value();
  }
  static void TearDownTestSuite() {
    src_.reset();
    dst_.reset();
  }
  void SetUp() override {
    SyncTest::SetUp();
    ASSERT_TRUE(src_ && dst_) << "test servers did not start";
  }

  // Runs `sql` on both servers (the same tables and rows on each side).
  static void Both(const std::string& sql) {
    Status a = src_->Execute(sql);
    ASSERT_TRUE(a.ok()) << sql << ": " << a.message();
    Status b = dst_->Execute(sql);
    ASSERT_TRUE(b.ok()) << sql << ": " << b.message();
  }

  // A config with one pipeline `name` from the source to target `dst`.
  void WritePipeline(const std::string& name, const std::string& rules, const std::string& extra = "",
                     const std::string& start = "latest") {
    WriteConfig(fmt::format(R"(store: {dir}/sluice.db
sources:
  main: {{url: "{src}", server_id: 4343, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: {name}
    source: main
    targets: [dst]
    start: "{start}"
    chunk_rows: 100
    parallel: 3
{extra}    tables:
{rules})",
                            fmt::arg("dir", dir_.string()), fmt::arg("src", src_->Url()), fmt::arg("dst", dst_->Url()),
                            fmt::arg("name", name), fmt::arg("start", start), fmt::arg("extra", extra),
                            fmt::arg("rules", rules)));
  }

  CommandResult Check(const std::string& pipeline, const std::string& more = "") {
    return RunSluice("check -c " + ShellQuote(config_) + " --pipeline " + pipeline + " " + more, 120);
  }

  // The JSON report of a check; fails the test when it does not parse.
  static nlohmann::json Json(const CommandResult& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "stdout: " << r.out << "\nstderr: " << r.err;
    return j;
  }

  // The key values of one kind in table entry `t` (single-column key `col`).
  static std::set<int64_t> Keys(const nlohmann::json& t, const std::string& kind, const std::string& col) {
    std::set<int64_t> out;
    for (const auto& k : t[kind]) out.insert(k[col].get<int64_t>());
    return out;
  }

  static std::unique_ptr<MariadbServer> src_, dst_;
};

std::unique_ptr<MariadbServer> CheckTest::src_;
std::unique_ptr<MariadbServer> CheckTest::dst_;

TEST_F(CheckTest, EqualTablesAreConsistent) {
  Both(
      "CREATE DATABASE eq; CREATE TABLE eq.t (id INT PRIMARY KEY, name VARCHAR(20), amount DECIMAL(10,2), "
      "note TEXT NULL); INSERT INTO eq.t SELECT seq, CONCAT('n', seq), seq / 7, IF(seq % 3 = 0, NULL, 'x#y') "
      "FROM eq.seq_1_to_3000");
  WritePipeline("eq", "      - match: \"eq.*\"\n");
  auto r = Check("eq");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("eq.t -> eq.t: 3000 rows in "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" chunks, 0 missing, 0 extra, 0 different\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nconsistent\n"), std::string::npos) << r.out;

  r = Check("eq", "--format json");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  EXPECT_EQ(j["consistent"], true);
  EXPECT_EQ(j["repaired"], false);
  ASSERT_EQ(j["pipelines"].size(), 1u);
  EXPECT_EQ(j["pipelines"][0]["name"], "eq");
  EXPECT_EQ(j["pipelines"][0]["target"], "dst");
  auto t = j["pipelines"][0]["tables"][0];
  EXPECT_EQ(t["source"], "eq.t");
  EXPECT_EQ(t["target"], "eq.t");
  EXPECT_EQ(t["rows"], 3000);
  // 100 keys a chunk: by key value (30) when the row estimate says the keys
  // are dense, else by walking the index (30 full chunks and an open one).
  EXPECT_GE(t["chunks"], 30);
  EXPECT_LE(t["chunks"], 31);
  EXPECT_TRUE(t["missing"].empty() && t["extra"].empty() && t["different"].empty()) << t.dump();
}

const char* kPlanted =
    "CREATE DATABASE pl; CREATE TABLE pl.t (id INT PRIMARY KEY, v VARCHAR(20), n INT NULL); "
    "INSERT INTO pl.t SELECT seq, CONCAT('v', seq), seq FROM pl.seq_1_to_1000";
// On the target only. Chunks of 100 keys: (-inf,100], (100,200], ..., and
// an open last one.
const char* kPlant =
    "DELETE FROM pl.t WHERE id IN (1, 550, 1000); "                               // missing: first, middle, last row
    "INSERT INTO pl.t VALUES (0, 'zero', 0), (1001, 'x', 1), (5000, 'far', 5); "  // extra: before, beyond
    "UPDATE pl.t SET v = 'changed' WHERE id = 100; "                              // different: a chunk's upper bound
    "UPDATE pl.t SET n = NULL WHERE id = 333; "                                   // different: value vs NULL
    "UPDATE pl.t SET v = 'V777' WHERE id = 777";                                  // different: case only

TEST_F(CheckTest, PlantedDifferencesAreReportedByKeyAndKind) {
  Both(kPlanted);
  ASSERT_TRUE(dst_->Execute(kPlant).ok());
  WritePipeline("planted", "      - match: \"pl.t\"\n");
  auto r = Check("planted", "--format json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = Json(r);
  EXPECT_EQ(j["consistent"], false);
  auto t = j["pipelines"][0]["tables"][0];
  EXPECT_EQ(Keys(t, "missing", "id"), (std::set<int64_t>{1, 550, 1000}));
  EXPECT_EQ(Keys(t, "extra", "id"), (std::set<int64_t>{0, 1001, 5000}));
  EXPECT_EQ(Keys(t, "different", "id"), (std::set<int64_t>{100, 333, 777}));
  EXPECT_EQ(t["rows"], 1000);

  r = Check("planted");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("pipeline planted target dst table pl.t -> pl.t: missing id=550\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pipeline planted target dst table pl.t -> pl.t: extra id=5000\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pipeline planted target dst table pl.t -> pl.t: different id=333\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("pl.t -> pl.t: 1000 rows in "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" chunks, 3 missing, 3 extra, 3 different\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n9 differences\n"), std::string::npos) << r.out;
}

TEST_F(CheckTest, RepairMakesTheTargetEqual) {
  Both(
      "CREATE DATABASE rp; CREATE TABLE rp.t (id INT PRIMARY KEY, v VARCHAR(20), n INT NULL); "
      "INSERT INTO rp.t SELECT seq, CONCAT('v', seq), seq FROM rp.seq_1_to_1000; "
      "CREATE TABLE rp.c (a INT, b VARCHAR(8), v INT, PRIMARY KEY (a, b)); "
      "INSERT INTO rp.c SELECT seq % 7, CONCAT('k', seq), seq FROM rp.seq_1_to_500; "
      "CREATE TABLE rp.k (a INT, b VARCHAR(8)); "
      "INSERT INTO rp.k VALUES (1, 'x'), (1, 'x'), (2, 'y'), (3, NULL)");
  ASSERT_TRUE(
      dst_->Execute(
              "DELETE FROM rp.t WHERE id IN (1, 550, 1000); INSERT INTO rp.t VALUES (0, 'zero', 0), (1001, 'x', 1); "
              "UPDATE rp.t SET v = 'changed' WHERE id = 100; UPDATE rp.t SET n = NULL WHERE id = 333; "
              "DELETE FROM rp.c WHERE a = 3 AND b = 'k3'; UPDATE rp.c SET v = -1 WHERE a = 5 AND b = 'k250'; "
              "INSERT INTO rp.c VALUES (9, 'zz', 9); "
              "DELETE FROM rp.k WHERE a = 1 LIMIT 1; INSERT INTO rp.k VALUES (4, 'w'), (3, NULL)")
          .ok());
  WritePipeline("repair", "      - match: \"rp.*\"\n");
  auto r = Check("repair", "--repair --format json");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  EXPECT_EQ(j["consistent"], false);  // differences were found...
  EXPECT_EQ(j["repaired"], true);     // ...and repaired
  // rp.c: 1 missing, 1 extra, 1 different; rp.k: 1 missing, 2 extra; rp.t: 3 + 2 + 2.
  EXPECT_EQ(j["repaired_rows"], 13) << r.out;
  for (const auto& t : j["pipelines"][0]["tables"]) EXPECT_TRUE(t["remaining"].empty()) << t.dump();
  auto c = j["pipelines"][0]["tables"][0];
  ASSERT_EQ(c["target"], "rp.c");
  ASSERT_EQ(c["missing"].size(), 1u);
  EXPECT_EQ(c["missing"][0], (nlohmann::json{{"a", 3}, {"b", "k3"}}));
  auto k = j["pipelines"][0]["tables"][1];
  ASSERT_EQ(k["target"], "rp.k");
  EXPECT_EQ(k["missing"].size(), 1u) << k.dump();
  EXPECT_EQ(k["extra"].size(), 2u) << k.dump();
  EXPECT_EQ(k["missing"][0], (nlohmann::json{{"a", 1}, {"b", "x"}}));  // a keyless row is its whole value

  r = Check("repair");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\nconsistent\n"), std::string::npos) << r.out;
  for (const char* q :
       {"SELECT * FROM rp.t ORDER BY id", "SELECT * FROM rp.c ORDER BY a, b", "SELECT * FROM rp.k ORDER BY a, b"}) {
    auto a = src_->Query(q);
    auto b = dst_->Query(q);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(RowsToText(*a), RowsToText(*b)) << q;
  }
}

TEST_F(CheckTest, ComparesThroughRenameSubsetColumnRenamesAndFilter) {
  const char* status = "ELT(1 + seq % 4, 'new', 'paid', 'deleted', 'shipped')";
  ASSERT_TRUE(
      src_->Execute(
              fmt::format("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, customer VARCHAR(20), "
                          "status VARCHAR(10), amount DECIMAL(10,2), note TEXT); "
                          "INSERT INTO shop.orders SELECT seq, CONCAT('c', seq % 10), {}, (seq % 40) + 0.5, 'n' FROM "
                          "shop.seq_1_to_600",
                          status))
          .ok());
  ASSERT_TRUE(
      dst_
          ->Execute(fmt::format(
              "CREATE DATABASE search_db; CREATE TABLE search_db.orders (id INT PRIMARY KEY, buyer VARCHAR(20), "
              "status VARCHAR(10), amount DECIMAL(10,2)); "
              "INSERT INTO search_db.orders SELECT seq, CONCAT('c', seq % 10), {0}, (seq % 40) + 0.5 FROM "
              "search_db.seq_1_to_600 "
              "WHERE {0} != 'deleted' AND (seq % 40) + 0.5 >= 10",
              status))
          .ok());
  WritePipeline("rules",
                "      - match: \"shop.orders\"\n"
                "        to: \"search_db.${table}\"\n"
                "        columns: [id, customer, status, amount]\n"
                "        rename_columns: {customer: buyer}\n"
                "        where: \"status != 'deleted' AND amount >= 10\"\n");
  auto r = Check("rules", "--format json");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  auto t = j["pipelines"][0]["tables"][0];
  EXPECT_EQ(t["source"], "shop.orders");
  EXPECT_EQ(t["target"], "search_db.orders");
  auto kept = src_->QueryValue("SELECT COUNT(*) FROM shop.orders WHERE status != 'deleted' AND amount >= 10");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(t["rows"], std::stoi(*kept));

  // id 22: status 'deleted' (22 % 4 = 2), amount 22.5: filtered out, so on the target it is extra.
  // id 21: 'paid', 21.5: passes, deleted from the target: missing.
  // id 23: passes; its buyer changed on the target: different.
  // id 25: passes on the target's copy; on the source it now fails the filter: extra.
  // id 24: a change outside the subset (note) is no difference.
  ASSERT_TRUE(dst_->Execute("INSERT INTO search_db.orders VALUES (22, 'c2', 'deleted', 22.50); "
                            "DELETE FROM search_db.orders WHERE id = 21; "
                            "UPDATE search_db.orders SET buyer = 'someone' WHERE id = 23")
                  .ok());
  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET amount = 1 WHERE id = 25; "
                            "UPDATE shop.orders SET note = 'other' WHERE id = 24")
                  .ok());
  r = Check("rules", "--format json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  j = Json(r);
  t = j["pipelines"][0]["tables"][0];
  EXPECT_EQ(Keys(t, "missing", "id"), (std::set<int64_t>{21}));
  EXPECT_EQ(Keys(t, "extra", "id"), (std::set<int64_t>{22, 25}));
  EXPECT_EQ(Keys(t, "different", "id"), (std::set<int64_t>{23}));

  r = Check("rules", "--repair");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\nrepaired 4 differences\n"), std::string::npos) << r.out;
  auto a = src_->Query(
      "SELECT id, customer, status, amount FROM shop.orders WHERE status != 'deleted' AND "
      "amount >= 10 ORDER BY id");
  auto b = dst_->Query("SELECT id, buyer, status, amount FROM search_db.orders ORDER BY id");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(RowsToText(*a), RowsToText(*b));
}

// Shards a rule's `to:` merges into one target table (the usual shape of
// sharded MySQL feeding one reporting table): the target holds every
// shard's rows, so each shard's rows are only part of it. They are compared
// as one set, once; before, each shard was compared alone, every other
// shard's rows were "extra", and `--repair` deleted them all.
TEST_F(CheckTest, ShardsMergedIntoOneTargetTableAreComparedAsTheirUnion) {
  // Odd keys in one shard, even in the other (chunks of 100 keys hold both),
  // a third shard with a key range of its own, and keyless logs merged too.
  ASSERT_TRUE(src_->Execute("CREATE DATABASE sh; "
                            "CREATE TABLE sh.orders_1 (id INT PRIMARY KEY, v VARCHAR(20)); "
                            "CREATE TABLE sh.orders_2 (id INT PRIMARY KEY, v VARCHAR(20)); "
                            "CREATE TABLE sh.orders_3 (id INT PRIMARY KEY, v VARCHAR(20)); "
                            "INSERT INTO sh.orders_1 SELECT seq * 2 - 1, CONCAT('a', seq) FROM sh.seq_1_to_400; "
                            "INSERT INTO sh.orders_2 SELECT seq * 2, CONCAT('b', seq) FROM sh.seq_1_to_400; "
                            "INSERT INTO sh.orders_3 SELECT 100000 + seq, CONCAT('c', seq) FROM sh.seq_1_to_300; "
                            "CREATE TABLE sh.log_1 (at INT, what VARCHAR(10)); "
                            "CREATE TABLE sh.log_2 (at INT, what VARCHAR(10)); "
                            "INSERT INTO sh.log_1 VALUES (1, 'x'), (2, 'y'); INSERT INTO sh.log_2 VALUES (1, 'x')")
                  .ok());
  const std::string union_orders =
      "SELECT * FROM sh.orders_1 UNION ALL SELECT * FROM sh.orders_2 UNION ALL SELECT * FROM sh.orders_3";
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE shm; CREATE TABLE shm.orders (id INT PRIMARY KEY, v VARCHAR(20)); "
                            "CREATE TABLE shm.log (at INT, what VARCHAR(10))")
                  .ok());
  auto rows = src_->Query(union_orders);
  ASSERT_TRUE(rows.ok());
  std::string values;
  for (const auto& row : *rows) values += fmt::format("{}({}, '{}')", values.empty() ? "" : ", ", *row[0], *row[1]);
  ASSERT_TRUE(dst_->Execute("INSERT INTO shm.orders VALUES " + values +
                            "; INSERT INTO shm.log VALUES (1, 'x'), (2, 'y'), (1, 'x')")
                  .ok());
  WritePipeline("shards",
                "      - match: \"sh.orders_*\"\n"
                "        to: \"shm.orders\"\n"
                "      - match: \"sh.log_*\"\n"
                "        to: \"shm.log\"\n");
  auto r = Check("shards", "--format json");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  EXPECT_EQ(j["consistent"], true) << r.out;
  ASSERT_EQ(j["pipelines"][0]["tables"].size(), 2u) << r.out;
  auto t = j["pipelines"][0]["tables"][1];
  EXPECT_EQ(t["source"], "sh.orders_1, sh.orders_2, sh.orders_3");
  EXPECT_EQ(t["target"], "shm.orders");
  EXPECT_EQ(t["rows"], 1100);

  // Missing from each shard, a row in no shard, a changed row; the logs
  // lose a row of shard 2 and gain one of no shard.
  ASSERT_TRUE(dst_->Execute("DELETE FROM shm.orders WHERE id IN (7, 400, 100300); "
                            "INSERT INTO shm.orders VALUES (801, 'none'), (50000, 'none'); "
                            "UPDATE shm.orders SET v = 'changed' WHERE id = 100001; "
                            "DELETE FROM shm.log WHERE at = 1 LIMIT 1; INSERT INTO shm.log VALUES (3, 'z')")
                  .ok());
  r = Check("shards", "--format json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  j = Json(r);
  t = j["pipelines"][0]["tables"][1];
  EXPECT_EQ(Keys(t, "missing", "id"), (std::set<int64_t>{7, 400, 100300})) << t.dump();
  EXPECT_EQ(Keys(t, "extra", "id"), (std::set<int64_t>{801, 50000})) << t.dump();
  EXPECT_EQ(Keys(t, "different", "id"), (std::set<int64_t>{100001})) << t.dump();
  auto logs = j["pipelines"][0]["tables"][0];
  EXPECT_EQ(logs["source"], "sh.log_1, sh.log_2");
  EXPECT_EQ(logs["missing"].size(), 1u) << logs.dump();
  EXPECT_EQ(logs["extra"].size(), 1u) << logs.dump();

  // A filter on the rule: rows it leaves out of any shard are extra, and the
  // rows are compared one by one (no checksums).
  WritePipeline("shards_filtered",
                "      - match: \"sh.orders_*\"\n"
                "        to: \"shm.orders\"\n"
                "        where: \"id <> 2\"\n");
  r = Check("shards_filtered", "--format json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  t = Json(r)["pipelines"][0]["tables"][0];
  EXPECT_EQ(Keys(t, "extra", "id"), (std::set<int64_t>{2, 801, 50000})) << t.dump();
  EXPECT_EQ(Keys(t, "missing", "id"), (std::set<int64_t>{7, 400, 100300})) << t.dump();

  WritePipeline("shards",
                "      - match: \"sh.orders_*\"\n"
                "        to: \"shm.orders\"\n"
                "      - match: \"sh.log_*\"\n"
                "        to: \"shm.log\"\n");
  r = Check("shards", "--repair");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\nrepaired 8 differences\n"), std::string::npos) << r.out;
  auto a = src_->Query(union_orders + " ORDER BY id");
  auto b = dst_->Query("SELECT * FROM shm.orders ORDER BY id");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(RowsToText(*a) == RowsToText(*b)) << a->size() << " source rows, " << b->size() << " on the target";
  a = src_->Query("SELECT * FROM sh.log_1 UNION ALL SELECT * FROM sh.log_2 ORDER BY at, what");
  b = dst_->Query("SELECT * FROM shm.log ORDER BY at, what");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(RowsToText(*a), RowsToText(*b));
}

// A shard that cannot be compared (its rule's column subset names a column
// it lacks): its rows are in the merged table too, so the others' check
// leaves rows only the target has alone instead of deleting that shard's.
TEST_F(CheckTest, AShardThatCannotBeComparedKeepsItsRowsInTheMergedTable) {
  ASSERT_TRUE(src_->Execute("CREATE DATABASE sh3; CREATE TABLE sh3.orders_1 (id INT PRIMARY KEY, v INT); "
                            "CREATE TABLE sh3.orders_2 (id INT PRIMARY KEY, w INT); "
                            "INSERT INTO sh3.orders_1 VALUES (1, 1), (3, 3); INSERT INTO sh3.orders_2 VALUES (2, 2)")
                  .ok());
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE sh3m; CREATE TABLE sh3m.orders (id INT PRIMARY KEY, v INT); "
                            "INSERT INTO sh3m.orders VALUES (1, 1), (2, 2)")
                  .ok());
  WritePipeline("shard_unchecked", "      - match: \"sh3.orders_*\"\n        to: \"sh3m.orders\"\n"
                                   "        columns: [id, v]\n");
  auto r = Check("shard_unchecked", "--repair --format json");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;  // sh3.orders_2 is not checked
  auto j = Json(r);
  bool noted = false;
  for (const auto& t : j["pipelines"][0]["tables"]) {
    if (t["source"] != "sh3.orders_1") continue;
    noted = t.value("note", "").find("sh3.orders_2, merged into this table by the same rule, is not checked") !=
            std::string::npos;
    EXPECT_EQ(Keys(t, "missing", "id"), (std::set<int64_t>{3})) << t.dump();
    EXPECT_TRUE(t["extra"].empty()) << t.dump();
  }
  EXPECT_TRUE(noted) << r.out;
  auto rows = dst_->QueryValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM sh3m.orders");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, "1,2,3");  // 3 repaired, 2 (sh3.orders_2's) kept
}

// Two pipelines writing one target table (shards on two sources, each with
// its own pipeline): a check of one cannot see the other's source, so it
// leaves the rows only the target has alone, says so, and its repair never
// deletes the other pipeline's rows.
TEST_F(CheckTest, ATableAnotherPipelineWritesKeepsItsRows) {
  ASSERT_TRUE(src_->Execute("CREATE DATABASE sh2; CREATE TABLE sh2.a (id INT PRIMARY KEY, v INT); "
                            "CREATE TABLE sh2.b (id INT PRIMARY KEY, v INT); "
                            "INSERT INTO sh2.a SELECT seq, seq FROM sh2.seq_1_to_50; "
                            "INSERT INTO sh2.b SELECT seq, seq FROM sh2.seq_51_to_100")
                  .ok());
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE shy; CREATE TABLE shy.t (id INT PRIMARY KEY, v INT); "
                            "INSERT INTO shy.t SELECT seq, seq FROM shy.seq_1_to_100 WHERE seq <> 5; "
                            "UPDATE shy.t SET v = 0 WHERE id = 6")
                  .ok());
  WriteConfig(fmt::format(R"(store: {dir}/sluice.db
sources:
  main: {{url: "{src}", server_id: 4343, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: pa
    source: main
    targets: [dst]
    chunk_rows: 10
    tables:
      - match: "sh2.a"
        to: "shy.t"
  - name: pb
    source: main
    targets: [dst]
    tables:
      - match: "sh2.b"
        to: "shy.t"
)",
                          fmt::arg("dir", dir_.string()), fmt::arg("src", src_->Url()), fmt::arg("dst", dst_->Url())));
  auto r = Check("pa", "--format json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto t = Json(r)["pipelines"][0]["tables"][0];
  EXPECT_EQ(t["note"], "rows only the target has are not looked for: pipeline pb writes this table too") << t.dump();
  EXPECT_EQ(Keys(t, "missing", "id"), (std::set<int64_t>{5})) << t.dump();
  EXPECT_EQ(Keys(t, "different", "id"), (std::set<int64_t>{6})) << t.dump();
  EXPECT_TRUE(t["extra"].empty()) << t.dump();

  r = Check("pa", "--repair");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": note: rows only the target has are not looked for: pipeline pb writes this table too\n"),
            std::string::npos)
      << r.out;
  auto rows = dst_->QueryValue("SELECT CONCAT(COUNT(*), ':', SUM(v)) FROM shy.t");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, "100:5050");  // pb's 50 rows are all still there
}

// Every value type, equal on both sides: the checksum path (same types), the
// row path (different but compatible types) and the filter path (always
// rows) must all find nothing.
TEST_F(CheckTest, EveryTypeEqualOnBothSidesIsConsistent) {
  const std::string columns =
      "a INT NOT NULL, b VARCHAR(10) NOT NULL, n INT NULL, d DECIMAL(12,3), dt DATETIME(3), ts TIMESTAMP(3) NULL, "
      "vb VARBINARY(20), bl BLOB, e ENUM('x','y','z'), j JSON, f FLOAT, dbl DOUBLE, bt BIT(12), dte DATE, "
      "tm TIME(2), yr YEAR, u BIGINT UNSIGNED, txt TEXT CHARACTER SET latin1, PRIMARY KEY (a, b)";
  const std::string wider =
      "a BIGINT NOT NULL, b VARCHAR(40) NOT NULL, n BIGINT NULL, d DECIMAL(12,3), dt DATETIME(3), "
      "ts TIMESTAMP(3) NULL, vb BLOB, bl LONGBLOB, e VARCHAR(5), j JSON, f FLOAT, dbl DOUBLE, bt BIT(12), "
      "dte DATE, tm TIME(2), yr YEAR, u BIGINT UNSIGNED, txt MEDIUMTEXT CHARACTER SET utf8mb4, PRIMARY KEY (a, b)";
  const std::string rows =
      "(1, 'a', NULL, '-12345.678', '2024-01-31 12:34:56.789', '2024-02-29 23:59:59.999', X'00FF2327', "
      "X'000102', 'y', '{\"k\": [1, 2.5, \"s\"]}', 1.25, -2.5e100, b'101010101010', '2024-01-31', '-838:59:59.99', "
      "2024, 18446744073709551615, 'café'), "
      "(1, 'b#', 0, '0.000', '1000-01-01 00:00:00.000', '1970-01-01 00:00:01.000', '', '', 'x', 'null', 0, 0, "
      "b'0', '1000-01-01', '00:00:00', 1901, 0, ''), "
      "(2, 'émoji😀', -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
      "(3, 'x', 7, '99.990', '9999-12-31 23:59:59.999', '2038-01-19 03:14:07.000', X'27', 'a#b', 'z', "
      "'{\"a\":{\"b\":null}}', -0.5, 3.141592653589793, b'111111111111', '9999-12-31', '838:59:59', 2155, 1, "
      "'x#y')";
  Both("CREATE DATABASE ty; SET time_zone = '+00:00'");
  ASSERT_TRUE(src_->Execute("CREATE TABLE ty.same (" + columns + "); CREATE TABLE ty.wider (" + columns +
                            "); CREATE TABLE ty.filt (" + columns + ")")
                  .ok());
  ASSERT_TRUE(dst_->Execute("CREATE TABLE ty.same (" + columns + "); CREATE TABLE ty.wider (" + wider +
                            "); CREATE TABLE ty.filt (" + columns + ")")
                  .ok());
  for (const char* t : {"same", "wider", "filt"}) {
    Both(
        fmt::format("SET NAMES utf8mb4; INSERT INTO ty.{} VALUES {}; "
                    "INSERT INTO ty.{} SELECT a + 10 * seq, b, n, d, dt, ts, vb, bl, e, j, f, dbl, bt, dte, tm, yr, "
                    "u, txt FROM ty.{}, ty.seq_1_to_60",
                    t, rows, t, t));
  }
  WritePipeline("types",
                "      - match: \"ty.same\"\n"
                "      - match: \"ty.wider\"\n"
                "      - match: \"ty.filt\"\n"
                "        where: \"a >= 0 OR n IS NULL\"\n");
  auto r = Check("types", "--format json");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  ASSERT_EQ(j["pipelines"][0]["tables"].size(), 3u) << r.out;
  for (const auto& t : j["pipelines"][0]["tables"]) EXPECT_EQ(t["rows"], 244) << t.dump();

  // And a real difference in any one column is found, on each path.
  ASSERT_TRUE(dst_->Execute("UPDATE ty.same SET ts = '2024-02-29 23:59:59.998' WHERE a = 1 AND b = 'a'; "
                            "UPDATE ty.wider SET vb = X'00FF2328' WHERE a = 1 AND b = 'a'; "
                            "UPDATE ty.filt SET j = '{\"a\":{\"b\":0}}' WHERE a = 3")
                  .ok());
  r = Check("types", "--format json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  j = Json(r);
  for (const auto& t : j["pipelines"][0]["tables"]) {
    EXPECT_EQ(t["different"].size(), 1u) << t.dump();
    EXPECT_TRUE(t["missing"].empty() && t["extra"].empty()) << t.dump();
  }
}

TEST_F(CheckTest, MissingTargetTableAndUnknownPipelineAreErrors) {
  Both("CREATE DATABASE er; CREATE TABLE er.present (id INT PRIMARY KEY); INSERT INTO er.present VALUES (1)");
  ASSERT_TRUE(src_->Execute("CREATE TABLE er.absent (id INT PRIMARY KEY); INSERT INTO er.absent VALUES (1)").ok());
  WritePipeline("errs", "      - match: \"er.*\"\n");
  auto r = Check("errs");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("sluice check: error: pipeline errs target dst table er.absent -> er.absent: target table "
                       "`er`.`absent` does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.out.find("er.present -> er.present: 1 rows in 1 chunks, 0 missing"), std::string::npos) << r.out;

  r = Check("nope");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no pipeline named \"nope\" (pipelines: errs)"), std::string::npos) << r.err;
}

// While `sluice run` streams a steady workload, a check sees rows that differ
// only because their change is in flight; it waits until the pipeline has
// applied past the source position and re-reads them.
TEST_F(CheckTest, LiveWorkloadDuringCheckIsConsistent) {
  Both(
      "CREATE DATABASE lv; CREATE TABLE lv.t (id INT PRIMARY KEY, v INT, s VARCHAR(20)); "
      "INSERT INTO lv.t SELECT seq, seq, CONCAT('s', seq) FROM lv.seq_1_to_2000");
  WritePipeline("live", "      - match: \"lv.*\"\n", "    batch: {size: 200, timeout_ms: 50}\n", BinlogEnd(*src_));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted());
  ASSERT_TRUE(src_->Execute("UPDATE lv.t SET v = -1 WHERE id = 1").ok());
  ASSERT_TRUE(Converges(*src_, "SELECT v FROM lv.t WHERE id = 1", *dst_, "SELECT v FROM lv.t WHERE id = 1",
                        std::chrono::seconds(20)));

  std::atomic<bool> stop{false};
  std::atomic<int> transactions{0};
  std::thread writer([&] {
    std::mt19937 rng(7);
    int next_id = 2001;
    while (!stop.load()) {
      std::string sql = "BEGIN;";
      for (int i = 0; i < 3; ++i) {
        int id = 1 + static_cast<int>(rng() % 2000);
        switch (rng() % 4) {
          case 0:
            sql += fmt::format("INSERT INTO lv.t VALUES ({}, 0, 'new');", next_id++);
            break;
          case 1:
            sql += fmt::format("DELETE FROM lv.t WHERE id = {};", id);
            break;
          default:
            sql += fmt::format("UPDATE lv.t SET v = v + 1, s = 'upd' WHERE id = {};", id);
            break;
        }
      }
      sql += "COMMIT";
      if (!src_->Execute(sql).ok()) break;
      ++transactions;
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = Check("live", "--format json --wait-seconds 20");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << sluice_->Log();
  auto j = Json(r);
  EXPECT_EQ(j["consistent"], true) << r.out;
  EXPECT_EQ(j["pipelines"][0]["caught_up"], true) << r.out;
  // A repair while the stream applies: it must never put an older row back
  // (the final comparison below would see it).
  ASSERT_TRUE(dst_->Execute("DELETE FROM lv.t WHERE id IN (1500, 1501); UPDATE lv.t SET s = 'planted' WHERE id "
                            "BETWEEN 1600 AND 1610")
                  .ok());
  r = Check("live", "--repair --format json --wait-seconds 20");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << sluice_->Log();
  stop = true;
  writer.join();
  EXPECT_GT(transactions.load(), 50);
  EXPECT_TRUE(Converges(*src_, "SELECT * FROM lv.t ORDER BY id", *dst_, "SELECT * FROM lv.t ORDER BY id",
                        std::chrono::seconds(20)));

  // The pipeline stops; a change it has not applied is a difference while
  // it stays stopped (and the check says it had not caught up)...
  sluice_->Kill();
  ASSERT_TRUE(src_->Execute("INSERT INTO lv.t VALUES (100000, 1, 'late')").ok());
  r = Check("live", "--wait-seconds 0.5");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("table lv.t -> lv.t: missing id=100000\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the pipeline had not caught up"), std::string::npos) << r.out;
  // ...and none once it resumes within the wait.
  CommandResult waited;
  std::thread check([&] { waited = Check("live", "--format json --wait-seconds 30"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  StartSluice();
  check.join();
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err << sluice_->Log();
  j = Json(waited);
  EXPECT_EQ(j["consistent"], true) << waited.out;
  EXPECT_GE(j["pipelines"][0]["in_flight"], 1) << waited.out;
  EXPECT_EQ(sluice_->Stop(), 0);
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

// A pipeline with a checkpoint that is not running: the check does not wait
// out --wait-seconds for it, it says the applied position stands still.
TEST_F(CheckTest, StoppedPipelineIsReportedWithoutWaitingItOut) {
  Both("CREATE DATABASE st; CREATE TABLE st.t (id INT PRIMARY KEY, v INT); "
       "INSERT INTO st.t SELECT seq, seq FROM st.seq_1_to_50");
  WritePipeline("stopped", "      - match: \"st.*\"\n", "    batch: {size: 50, timeout_ms: 50}\n", BinlogEnd(*src_));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted());
  ASSERT_TRUE(src_->Execute("UPDATE st.t SET v = -1 WHERE id = 1").ok());
  ASSERT_TRUE(Converges(*src_, "SELECT v FROM st.t WHERE id = 1", *dst_, "SELECT v FROM st.t WHERE id = 1",
                        std::chrono::seconds(20)));
  sluice_.reset();  // stopped, its checkpoint stays
  ASSERT_TRUE(src_->Execute("UPDATE st.t SET v = -2 WHERE id = 2").ok());

  auto started = std::chrono::steady_clock::now();
  auto r = Check("stopped", "--wait-seconds 120");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("different id=2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("applied position stood still"), std::string::npos) << r.out;
  EXPECT_LT(seconds, 60) << "waited out --wait-seconds";  // about 10 s (CheckOptions::stall)
}

}  // namespace
}  // namespace sluice::testing
