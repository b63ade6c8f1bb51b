// The pieces the checks of both sources share (pipeline/check_target.h):
// key parts as each source's reader takes them, the form a PostgreSQL
// source's values are compared in against targets read back by keys, and
// comparison on copies (the rows a repair writes stay the source's own).

#include "pipeline/check_target.h"

#include <gtest/gtest.h>

#include "client/mysql/column_types.h"
#include "source/postgres/pg_value.h"

namespace sluice::pipeline::detail {
namespace {

// A PostgreSQL source's column of type `oid` (typmod as the catalog gives it).
ColumnMeta PgColumn(uint32_t oid, int32_t typmod = -1) {
  ColumnMeta c;
  auto type = postgres::ResolvePgType(oid, nullptr);
  EXPECT_TRUE(type.ok()) << type.status().message();
  postgres::DescribeColumn(**type, typmod, c);
  return c;
}

TEST(PgKeyPartTest, BytesAsHexEverythingElseAsPrinted) {
  EXPECT_EQ(PgKeyPart(Value::Str(ValueKind::kBytes, std::string_view("\x00\xff\\'", 4))).text, "\\x00ff5c27");
  EXPECT_EQ(PgKeyPart(Value::Str(ValueKind::kBytes, "")).text, "\\x");
  EXPECT_EQ(PgKeyPart(Value::Int(-7)).text, "-7");
  EXPECT_EQ(PgKeyPart(Value::Str(ValueKind::kText, "a'b")).text, "a'b");
  EXPECT_EQ(PgKeyPart(Value::Str(ValueKind::kTimestamp, "2024-01-31 18:00:00.5")).text, "2024-01-31 18:00:00.5");
  EXPECT_FALSE(PgKeyPart(Value::Null()).text.has_value());
  EXPECT_FALSE(PgKeyPart(Value::Str(ValueKind::kBytes, "x")).binary);
}

TEST(DecodeKeyPartTest, PostgresTextByItsTypeMysqlTextByItsColumn) {
  Arena arena(1024);
  Value v;
  ASSERT_TRUE(DecodeKeyPart(PgColumn(17), mysql::KeyPart{"\\x00ff", false}, arena, v).ok());
  EXPECT_EQ(v.kind, ValueKind::kBytes);
  EXPECT_EQ(v.s, std::string_view("\x00\xff", 2));
  ASSERT_TRUE(DecodeKeyPart(PgColumn(16), mysql::KeyPart{"t", false}, arena, v).ok());
  EXPECT_EQ(v.kind, ValueKind::kJson);
  EXPECT_EQ(v.s, "true");
  ASSERT_TRUE(DecodeKeyPart(PgColumn(23), mysql::KeyPart{}, arena, v).ok());
  EXPECT_TRUE(v.is_null());
  EXPECT_FALSE(DecodeKeyPart(PgColumn(23), mysql::KeyPart{"x", false}, arena, v).ok());
  // A bytea key read back from MySQL (varbinary: raw bytes) goes to PostgreSQL as hex.
  ColumnMeta varbinary;
  varbinary.type = sluice::mysql::kTypeVarchar;
  varbinary.charset = Charset::kBinary;
  varbinary.meta = 255;
  ASSERT_TRUE(DecodeKeyPart(varbinary, mysql::KeyPart{std::string("\x00\xff", 2), true}, arena, v).ok());
  EXPECT_EQ(PgKeyPart(v).text, "\\x00ff");
}

TEST(FitPgReadBackTest, BooleansAsIntegersNumericsWithTheColumnsScale) {
  Arena arena(1024);
  const ColumnMeta boolean = PgColumn(16);
  for (Value v : {Value::Str(ValueKind::kJson, "true"), Value::Str(ValueKind::kText, "true"), Value::Int(1)}) {
    FitPgReadBack(v, boolean, arena);
    EXPECT_TRUE(SameCheckedValue(v, Value::Int(1)));
  }
  Value f = Value::Str(ValueKind::kJson, "false");
  FitPgReadBack(f, boolean, arena);
  EXPECT_TRUE(SameCheckedValue(f, Value::Int(0)));

  // Unconstrained: ClickHouse reads the text back with 30 digits.
  Value a = Value::Str(ValueKind::kDecimal, "1.5"),
        b = Value::Str(ValueKind::kDecimal, "1.500000000000000000000000000000");
  FitPgReadBack(a, PgColumn(1700), arena);
  FitPgReadBack(b, PgColumn(1700), arena);
  EXPECT_TRUE(SameCheckedValue(a, b));
  Value c = Value::Str(ValueKind::kDecimal, "1.5"), d = Value::Str(ValueKind::kDecimal, "1.5000");
  FitPgReadBack(c, PgColumn(1700, ((12 << 16) | 4) + 4), arena);  // numeric(12,4)
  EXPECT_TRUE(SameCheckedValue(c, d));
  // A MySQL source's columns are left alone.
  ColumnMeta tiny;
  tiny.type = sluice::mysql::kTypeTiny;
  Value t = Value::Str(ValueKind::kText, "true");
  FitPgReadBack(t, tiny, arena);
  EXPECT_EQ(t.kind, ValueKind::kText);
}

TEST(CompareRowsTest, JsonAsJsonAndValuesThroughTheFit) {
  Arena arena(1024);
  const std::vector<Value> source = {Value::Int(1), Value::Str(ValueKind::kJson, "{\"b\": 1,  \"a\": [1, 2]}"),
                                     Value::Str(ValueKind::kJson, "true")};
  const std::vector<Value> target = {Value::Int(1), Value::Str(ValueKind::kJson, "{ \"a\": [1, 2], \"b\": 1 }"),
                                     Value::Int(1)};
  const ColumnMeta boolean = PgColumn(16);
  auto fit = [&](Value& v, size_t column) {
    if (column == 2) FitPgReadBack(v, boolean, arena);
  };
  EXPECT_TRUE(CompareRows(source, target, 3, {0}, arena, fit).empty());
  const std::vector<RowMismatch> unfit = CompareRows(source, target, 3, {0}, arena);  // true is not 1
  ASSERT_EQ(unfit.size(), 1u);
  EXPECT_EQ(unfit[0].kind, DiffKind::kDifferent);
  std::vector<Value> changed = target;
  changed[1] = Value::Str(ValueKind::kJson, "{\"a\": [2, 1], \"b\": 1}");
  EXPECT_EQ(CompareRows(source, changed, 3, {0}, arena, fit).size(), 1u);
}

}  // namespace
}  // namespace sluice::pipeline::detail
