#include "sink/mysql/sql_builder.h"

#include <gtest/gtest.h>

namespace sluice::sink::mysql {
namespace {

std::string Lit(const Value& v) {
  std::string s;
  EXPECT_TRUE(AppendLiteral(s, v).ok());
  return s;
}

TEST(SqlBuilderTest, Literals) {
  EXPECT_EQ(Lit(Value::Null()), "NULL");
  EXPECT_EQ(Lit(Value::Int(-9223372036854775807ll - 1)), "-9223372036854775808");
  EXPECT_EQ(Lit(Value::UInt(18446744073709551615ull)), "18446744073709551615");
  EXPECT_EQ(Lit(Value::Str(ValueKind::kDecimal, "-12.50")), "-12.50");
  // FLOAT as the float's exact value (a FLOAT column compares as DOUBLE, so
  // "1.1" would not match the stored 1.100000023841858), DOUBLE shortest;
  // both with an exponent, read by the server as DOUBLE, not DECIMAL.
  EXPECT_EQ(Lit(Value::Float(1.1f)), "1.100000023841858e0");
  EXPECT_EQ(Lit(Value::Double(0.1)), "0.1e0");
  EXPECT_EQ(Lit(Value::Double(1e-300)), "1e-300");
  EXPECT_EQ(Lit(Value::Str(ValueKind::kText, std::string_view("it's \\ \n\0x", 10))), "'it\\'s \\\\ \\n\\0x'");
  EXPECT_EQ(Lit(Value::Str(ValueKind::kBytes, std::string_view("\x00\xff", 2))), "x'00ff'");
  EXPECT_EQ(Lit(Value::Str(ValueKind::kDateTime, "2024-01-31 12:34:56.789")), "'2024-01-31 12:34:56.789'");
  EXPECT_EQ(Lit(Value::Str(ValueKind::kGeometry, std::string_view("\x01", 1))), "ST_GeomFromWKB(x'01')");
  std::string s;
  EXPECT_FALSE(AppendLiteral(s, Value::Absent()).ok());
}

TEST(SqlBuilderTest, Identifiers) {
  std::string s;
  AppendIdentifier(s, "we`ird");
  EXPECT_EQ(s, "`we``ird`");
}

struct Fixture {
  std::shared_ptr<TargetTable> t = std::make_shared<TargetTable>();
  std::vector<SinkChange> rows;
  std::vector<const SinkChange*> ptrs;
  Fixture(std::vector<uint32_t> key) {
    t->db = "shop";
    t->table = "orders";
    t->columns = {"id", "region", "status"};
    t->key = std::move(key);
    for (int i = 1; i <= 2; ++i) {
      SinkChange c;
      c.table = t;
      c.values = {Value::Int(i), Value::Str(ValueKind::kText, "eu"), Value::Str(ValueKind::kText, "new")};
      rows.push_back(c);
    }
    for (auto& r : rows) ptrs.push_back(&r);
  }
};

TEST(SqlBuilderTest, UpsertAndDelete) {
  Fixture f({0});
  std::string up;
  ASSERT_TRUE(BuildUpsert(up, *f.t, f.ptrs).ok());
  EXPECT_EQ(up,
            "INSERT INTO `shop`.`orders` (`id`,`region`,`status`) VALUES (1,'eu','new'),(2,'eu','new') "
            "ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`region`=VALUES(`region`),`status`=VALUES(`status`)");
  std::string del;
  ASSERT_TRUE(BuildDelete(del, *f.t, f.ptrs).ok());
  EXPECT_EQ(del, "DELETE FROM `shop`.`orders` WHERE `id` IN (1,2)");
}

// PostgreSQL's unchanged TOASTed values: the row keeps them (an UPDATE of
// what came, after the full rows), never NULL.
TEST(SqlBuilderTest, PartialUpsertsUpdateOnlyTheirValues) {
  Fixture f({0});
  f.rows[1].op = Op::kUpdate;
  f.rows[1].values[1] = Value::Absent();
  std::string up;
  ASSERT_TRUE(BuildUpsert(up, *f.t, f.ptrs).ok());
  EXPECT_EQ(up,
            "INSERT INTO `shop`.`orders` (`id`,`region`,`status`) VALUES (1,'eu','new') "
            "ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`region`=VALUES(`region`),`status`=VALUES(`status`);"
            "UPDATE `shop`.`orders` SET `status`='new' WHERE `id`=2");
  std::string rep;
  f.rows[0].values[2] = Value::Absent();
  ASSERT_TRUE(BuildReplace(rep, *f.t, f.ptrs).ok());
  EXPECT_EQ(rep,
            "UPDATE `shop`.`orders` SET `region`='eu' WHERE `id`=1;"
            "UPDATE `shop`.`orders` SET `status`='new' WHERE `id`=2");
}

// An insert under a MINIMAL row image: the columns its statement did not
// set take the target's DEFAULT, in the upsert and in the keyless insert;
// it is whole, not partial.
TEST(SqlBuilderTest, AbsentValuesOfAMinimalInsertAreTheTargetsDefaults) {
  Fixture f({0});
  f.rows[1].values[1] = Value::Absent();
  f.rows[1].absent_means_default = true;
  EXPECT_FALSE(IsPartial(f.rows[1]));
  std::string up;
  ASSERT_TRUE(BuildUpsert(up, *f.t, f.ptrs).ok());
  EXPECT_EQ(up,
            "INSERT INTO `shop`.`orders` (`id`,`region`,`status`) VALUES (1,'eu','new'),(2,DEFAULT,'new') "
            "ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`region`=VALUES(`region`),`status`=VALUES(`status`)");
  Fixture keyless({});
  keyless.rows[0].values[2] = Value::Absent();
  keyless.rows[0].absent_means_default = true;
  std::string ins;
  ASSERT_TRUE(BuildInsert(ins, *keyless.t, keyless.ptrs).ok());
  EXPECT_EQ(ins, "INSERT INTO `shop`.`orders` (`id`,`region`,`status`) VALUES (1,'eu',DEFAULT),(2,'eu','new')");
  // Without the mark an absent value in a whole row is an error, never NULL.
  keyless.rows[0].absent_means_default = false;
  std::string bad;
  EXPECT_FALSE(BuildInsert(bad, *keyless.t, keyless.ptrs).ok());
}

// Tables for a PostgreSQL source's columns, and its booleans as 1/0.
TEST(SqlBuilderTest, CreateTableAndBooleansForPostgresColumns) {
  auto schema = std::make_shared<TableSchema>();
  auto col = [](std::string name, uint8_t type, uint32_t oid, int32_t typmod, uint16_t meta, bool nullable) {
    ColumnMeta c;
    c.name = std::move(name);
    c.type = type;
    c.pg_type_oid = oid;
    c.pg_typmod = typmod;
    c.meta = meta;
    c.nullable = nullable;
    c.charset = Charset::kUtf8;
    return c;
  };
  schema->columns = {col("k", 252, 25, -1, 4, false), col("ok", 1, 16, -1, 0, true),
                     col("amount", 246, 1700, (12 << 16 | 2) + 4, 12 << 8 | 2, true),
                     col("at", 17, 1184, 3, 3, true), col("name", 252, 1043, 24, 4, true)};
  auto t = std::make_shared<TargetTable>();
  t->db = "public";
  t->table = "t";
  t->columns = {"k", "ok", "amount", "at", "name"};
  t->key = {0};
  t->source_schema = schema;
  t->source_index = {0, 1, 2, 3, 4};
  auto sql = BuildCreateTable(*t);
  ASSERT_TRUE(sql.ok()) << sql.status().message();
  EXPECT_EQ(*sql,
            "CREATE TABLE IF NOT EXISTS `public`.`t` (`k` varchar(255) NOT NULL, `ok` tinyint(1) NULL, `amount` "
            "decimal(12,2) NULL, `at` datetime(3) NULL, `name` varchar(20) NULL, PRIMARY KEY (`k`)) DEFAULT "
            "CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  SinkChange c;
  c.table = t;
  c.values = {Value::Str(ValueKind::kText, "a"), Value::Str(ValueKind::kJson, "true"), Value::Null(), Value::Null(),
              Value::Null()};
  std::vector<const SinkChange*> one{&c};
  std::string ins;
  ASSERT_TRUE(BuildInsert(ins, *t, one).ok());
  EXPECT_EQ(ins, "INSERT INTO `public`.`t` (`k`,`ok`,`amount`,`at`,`name`) VALUES ('a',1,NULL,NULL,NULL)");
}

TEST(SqlBuilderTest, ReplaceForCatchUp) {
  Fixture f({0});
  std::string sql;
  ASSERT_TRUE(BuildReplace(sql, *f.t, f.ptrs).ok());
  EXPECT_EQ(sql, "REPLACE INTO `shop`.`orders` (`id`,`region`,`status`) VALUES (1,'eu','new'),(2,'eu','new')");
}

TEST(SqlBuilderTest, StatementsAreSlicedBySize) {
  Fixture f({0});
  for (int i = 3; i <= 10; ++i) {
    SinkChange c = f.rows[0];
    c.values[0] = Value::Int(i);
    f.rows.push_back(c);
  }
  f.ptrs.clear();
  for (auto& r : f.rows) f.ptrs.push_back(&r);
  std::vector<std::string> statements;
  auto run = [&](const std::string& sql) {
    statements.push_back(sql);
    return Status::Ok();
  };
  // Each row counts about 8 bytes per value plus its text: three rows reach 60 bytes.
  ASSERT_TRUE(ForEachStatement(*f.t, f.ptrs, 60, BuildDelete, run).ok());
  ASSERT_EQ(statements.size(), 4u);
  EXPECT_EQ(statements[0], "DELETE FROM `shop`.`orders` WHERE `id` IN (1,2,3)");
  EXPECT_EQ(statements[3], "DELETE FROM `shop`.`orders` WHERE `id` IN (10)");
  // A row larger than the bound still makes a statement of its own.
  statements.clear();
  ASSERT_TRUE(ForEachStatement(*f.t, f.ptrs, 1, BuildDelete, run).ok());
  EXPECT_EQ(statements.size(), 10u);
  // The first failure stops the slicing.
  int calls = 0;
  Status st = ForEachStatement(*f.t, f.ptrs, 1, BuildDelete, [&](const std::string&) {
    ++calls;
    return Status::Invalid("boom");
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(calls, 1);
}

TEST(SqlBuilderTest, CompositeKeyDeleteAndAllKeyUpsert) {
  Fixture f({0, 1});
  std::string del;
  ASSERT_TRUE(BuildDelete(del, *f.t, f.ptrs).ok());
  EXPECT_EQ(del, "DELETE FROM `shop`.`orders` WHERE (`id`,`region`) IN ((1,'eu'),(2,'eu'))");
  Fixture all({0, 1, 2});
  std::string up;
  ASSERT_TRUE(BuildUpsert(up, *all.t, all.ptrs).ok());
  EXPECT_NE(up.find("ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`region`=VALUES(`region`)"), std::string::npos);
  EXPECT_EQ(DescribeKey(f.rows[0]), "(id=1, region='eu')");
}

TEST(SqlBuilderTest, DeleteEachLooksUpEveryRowByItsKey) {
  Fixture f({0, 1});
  std::string del;
  ASSERT_TRUE(BuildDeleteEach(del, *f.t, f.ptrs).ok());
  EXPECT_EQ(del,
            "DELETE FROM `shop`.`orders` WHERE `id`=1 AND `region`='eu';"
            "DELETE FROM `shop`.`orders` WHERE `id`=2 AND `region`='eu'");
}

// The bulk forms write what the text forms write, with one `?` per value.
TEST(SqlBuilderTest, BulkStatementsTakeOneRowOfParametersPerChange) {
  Fixture f({0, 1});
  const std::vector<bool> generated{false, false, true};
  EXPECT_EQ(BulkUpsertSql(*f.t, nullptr, {false, true, false}, false),
            "INSERT INTO `shop`.`orders` (`id`,`region`,`status`) VALUES (?,ST_GeomFromWKB(?),?) ON DUPLICATE KEY "
            "UPDATE `id`=VALUES(`id`),`region`=VALUES(`region`),`status`=VALUES(`status`)");
  EXPECT_EQ(BulkUpsertSql(*f.t, &generated, {}, true), "REPLACE INTO `shop`.`orders` (`id`,`region`) VALUES (?,?)");
  EXPECT_EQ(BulkDeleteSql(*f.t), "DELETE FROM `shop`.`orders` WHERE `id`=? AND `region`=?");
  std::vector<Value> params;
  AppendUpsertParams(params, *f.t, f.rows[1], &generated);
  AppendKeyParams(params, *f.t, f.rows[0]);
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0].i, 2);
  EXPECT_EQ(params[1].s, "eu");
  EXPECT_EQ(params[2].i, 1);
  EXPECT_EQ(params[3].s, "eu");
}

TEST(SqlBuilderTest, KeylessStatements) {
  Fixture f({});
  std::string ins, del;
  ASSERT_TRUE(BuildInsert(ins, *f.t, f.ptrs).ok());
  EXPECT_EQ(ins, "INSERT INTO `shop`.`orders` (`id`,`region`,`status`) VALUES (1,'eu','new'),(2,'eu','new')");
  ASSERT_TRUE(BuildDeleteExact(del, *f.t, f.rows[0]).ok());
  // Text exactly: not 'EU' under a _ci collation, not 'eu ' under PAD SPACE.
  EXPECT_EQ(del,
            "DELETE FROM `shop`.`orders` WHERE `id`<=>1 AND `region`<=>'eu' COLLATE utf8mb4_bin AND "
            "CHAR_LENGTH(`region`)=2 AND `status`<=>'new' COLLATE utf8mb4_bin AND CHAR_LENGTH(`status`)=3 LIMIT 1");
}

}  // namespace
}  // namespace sluice::sink::mysql
