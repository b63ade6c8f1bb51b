// Schema changes of a PostgreSQL source (which sends no DDL; the pgoutput
// Relation messages show them) under a running `sluice run` into a
// PostgreSQL and a MariaDB target: added columns reach both, with the
// default older rows read, rows before the change keep the old column list
// and rows after it fill the new columns, also within one transaction and
// across a restart after changes made while sluice was down; widened
// columns are widened on every target. A dropped column, or one retyped
// otherwise, stops the pipeline with an error naming the table, the commit
// LSN, the change and what to do. TRUNCATE keeps its place too.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "pipeline/pg_source_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

class PgSchemaChangeTest : public PgSourceTest {
 protected:
  ::testing::AssertionResult ItemsConverge() {
    return Converge("SELECT id, name, qty, note, flag::int, extra FROM items ORDER BY id",
                    "SELECT id, name, qty, note, flag::int, extra FROM public.items ORDER BY id",
                    "SELECT id, name, qty, note, flag, extra FROM public.items ORDER BY id");
  }
  // The pipeline's last_error once it failed.
  std::string FailedWith() {
    auto failed = WaitForState("p", "failed", 60s);
    if (!failed) return ::testing::AssertionResult(failed).message();
    return PipelineStatus("p").value("last_error", "");
  }
};

TEST_F(PgSchemaChangeTest, AddedColumnsReachBothTargetsWithTheirDefaults) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, name text)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  Sql("INSERT INTO items VALUES (1, 'a'), (2, 'b')");
  EXPECT_TRUE(Converge("SELECT id, name FROM items ORDER BY id", "SELECT id, name FROM public.items ORDER BY id",
                       "SELECT id, name FROM public.items ORDER BY id"));

  // In one transaction: a row of the old shape, the change, rows of the new.
  Sql("BEGIN; INSERT INTO items VALUES (3, 'c');"
      "ALTER TABLE items ADD COLUMN qty int DEFAULT 5, ADD COLUMN note text;"
      "INSERT INTO items VALUES (4, 'd', 7, 'x'); UPDATE items SET note = 'upd' WHERE id = 1; COMMIT");
  // On its own, then rows that use it.
  Sql("ALTER TABLE items ADD COLUMN flag boolean NOT NULL DEFAULT true");
  Sql("UPDATE items SET qty = qty + 1, flag = false WHERE id = 2; INSERT INTO items VALUES (5, 'e', NULL, NULL, "
      "false)");
  EXPECT_TRUE(Converge("SELECT id, name, qty, note, flag::int FROM items ORDER BY id",
                       "SELECT id, name, qty, note, flag::int FROM public.items ORDER BY id",
                       "SELECT id, name, qty, note, flag FROM public.items ORDER BY id"));
  // Rows the targets held before the change read the source's default.
  auto qty = my_->QueryValue("SELECT qty FROM public.items WHERE id = 3");
  EXPECT_TRUE(qty.ok() && *qty == "5") << (qty.ok() ? *qty : qty.status().message());

  // A column added while sluice is down, with rows before and after it.
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  Sql("INSERT INTO items VALUES (6, 'f'); ALTER TABLE items ADD COLUMN extra numeric(6,2) DEFAULT 1.5;"
      "INSERT INTO items VALUES (7, 'g', 1, 'y', true, 2.25); UPDATE items SET extra = 3 WHERE id = 1");
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(ItemsConverge());
  Sql("INSERT INTO items VALUES (8, 'h', 2, 'z', false, 4.75)");
  EXPECT_TRUE(ItemsConverge());
  EXPECT_EQ(PipelineStatus("p").value("state", ""), "running");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// TRUNCATE reaches both targets in its place: rows inserted before it in
// its transaction go, rows after it stay.
TEST_F(PgSchemaChangeTest, TruncateInTheMiddleOfATransaction) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, name text)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  Sql("INSERT INTO items VALUES (1, 'a')");
  EXPECT_TRUE(Converge("SELECT id, name FROM items ORDER BY id", "SELECT id, name FROM public.items ORDER BY id",
                       "SELECT id, name FROM public.items ORDER BY id"));
  Sql("BEGIN; INSERT INTO items VALUES (2, 'b'); TRUNCATE items; INSERT INTO items VALUES (3, 'c'); COMMIT");
  EXPECT_TRUE(Converge("SELECT id, name FROM items ORDER BY id", "SELECT id, name FROM public.items ORDER BY id",
                       "SELECT id, name FROM public.items ORDER BY id"));
  EXPECT_EQ(Value("SELECT count(*) FROM public.items", "target"), "1");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Log targets carry the new shape: the rows after the change have the
// column, the rows before it do not; the statement sits between them.
TEST_F(PgSchemaChangeTest, AFileTargetCarriesTheNewShape) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, name text)");
  http_port_ = FreePort();
  const std::string file = (dir_ / "changes.jsonl").string();
  WriteConfig(fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  src: {{url: "{src}"}}
targets:
  out: {{url: "file://{file}", format: json}}
pipelines:
  - name: p
    source: src
    targets: [out]
    tables:
      - match: "public.items"
    batch: {{size: 100, timeout_ms: 50}}
)",
                          fmt::arg("dir", dir_.string()), fmt::arg("port", http_port_),
                          fmt::arg("src", pg_->Url("repl", "s3cret", "shop")), fmt::arg("file", file)));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", 30s));
  Sql("BEGIN; INSERT INTO items VALUES (1, 'a'); ALTER TABLE items ADD COLUMN qty int DEFAULT 5;"
      "INSERT INTO items VALUES (2, 'b', 7); COMMIT");
  std::vector<nlohmann::json> lines = WaitJsonLines(file, 3);
  ASSERT_EQ(lines.size(), 3u) << sluice_->Log();
  EXPECT_EQ(lines[0]["after"], nlohmann::json::parse(R"({"id":1,"name":"a"})")) << lines[0].dump();
  // The statement, in its place, at the transaction's commit LSN.
  EXPECT_EQ(lines[1]["op"], "ddl");
  EXPECT_EQ(lines[1]["ddl"], "ALTER TABLE `public`.`items` ADD COLUMN `qty` int NULL DEFAULT (5)");
  EXPECT_EQ(lines[1]["pos"], lines[0]["pos"]);
  EXPECT_EQ(lines[2]["after"], nlohmann::json::parse(R"({"id":2,"name":"b","qty":7})")) << lines[2].dump();
  EXPECT_EQ(lines[0]["pos"], lines[2]["pos"]);
  EXPECT_EQ(PipelineStatus("p").value("state", ""), "running");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSchemaChangeTest, ADroppedColumnStopsThePipelineSayingWhatToDo) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, name text, qty int)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  Sql("INSERT INTO items VALUES (1, 'a', 1)");
  EXPECT_TRUE(Converge("SELECT id, name, qty FROM items ORDER BY id",
                       "SELECT id, name, qty FROM public.items ORDER BY id",
                       "SELECT id, name, qty FROM public.items ORDER BY id"));
  Sql("ALTER TABLE items DROP COLUMN name");
  Sql("INSERT INTO items VALUES (2, 2)");
  std::string lsn = Value("SELECT pg_current_wal_lsn()");
  std::string error = FailedWith();
  EXPECT_NE(error.find("table \"public\".\"items\" changed @ 0/"), std::string::npos) << error;
  EXPECT_NE(error.find(": column \"name\" dropped. PostgreSQL sends no DDL"), std::string::npos) << error;
  EXPECT_NE(error.find("To go on: change every target table of \"public\".\"items\" to match the source"),
            std::string::npos)
      << error;
  EXPECT_NE(sluice_->FullLog().find("pipeline p: capture stopped: "), std::string::npos) << sluice_->Log();
  // Nothing of the new shape was applied.
  EXPECT_EQ(Value("SELECT count(*) FROM public.items", "target"), "1");
  (void)lsn;
}

// Tables renamed by a rule (`to:`), one also a column subset: added
// columns reach the renamed tables of both targets with their defaults; a
// column outside the subset changes nothing.
TEST_F(PgSchemaChangeTest, AddedColumnsReachRenamedAndSubsetTables) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, name text); CREATE TABLE parts (id int PRIMARY KEY, name text)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline("      - match: \"public.items\"\n        to: \"shop.goods\"\n"
                                        "      - match: \"public.parts\"\n        to: \"shop.pieces\"\n"
                                        "        columns: [id, name]\n"));
  Sql("INSERT INTO items VALUES (1, 'a'); INSERT INTO parts VALUES (1, 'p')");
  EXPECT_TRUE(Converge("SELECT id, name FROM items ORDER BY id", "SELECT id, name FROM shop.goods ORDER BY id",
                       "SELECT id, name FROM shop.goods ORDER BY id"));
  Sql("BEGIN; ALTER TABLE items ADD COLUMN qty int DEFAULT 5, ADD COLUMN note text;"
      "INSERT INTO items VALUES (2, 'b', 7, 'x'); COMMIT");
  Sql("ALTER TABLE parts ADD COLUMN qty int DEFAULT 3; INSERT INTO parts VALUES (2, 'q', 4)");
  EXPECT_TRUE(Converge("SELECT id, name, qty, note FROM items ORDER BY id",
                       "SELECT id, name, qty, note FROM shop.goods ORDER BY id",
                       "SELECT id, name, qty, note FROM shop.goods ORDER BY id"));
  EXPECT_TRUE(Converge("SELECT id, name FROM parts ORDER BY id", "SELECT id, name FROM shop.pieces ORDER BY id",
                       "SELECT id, name FROM shop.pieces ORDER BY id"));
  auto cols = my_->QueryValue("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND "
                              "TABLE_NAME = 'pieces'");
  EXPECT_TRUE(cols.ok() && *cols == "2") << (cols.ok() ? *cols : cols.status().message());
  EXPECT_EQ(PipelineStatus("p").value("state", ""), "running") << PipelineStatus("p").dump();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Into ClickHouse and Redis (hash mode): the columns are added at the
// change, and the rows the targets held before it read the source's
// default: ClickHouse computes the column's DEFAULT for its older parts;
// Redis gets the field set in the table's existing hashes. A column added
// without a default stays NULL (absent from the hashes). A dropped column
// then stops the pipeline as it does for every target.
TEST_F(PgSchemaChangeTest, AddedColumnsReachClickhouseAndRedisWithTheirDefaults) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_NO_FATAL_FAILURE(StartClickhouseAndRedis());
  Sql("CREATE TABLE items (id int PRIMARY KEY, name text)");
  ASSERT_NO_FATAL_FAILURE(WritePipeline("      - match: \"public.items\"\n", "", 2, "[ch, cache]",
                                        fmt::format("  ch: {{url: \"{}\"}}\n  cache: {{url: \"{}\"}}\n",
                                                    ch_->Url("default"), redis_->Url(0))));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", 60s)) << sluice_->Log();
  Sql("INSERT INTO items VALUES (1, 'a'), (2, 'b')");
  ASSERT_TRUE(WaitUntil([&] { return RedisHash("public:items:2")["name"] == "b"; }, 60s)) << sluice_->Log();

  Sql("BEGIN; INSERT INTO items VALUES (3, 'c');"
      "ALTER TABLE items ADD COLUMN qty int DEFAULT 5, ADD COLUMN note text,"
      " ADD COLUMN flag boolean NOT NULL DEFAULT true, ADD COLUMN d date DEFAULT '2024-02-29',"
      " ADD COLUMN price numeric(6,2) DEFAULT 1.5;"
      "INSERT INTO items VALUES (4, 'd', 7, 'x', false, '2001-02-03', 2.25); COMMIT");
  // On its own (the stream shows it with the next change of the table).
  Sql("ALTER TABLE items ADD COLUMN code varchar(8) DEFAULT 'k:1'");
  Sql("UPDATE items SET name = 'b2' WHERE id = 2");

  const std::string want =
      PgRows("SELECT id, name, qty, note, flag::int, d, price, code FROM items ORDER BY id", "shop");
  std::string got;
  EXPECT_TRUE(WaitUntil(
      [&] {
        got = ClickhouseRows(
            "SELECT id, name, qty, note, flag, d, price, code FROM public.items FINAL WHERE _sign = 1 ORDER BY id");
        return got == want;
      },
      60s))
      << RowsDiff(want, got) << sluice_->Log();
  // Merged into one part (the defaults written into the older rows' data):
  // the same values.
  auto merged = ch_->Query("OPTIMIZE TABLE public.items FINAL");
  EXPECT_TRUE(merged.ok()) << merged.status().message();
  EXPECT_EQ(ClickhouseRows("SELECT id, name, qty, note, flag, d, price, code FROM public.items FINAL WHERE _sign = 1 "
                           "ORDER BY id"),
            want);
  using Fields = std::map<std::string, std::string>;
  EXPECT_TRUE(WaitUntil([&] { return RedisHash("public:items:2")["name"] == "b2"; }, 60s)) << sluice_->Log();
  EXPECT_EQ(RedisHash("public:items:1"), (Fields{{"id", "1"}, {"name", "a"}, {"qty", "5"}, {"flag", "true"},
                                                 {"d", "2024-02-29"}, {"price", "1.50"}, {"code", "k:1"}}));
  EXPECT_EQ(RedisHash("public:items:3"), (Fields{{"id", "3"}, {"name", "c"}, {"qty", "5"}, {"flag", "true"},
                                                 {"d", "2024-02-29"}, {"price", "1.50"}, {"code", "k:1"}}));
  EXPECT_EQ(RedisHash("public:items:4"), (Fields{{"id", "4"}, {"name", "d"}, {"qty", "7"}, {"note", "x"},
                                                 {"flag", "false"}, {"d", "2001-02-03"}, {"price", "2.25"},
                                                 {"code", "k:1"}}));
  EXPECT_EQ(RedisKeyCount("public:items:*"), 4u);

  Sql("ALTER TABLE items DROP COLUMN note; INSERT INTO items VALUES (5, 'e')");
  std::string error = FailedWith();
  EXPECT_NE(error.find("table \"public\".\"items\" changed @ 0/"), std::string::npos) << error;
  EXPECT_NE(error.find(": column \"note\" dropped. PostgreSQL sends no DDL"), std::string::npos) << error;
  EXPECT_EQ(ClickhouseRows("SELECT count() FROM public.items FINAL WHERE _sign = 1"), "4\n");
  EXPECT_EQ(RedisKeyCount("public:items:*"), 4u);
}

// An ordinary widening (varchar(10) → varchar(20), an int key running out
// → bigint, numeric with more digits, more fractional seconds) stopped the
// pipeline. Now every target follows it, converting the rows it holds (a
// MariaDB, a PostgreSQL and a ClickHouse target here; a renamed subset
// below); other changes still stop, naming the change.
TEST_F(PgSchemaChangeTest, AWidenedColumnIsFollowedAndARetypedOneStopsThePipeline) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_NO_FATAL_FAILURE(StartClickhouseAndRedis());
  Sql("CREATE TABLE items (id int PRIMARY KEY, code varchar(10), price numeric(6,2), other text)");
  ASSERT_NO_FATAL_FAILURE(WritePipeline("      - match: \"public.items\"\n", "", 2, "[pg, my, ch]",
                                        fmt::format("  ch: {{url: \"{}\"}}\n", ch_->Url("default"))));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", 60s)) << sluice_->Log();
  Sql("INSERT INTO items VALUES (1, 'a', 1.5, 'x')");
  const char* kSource = "SELECT id, code, price FROM items ORDER BY id";
  const char* kTarget = "SELECT id, code, price FROM public.items ORDER BY id";
  ASSERT_TRUE(Converge(kSource, kTarget, kTarget));
  Sql("BEGIN; INSERT INTO items VALUES (2, 'b', 2, 'y');"
      "ALTER TABLE items ALTER COLUMN code TYPE varchar(20), ALTER COLUMN id TYPE bigint,"
      " ALTER COLUMN price TYPE numeric(12,3);"
      "INSERT INTO items VALUES (10000000000, 'a much longer code', 123456789.125, 'z'); COMMIT");
  Sql("UPDATE items SET code = 'fifteen letters' WHERE id = 1");
  EXPECT_TRUE(Converge(kSource, kTarget, kTarget));
  const std::string want = PgRows(kSource, "shop");
  std::string got;
  EXPECT_TRUE(WaitUntil(
      [&] {
        got = ClickhouseRows("SELECT id, code, price FROM public.items FINAL WHERE _sign = 1 ORDER BY id");
        return got == want;
      },
      60s))
      << RowsDiff(want, got) << sluice_->Log();
  auto types = ch_->Query("SELECT name, type FROM system.columns WHERE database = 'public' AND table = 'items' AND "
                          "name IN ('id', 'price') ORDER BY name FORMAT TabSeparated");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ(*types, "id\tInt64\nprice\tNullable(Decimal(12, 3))\n");
  auto column = my_->QueryValue("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'public' AND "
                                "TABLE_NAME = 'items' AND COLUMN_NAME = 'id'");
  ASSERT_TRUE(column.ok());
  EXPECT_EQ(*column, "bigint(20)");

  Sql("ALTER TABLE items ALTER COLUMN other TYPE varchar(5); INSERT INTO items VALUES (3, 'c', 1, 'w')");
  std::string error = FailedWith();
  EXPECT_NE(error.find(": column \"other\" changed type from text to character varying(5), which sluice follows "
                       "only when it widens"),
            std::string::npos)
      << error;
}

// The same into a table the rules rename and subset, with more fractional
// seconds too.
TEST_F(PgSchemaChangeTest, AWidenedColumnReachesARenamedSubsetTable) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, code varchar(10), at timestamp(0), other varchar(10))");
  ASSERT_NO_FATAL_FAILURE(StartPipeline("      - match: \"public.items\"\n        to: \"shop.goods\"\n"
                                        "        columns: [id, code, at]\n"));
  Sql("INSERT INTO items VALUES (1, 'a', '2024-01-01 10:00:00', 'x')");
  const char* kSource = "SELECT id, code, to_char(at, 'YYYY-MM-DD HH24:MI:SS.US') FROM items ORDER BY id";
  const char* kPg = "SELECT id, code, to_char(at, 'YYYY-MM-DD HH24:MI:SS.US') FROM shop.goods ORDER BY id";
  const char* kMy = "SELECT id, code, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f') FROM shop.goods ORDER BY id";
  ASSERT_TRUE(Converge(kSource, kPg, kMy));
  Sql("ALTER TABLE items ALTER COLUMN code TYPE varchar(30), ALTER COLUMN id TYPE bigint, "
      "ALTER COLUMN at TYPE timestamp(3), ALTER COLUMN other TYPE varchar(200); "
      "INSERT INTO items VALUES (10000000000, 'a much longer code', '2024-01-01 10:00:00.25', 'y')");
  EXPECT_TRUE(Converge(kSource, kPg, kMy));
  auto column = my_->QueryValue("SELECT GROUP_CONCAT(COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM "
                                "information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'goods'");
  ASSERT_TRUE(column.ok());
  EXPECT_EQ(*column, "bigint(20),varchar(30),datetime(3)");
  EXPECT_EQ(PipelineStatus("p").value("state", ""), "running") << PipelineStatus("p").dump();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
