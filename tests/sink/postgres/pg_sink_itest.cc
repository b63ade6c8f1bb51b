// MySQL → PostgreSQL through `sluice run` with real servers: every type
// round-trips exactly, renames/subset/filter, DDL, on_error.

#include <fstream>

#include "pipeline/foreign_keys_fixture.h"
#include "sink/postgres/pg_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

TEST_F(PgSyncTest, EveryTypeRoundTripsExactly) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kTypesSchema).ok());
  PipelineOptions o;
  o.batch_size = 1000;
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  Status written = src_->Execute(kTypesRows);
  ASSERT_TRUE(written.ok()) << written.message();
  ASSERT_TRUE(src_->Execute("SET time_zone = '+00:00'").ok());
  EXPECT_TRUE(PgConverges(kTypesSource, kTypesTarget));
  EXPECT_TRUE(PgConverges("SELECT msg, n FROM shop.log ORDER BY msg, n", "SELECT msg, n FROM shop.log ORDER BY msg, n"));

  // The types of section 9, as created.
  auto types = PgQuery(
      "SELECT string_agg(column_name || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) "
      "FROM information_schema.columns c JOIN pg_attribute a ON a.attrelid = 'shop.types'::regclass AND "
      "a.attname = c.column_name WHERE table_schema = 'shop' AND table_name = 'types'");
  ASSERT_TRUE(types.ok()) << types.status().message();
  EXPECT_EQ((*types)[0][0].value_or(""),
            "id integer, ti smallint, tiu smallint, si smallint, siu integer, mi integer, miu integer, i integer, "
            "iu bigint, bi bigint, biu numeric(20,0), dc numeric(12,4), dcb numeric(30,10), f real, "
            "d double precision, dt date, dtm timestamp(3) without time zone, ts timestamp(6) with time zone, "
            "tm interval, y smallint, b bit varying(10), vc text, ch text, l1 text, tx text, bn bytea, vb bytea, "
            "bl bytea, js jsonb, en text, st text");
  auto pk = PgQuery("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
                    "a.attnum = ANY(i.indkey) WHERE i.indrelid = 'shop.types'::regclass AND i.indisprimary");
  ASSERT_TRUE(pk.ok());
  EXPECT_EQ(RowsToText(*pk), "id\n");

  // A large transaction goes through COPY and a staging table.
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.types (id, vc, biu, js, bl, tm) SELECT seq + 100, "
                            "CONCAT('row\\t', seq), seq, '{\"n\": 1}', 0x5C00, '-01:02:03' FROM seq_1_to_700")
                  .ok());
  ASSERT_TRUE(src_->Execute("USE shop; UPDATE shop.types SET d = id / 8 WHERE id > 100").ok());
  EXPECT_TRUE(PgConverges(kTypesSource, kTypesTarget));
  ASSERT_TRUE(src_->Execute("DELETE FROM shop.types WHERE id > 400").ok());
  EXPECT_TRUE(PgConverges(kTypesSource, kTypesTarget));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// MariaDB's UUID, INET4 and INET6 become PostgreSQL's uuid and inet, with
// the same values, whether a snapshot or the stream made the table.
TEST_F(PgSyncTest, MariadbUuidAndInetColumnsBecomeUuidAndInet) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  const std::string table = "(id INT PRIMARY KEY, u UUID, a4 INET4, a6 INET6)";
  const std::string rows = "(1, '6ccd780c-baba-1026-9564-5b8c656024db', '10.0.0.0', '2001:db8:0:0:1:0:0:1'), "
                           "(2, UUID(), NULL, '::ffff:1.2.3.4'), (3, NULL, '255.255.255.255', '::')";
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.pre " + table + "; INSERT INTO shop.pre VALUES " +
                            rows)
                  .ok());
  PipelineOptions o;
  o.start = "latest";
  o.extra = "    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(src_->Execute("CREATE TABLE shop.post " + table + "; INSERT INTO shop.post VALUES " + rows +
                            "; INSERT INTO shop.pre VALUES (4, UUID(), '1.2.3.4', 'fe80::1'); "
                            "UPDATE shop.pre SET a6 = '::1' WHERE id = 3")
                  .ok());
  for (const char* t : {"pre", "post"}) {
    const std::string q = fmt::format("SELECT id, u, a4, a6 FROM shop.{} ORDER BY id", t);
    EXPECT_TRUE(PgConverges(q, q)) << t;
    auto types = PgQuery(fmt::format("SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM "
                                     "pg_attribute WHERE attrelid = 'shop.{}'::regclass AND attnum > 0",
                                     t));
    ASSERT_TRUE(types.ok()) << types.status().message();
    EXPECT_EQ((*types)[0][0].value_or(""), "integer, uuid, inet, inet") << t;
  }
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSyncTest, RenamesSubsetAndFilter) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20), "
                            "price INT, secret VARCHAR(20))")
                  .ok());
  PipelineOptions o;
  o.tables =
      "      - match: \"shop.items\"\n"
      "        to: \"wh.goods\"\n"
      "        columns: [id, name, price]\n"
      "        rename_columns: {name: title}\n"
      "        where: \"price > 10\"\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.items VALUES (1, 'a', 5, 's'), (2, 'b', 15, 's'), (3, 'c', 25, 's'), "
                            "(4, 'd', 8, 's'), (5, 'e', 30, 's'); UPDATE shop.items SET price = 3 WHERE id = 2; "
                            "UPDATE shop.items SET price = 50 WHERE id = 1; UPDATE shop.items SET name = 'cc' WHERE "
                            "id = 3; DELETE FROM shop.items WHERE id = 5")
                  .ok());
  EXPECT_TRUE(PgConverges("SELECT id, name, price FROM shop.items WHERE price > 10 ORDER BY id",
                          "SELECT id, title, price FROM wh.goods ORDER BY id"));
  auto cols = PgQuery("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns "
                      "WHERE table_schema = 'wh' AND table_name = 'goods'");
  ASSERT_TRUE(cols.ok());
  EXPECT_EQ((*cols)[0][0].value_or(""), "id,title,price");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A source table that gains a primary key, and one that loses it. Before,
// the first stopped the target at its next update (upserts name the key in
// ON CONFLICT, and the PostgreSQL table had no such constraint: SQLSTATE
// 42P10), and the second at the next row repeating a key value (the
// PostgreSQL table kept its primary key: 23505).
TEST_F(PgSyncTest, APrimaryKeyAddedOrDroppedOnTheSourceFollows) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT NOT NULL, v INT); CREATE TABLE shop.b "
                            "(id INT PRIMARY KEY, v INT); INSERT INTO shop.a VALUES (1, 1), (2, 2), (3, 3); INSERT "
                            "INTO shop.b VALUES (1, 1), (2, 2), (3, 3)")
                  .ok());
  PipelineOptions o;
  o.tables = "      - match: \"shop.*\"\n";
  o.extra = "    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  const std::string a = "SELECT id, v FROM shop.a ORDER BY id, v", b = "SELECT id, v FROM shop.b ORDER BY id, v";
  EXPECT_TRUE(PgConverges(a, a));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.a ADD PRIMARY KEY (id); UPDATE shop.a SET v = 10 WHERE id = 1; "
                            "DELETE FROM shop.a WHERE id = 2; INSERT INTO shop.a VALUES (4, 4)")
                  .ok());
  EXPECT_TRUE(PgConverges(a, a));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.b DROP PRIMARY KEY; UPDATE shop.b SET v = 10 WHERE id = 1; "
                            "DELETE FROM shop.b WHERE id = 2; INSERT INTO shop.b VALUES (1, 5)")
                  .ok());
  EXPECT_TRUE(PgConverges(b, b));
  auto keys = PgQuery("SELECT string_agg(conrelid::regclass::text, ',' ORDER BY 1) FROM pg_constraint WHERE contype = "
                      "'p' AND connamespace = 'shop'::regnamespace");
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  EXPECT_EQ((*keys)[0][0].value_or(""), "shop.a");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A table keyed by a unique key (no primary key) whose unique key is
// dropped on the source: the primary key sluice made of it on PostgreSQL
// goes too. Before, it stayed and refused the first value the source now
// holds twice (23505), stopping the target for good.
TEST_F(PgSyncTest, AUniqueKeyDroppedOnTheSourceNoLongerRefusesRepeatedValues) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.c (code VARCHAR(10) NOT NULL, v INT, "
                            "UNIQUE KEY by_code (code)); INSERT INTO shop.c VALUES ('a', 1), ('b', 2)")
                  .ok());
  PipelineOptions o;
  o.tables = "      - match: \"shop.*\"\n";
  o.extra = "    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  const std::string c = "SELECT code, v FROM shop.c ORDER BY code, v";
  EXPECT_TRUE(PgConverges(c, c));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.c DROP INDEX by_code; INSERT INTO shop.c VALUES ('a', 3); "
                            "UPDATE shop.c SET v = 20 WHERE code = 'b'")
                  .ok());
  EXPECT_TRUE(PgConverges(c, c));
  auto keys = PgQuery("SELECT count(*) FROM pg_index WHERE indrelid = 'shop.c'::regclass AND indisunique");
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  EXPECT_EQ((*keys)[0][0].value_or(""), "0");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Shards merged into one PostgreSQL table: a TRUNCATE or DROP of one shard
// is not applied to the table the others' rows are in too.
TEST_F(PgSyncTest, TruncateOrDropOfAMergedShardKeepsTheOtherShardsRows) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute("CREATE DATABASE sh; CREATE TABLE sh.orders_1 (id INT PRIMARY KEY, v INT); "
                            "CREATE TABLE sh.orders_2 (id INT PRIMARY KEY, v INT)")
                  .ok());
  PipelineOptions o;
  o.tables = "      - match: \"sh.orders_*\"\n        to: \"wh.orders\"\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(src_->Execute("INSERT INTO sh.orders_1 VALUES (1, 1), (3, 3); INSERT INTO sh.orders_2 VALUES (2, 2)")
                  .ok());
  ASSERT_TRUE(PgConverges("SELECT 3", "SELECT COUNT(*) FROM wh.orders"));
  ASSERT_TRUE(src_->Execute("TRUNCATE TABLE sh.orders_2; DROP TABLE sh.orders_1; CREATE TABLE sh.orders_3 "
                            "(id INT PRIMARY KEY, v INT); INSERT INTO sh.orders_3 VALUES (4, 4)")
                  .ok());
  EXPECT_TRUE(PgConverges("SELECT '1,2,3,4'", "SELECT string_agg(id::text, ',' ORDER BY id) FROM wh.orders"));
  EXPECT_NE(sluice_->FullLog().find("`TRUNCATE TABLE sh.orders_2` is not applied to `wh.orders` on target dst"),
            std::string::npos)
      << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// CREATE TABLE ... SELECT: the CREATE sits inside the transaction of the
// copied rows (create_select_itest.cc); the table is made with its rows.
TEST_F(PgSyncTest, CreateTableSelectCarriesItsRows) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith({}));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  ASSERT_TRUE(src_->Execute("CREATE TABLE shop.big (id INT PRIMARY KEY) SELECT id, amount FROM shop.orders "
                            "WHERE amount > 0; INSERT INTO shop.orders VALUES (100, 1, 'n')")
                  .ok());
  const char* kBig = "SELECT id, amount FROM shop.big ORDER BY id";
  EXPECT_TRUE(PgConverges(kBig, kBig));
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A type change reaches a PostgreSQL table with the table's next rows
// (MySQL sends the statement, the rows carry the new type). Before, the
// pending change was kept in memory only: a restart between the statement
// and the table's next rows (a clean stop, an upgrade) lost it, and a
// value of the new range then stopped the pipeline.
TEST_F(PgSyncTest, ATypeChangeSurvivesARestartBeforeTheTablesNextRows) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith({}));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders MODIFY amount BIGINT NOT NULL; "
                            "INSERT INTO shop.audit VALUES (100, 'after the alter')")
                  .ok());
  EXPECT_TRUE(PgConverges(kAudit, kAudit));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith({}));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (100, 1099511627776, 'big')").ok());
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  auto type = PgQuery("SELECT data_type FROM information_schema.columns WHERE table_schema = 'shop' AND "
                      "table_name = 'orders' AND column_name = 'amount'");
  ASSERT_TRUE(type.ok());
  EXPECT_EQ((*type)[0][0].value_or(""), "bigint");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSyncTest, DdlAddDropRenameColumn) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith({}));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  EXPECT_TRUE(PgConverges(kOrders, kOrders));

  auto columns = [&] {
    auto c = PgQuery("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM "
                     "information_schema.columns WHERE table_schema = 'shop' AND table_name = 'orders'");
    return c.ok() && !c->empty() ? (*c)[0][0].value_or("") : c.status().message();
  };
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders ADD COLUMN extra DECIMAL(8,2) AFTER note, ADD INDEX (amount)").ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (100, 1, 'n', '12.50')").ok());
  EXPECT_TRUE(PgConverges("SELECT id, amount, note, extra FROM shop.orders ORDER BY id",
                          "SELECT id, amount, note, extra FROM shop.orders ORDER BY id"));
  EXPECT_EQ(columns(), "id:integer,amount:integer,note:text,extra:numeric");

  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders RENAME COLUMN note TO remark").ok());
  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET remark = 'renamed' WHERE id = 2").ok());
  EXPECT_TRUE(PgConverges("SELECT id, amount, remark, extra FROM shop.orders ORDER BY id",
                          "SELECT id, amount, remark, extra FROM shop.orders ORDER BY id"));

  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders DROP COLUMN amount").ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (101, 'after drop', NULL)").ok());
  EXPECT_TRUE(PgConverges("SELECT id, remark, extra FROM shop.orders ORDER BY id",
                          "SELECT id, remark, extra FROM shop.orders ORDER BY id"));
  EXPECT_EQ(columns(), "id:integer,remark:text,extra:numeric");

  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders MODIFY extra DECIMAL(12,4)").ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (102, 'wider', '12345678.1234')").ok());
  EXPECT_TRUE(PgConverges("SELECT id, remark, extra FROM shop.orders ORDER BY id",
                          "SELECT id, remark, extra FROM shop.orders ORDER BY id"));

  ASSERT_TRUE(src_->Execute("TRUNCATE TABLE shop.audit").ok());
  EXPECT_TRUE(PgConverges("SELECT COUNT(*) FROM shop.audit", "SELECT COUNT(*) FROM shop.audit"));
  // One statement dropping two selected tables drops both targets.
  ASSERT_TRUE(src_->Execute("CREATE TABLE shop.extra (id INT PRIMARY KEY); INSERT INTO shop.extra VALUES (1)").ok());
  EXPECT_TRUE(PgConverges("SELECT COUNT(*) FROM shop.extra", "SELECT COUNT(*) FROM shop.extra"));
  ASSERT_TRUE(src_->Execute("DROP TABLE shop.audit, shop.extra").ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        return PgQuery("SELECT to_regclass('shop.audit') IS NULL AND to_regclass('shop.extra') IS NULL")->at(0)[0] ==
               "t";
      },
      seconds(60)))
      << sluice_->Log();
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Columns an ALTER adds with a default (or NOT NULL, the type's implicit
// one): the rows PostgreSQL already holds read what the source's read.
// Before, they read NULL there (the column came with the next rows), a
// silent difference. A default the source evaluated (CURRENT_TIMESTAMP)
// cannot be known: a warning names `sluice check --repair`.
TEST_F(PgSyncTest, ColumnsAddedWithADefaultHoldItInTheRowsAlreadyThere) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.tables = "      - match: \"shop.orders\"\n        rename_columns: {note: remark}\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  EXPECT_TRUE(PgConverges(kOrders, "SELECT id, amount, remark FROM shop.orders ORDER BY id"));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders ADD COLUMN extra INT NOT NULL DEFAULT 7 AFTER amount, "
                            "ADD COLUMN label VARCHAR(10) NOT NULL DEFAULT 'it''s', ADD COLUMN n BIGINT NOT NULL, "
                            "ADD COLUMN size ENUM('small', 'large') NOT NULL, ADD COLUMN maybe INT DEFAULT NULL, "
                            "ADD COLUMN at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP")
                  .ok());
  // A TIMESTAMP default written in the session's time zone is that instant
  // (the target's TIMESTAMP values are UTC, as the stream's are), on a
  // server whose own time zone is not UTC either.
  ASSERT_TRUE(src_->Execute("SET GLOBAL time_zone = '+08:00'; SET time_zone = '+08:00'; "
                            "ALTER TABLE shop.orders ADD COLUMN since TIMESTAMP NOT NULL DEFAULT '2024-01-01 08:00:00'")
                  .ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders (id, amount, note, extra, label, n, size, maybe) VALUES "
                            "(100, 1, 'new', 3, 'x', 5, 'large', 8)")
                  .ok());
  EXPECT_TRUE(PgConverges("SELECT id, amount, extra, note, label, n, size, maybe FROM shop.orders ORDER BY id",
                          "SELECT id, amount, extra, remark, label, n, size, maybe FROM shop.orders ORDER BY id"));
  auto since = PgQuery("SELECT DISTINCT extract(epoch FROM since)::bigint FROM shop.orders WHERE id < 100");
  ASSERT_TRUE(since.ok()) << since.status().message();
  ASSERT_EQ(since->size(), 1u);
  EXPECT_EQ(since->at(0)[0], "1704067200");  // 2024-01-01 00:00:00 UTC
  ASSERT_TRUE(WaitForState("p", "running", seconds(10)));
  std::string events = PipelineStatus("p")["events"].dump();
  EXPECT_NE(events.find("column `at` added to `shop.orders`: its default is an expression"), std::string::npos)
      << events;
  EXPECT_NE(events.find("sluice check --repair"), std::string::npos) << events;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// An online schema change (pt-online-schema-change, gh-ost): the shadow
// copy with the new definition is swapped in by one RENAME of two tables,
// which stopped a PostgreSQL target ("several tables renamed in one
// statement"). The table is kept and takes the new columns: dropped, added
// with the value the copied rows hold, retyped.
TEST_F(PgSyncTest, AnOnlineSchemaChangeKeepsTheTableAndGivesItTheNewColumns) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.tables = "      - match: \"shop.orders\"\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  ASSERT_TRUE(src_->Execute("CREATE TABLE shop._orders_new LIKE shop.orders; "
                            "ALTER TABLE shop._orders_new ADD COLUMN extra INT NOT NULL DEFAULT 7, DROP COLUMN note, "
                            "MODIFY amount BIGINT NOT NULL; "
                            "INSERT INTO shop._orders_new (id, amount) SELECT id, amount FROM shop.orders; "
                            "RENAME TABLE shop.orders TO shop._orders_old, shop._orders_new TO shop.orders; "
                            "DROP TABLE shop._orders_old; "
                            "INSERT INTO shop.orders VALUES (100, 9000000000, 3); UPDATE shop.orders SET extra = 8 "
                            "WHERE id = 2")
                  .ok());
  const char* orders = "SELECT id, amount, extra FROM shop.orders ORDER BY id";
  EXPECT_TRUE(PgConverges(orders, orders));
  auto columns = PgQuery("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM "
                         "information_schema.columns WHERE table_schema = 'shop' AND table_name = 'orders'");
  ASSERT_TRUE(columns.ok()) << columns.status().message();
  EXPECT_EQ((*columns)[0][0].value_or(""), "id:integer,amount:bigint,extra:integer");
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Tables archived in one statement (not a swap): each pair renamed in order;
// before, the statement stopped a PostgreSQL target.
TEST_F(PgSyncTest, SeveralTablesRenamedInOneStatementKeepTheirRows) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(PipelineOptions{}));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  ASSERT_TRUE(src_->Execute("RENAME TABLE shop.orders TO shop.orders_2024, shop.audit TO shop.audit_2024; "
                            "CREATE TABLE shop.orders LIKE shop.orders_2024; "
                            "INSERT INTO shop.orders VALUES (1, 1, 'new'); "
                            "UPDATE shop.orders_2024 SET amount = 99 WHERE id = 3; "
                            "INSERT INTO shop.audit_2024 VALUES (100, 'late')")
                  .ok());
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  const char* archived = "SELECT id, amount, note FROM shop.orders_2024 ORDER BY id";
  EXPECT_TRUE(PgConverges(archived, archived));
  const char* audit = "SELECT txn, msg FROM shop.audit_2024 ORDER BY txn, msg";
  EXPECT_TRUE(PgConverges(audit, audit));
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A NUL byte in text: on_error stop names pipeline, target, table, key and
// position, and leaves everything before the transaction applied.
// Foreign key actions of a MySQL source (logged nowhere: the server changes
// the child rows inside InnoDB) redone on a PostgreSQL target, in order
// with the changes around them: the target keeps no child row the source
// lost, follows a changed key, and leaves what a statement run with
// foreign_key_checks=0 left.
TEST_F(PgSyncTest, ForeignKeyActionsOfTheSourceAreRedone) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_TRUE(src_->Execute(kShopKeys).ok());
  ASSERT_TRUE(FillShopWithKeys(*src_).ok());
  PipelineOptions o;
  o.parallel = 4;
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  auto all_converge = [&]() -> ::testing::AssertionResult {
    for (const std::string& t : kForeignKeyTables) {
      const std::string q = fmt::format("SELECT * FROM shop.{} ORDER BY 1, 2", t);
      auto same = PgConverges(q, q);
      if (!same) return same;
    }
    return ::testing::AssertionSuccess();
  };
  ASSERT_TRUE(all_converge());
  ASSERT_TRUE(ChangeShopParents(*src_).ok());
  EXPECT_TRUE(PgConverges(kAudit, kAudit));  // (made at its first row)
  EXPECT_TRUE(all_converge());
  auto kept = PgQuery("SELECT string_agg(id::text, ',' ORDER BY id) FROM shop.categories");
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_EQ((*kept)[0][0].value_or("NULL"), "1,20,98,99");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSyncTest, NulByteStopsNamingTheRow) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith({}));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (1, 1, 'fine')").ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (2, 2, CONCAT('a', CHAR(0), 'b'))").ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (3, 3, 'later')").ok());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(60), "dst"));
  std::string error = ErrorText(PipelineStatus("p"));
  for (const char* part : {"pipeline p", "target dst", "\"shop\".\"orders\"", "id='2'", "@ binlog.", "NUL byte"}) {
    EXPECT_NE(error.find(part), std::string::npos) << part << " not in: " << error;
  }
  auto rows = PgQuery("SELECT id, note FROM shop.orders ORDER BY id");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(RowsToText(*rows), "1|fine\n");
}

// A zero date: on_error skip logs the row and goes on; nothing is altered.
TEST_F(PgSyncTest, ZeroDateSkippedToSkipLog) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.events (id INT PRIMARY KEY, d DATE, "
                            "t DATETIME)")
                  .ok());
  PipelineOptions o;
  std::string skip_log = (dir_ / "skipped.jsonl").string();
  o.extra = "    on_error: skip\n    skip_log: " + skip_log + "\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(src_->Execute("SET SESSION sql_mode = ''; INSERT INTO shop.events VALUES (1, '2024-01-01', NULL); "
                            "INSERT INTO shop.events VALUES (2, '0000-00-00', NULL), (3, '2024-03-01', "
                            "'0000-00-00 00:00:00'), (4, '2024-04-01', '2024-04-01 10:00:00'); SET SESSION sql_mode = "
                            "DEFAULT")
                  .ok());
  EXPECT_TRUE(PgConverges("SELECT id, d, t FROM shop.events WHERE id IN (1, 4) ORDER BY id",
                          "SELECT id, d, t FROM shop.events ORDER BY id"));
  ASSERT_TRUE(WaitUntil([&] { return FileSize(skip_log) > 0 && TailOfFile(skip_log).find("id='3'") != std::string::npos; },
                        seconds(30)));
  std::string log = TailOfFile(skip_log);
  EXPECT_NE(log.find("0000-00-00"), std::string::npos) << log;
  EXPECT_NE(log.find("id='2'"), std::string::npos) << log;
  EXPECT_NE(log.find("id='3'"), std::string::npos) << log;
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
