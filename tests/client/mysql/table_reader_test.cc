// TableReader's pure pieces: key literals, range predicates over one and
// several key columns, and the decoding of text-protocol values into the
// Values the binlog decoder produces.

#include "client/mysql/table_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "client/mysql/column_types.h"

namespace sluice::mysql {
namespace {

KeyPart Text(std::string s) { return KeyPart{std::move(s), false}; }
KeyPart Binary(std::string s) { return KeyPart{std::move(s), true}; }

TEST(KeyLiteralTest, QuotesAndEscapesText) {
  EXPECT_EQ(KeyLiteral(Text("7")), "'7'");
  EXPECT_EQ(KeyLiteral(Text("")), "''");
  EXPECT_EQ(KeyLiteral(Text("it's")), "'it\\'s'");
  EXPECT_EQ(KeyLiteral(Text("a\\b")), "'a\\\\b'");
  EXPECT_EQ(KeyLiteral(Text(std::string("a\0b", 3))), "'a\\0b'");
  EXPECT_EQ(KeyLiteral(Text("2024-01-31 12:00:00.123")), "'2024-01-31 12:00:00.123'");
  EXPECT_EQ(KeyLiteral(Text("héllo")), "'héllo'");  // UTF-8 passes through
}

TEST(KeyLiteralTest, BinaryIsHexAndNullIsNull) {
  EXPECT_EQ(KeyLiteral(Binary(std::string("\x00\x01\xff'", 4))), "X'0001FF27'");
  EXPECT_EQ(KeyLiteral(Binary("")), "X''");
  EXPECT_EQ(KeyLiteral(KeyPart{std::nullopt, false}), "NULL");
  EXPECT_EQ(KeyLiteral(KeyPart{std::nullopt, true}), "NULL");
}

TEST(RangePredicateTest, OpenRangeIsTrue) { EXPECT_EQ(RangePredicate({"id"}, KeyRange{}), "1=1"); }

TEST(RangePredicateTest, OneColumn) {
  KeyRange after{KeyTuple{Text("10")}, std::nullopt};
  EXPECT_EQ(RangePredicate({"id"}, after), "((`id` > '10'))");
  KeyRange upto{std::nullopt, KeyTuple{Text("20")}};
  EXPECT_EQ(RangePredicate({"id"}, upto), "((`id` <= '20'))");
  KeyRange both{KeyTuple{Text("10")}, KeyTuple{Text("20")}};
  EXPECT_EQ(RangePredicate({"id"}, both), "((`id` > '10')) AND ((`id` <= '20'))");
}

TEST(RangePredicateTest, CompositeKeyExpandsLexicographically) {
  KeyRange after{KeyTuple{Text("1"), Text("x")}, std::nullopt};
  // (a, b) > (1, 'x')  ==  a > 1 OR (a = 1 AND b > 'x')
  EXPECT_EQ(RangePredicate({"a", "b"}, after), "((`a` > '1') OR (`a` = '1' AND `b` > 'x'))");
  KeyRange upto{std::nullopt, KeyTuple{Text("1"), Text("x"), Binary("\x01")}};
  // (a, b, c) <= (1, 'x', X'01')  ==  a < 1 OR (a = 1 AND b < 'x') OR (a = 1 AND b = 'x' AND c <= X'01')
  EXPECT_EQ(RangePredicate({"a", "b", "c"}, upto),
            "((`a` < '1') OR (`a` = '1' AND `b` < 'x') OR (`a` = '1' AND `b` = 'x' AND `c` <= X'01'))");
}

TEST(RangePredicateTest, QuotesIdentifiers) {
  KeyRange after{KeyTuple{Text("1")}, std::nullopt};
  EXPECT_EQ(RangePredicate({"we`ird"}, after), "((`we``ird` > '1'))");
}

ColumnMeta Column(uint8_t type, bool is_unsigned = false, Charset charset = Charset::kUnknown) {
  ColumnMeta c;
  c.name = "c";
  c.type = type;
  c.is_unsigned = is_unsigned;
  c.charset = charset;
  return c;
}

Value Decode(const ColumnMeta& c, const std::string& text, Arena& arena) {
  Value v;
  Status st = DecodeTextValue(c, text.data(), text.size(), arena, v);
  EXPECT_TRUE(st.ok()) << st.message();
  return v;
}

TEST(DecodeTextValueTest, Integers) {
  Arena arena(1024);
  Value v = Decode(Column(kTypeLong), "-42", arena);
  EXPECT_EQ(v.kind, ValueKind::kInt);
  EXPECT_EQ(v.i, -42);
  v = Decode(Column(kTypeLongLong, true), "18446744073709551615", arena);
  EXPECT_EQ(v.kind, ValueKind::kUInt);
  EXPECT_EQ(v.u, 18446744073709551615ull);
  v = Decode(Column(kTypeLongLong), "-9223372036854775808", arena);
  EXPECT_EQ(v.i, INT64_MIN);
  v = Decode(Column(kTypeYear), "2024", arena);
  EXPECT_EQ(v.kind, ValueKind::kYear);
  EXPECT_EQ(v.i, 2024);
}

TEST(DecodeTextValueTest, BadNumbersAreErrors) {
  Arena arena(1024);
  Value v;
  std::string s = "12x";
  EXPECT_FALSE(DecodeTextValue(Column(kTypeLong), s.data(), s.size(), arena, v).ok());
  s = "-1";
  EXPECT_FALSE(DecodeTextValue(Column(kTypeLong, true), s.data(), s.size(), arena, v).ok());
  s = "";
  EXPECT_FALSE(DecodeTextValue(Column(kTypeLong), s.data(), s.size(), arena, v).ok());
  s = "1.5x";
  EXPECT_FALSE(DecodeTextValue(Column(kTypeDouble), s.data(), s.size(), arena, v).ok());
}

TEST(DecodeTextValueTest, NullPointerIsNull) {
  Arena arena(1024);
  Value v = Value::Int(1);
  ASSERT_TRUE(DecodeTextValue(Column(kTypeLong), nullptr, 0, arena, v).ok());
  EXPECT_TRUE(v.is_null());
}

TEST(DecodeTextValueTest, FloatsAndDoubles) {
  Arena arena(1024);
  Value f = Decode(Column(kTypeFloat), "1.5", arena);
  EXPECT_EQ(f.kind, ValueKind::kFloat);
  EXPECT_EQ(f.d, 1.5);
  Value d = Decode(Column(kTypeDouble), "-2.25e10", arena);
  EXPECT_EQ(d.kind, ValueKind::kDouble);
  EXPECT_EQ(d.d, -2.25e10);
  // FLOAT holds float precision, like the binlog decoder's value.
  EXPECT_EQ(Decode(Column(kTypeFloat), "0.1", arena).d, static_cast<double>(0.1f));
}

TEST(DecodeTextValueTest, StringKindsKeepTheServersText) {
  Arena arena(1024);
  ColumnMeta dec = Column(kTypeNewDecimal);
  dec.meta = (12 << 8) | 2;
  Value v = Decode(dec, "-123.40", arena);
  EXPECT_EQ(v.kind, ValueKind::kDecimal);
  EXPECT_EQ(v.s, "-123.40");
  v = Decode(Column(kTypeDateTime2), "2024-01-31 12:34:56.789", arena);
  EXPECT_EQ(v.kind, ValueKind::kDateTime);
  EXPECT_EQ(v.s, "2024-01-31 12:34:56.789");
  v = Decode(Column(kTypeTimestamp2), "2024-01-31 12:34:56", arena);
  EXPECT_EQ(v.kind, ValueKind::kTimestamp);
  v = Decode(Column(kTypeDate), "2024-01-31", arena);
  EXPECT_EQ(v.kind, ValueKind::kDate);
  v = Decode(Column(kTypeTime2), "-838:59:59", arena);
  EXPECT_EQ(v.kind, ValueKind::kTime);
  EXPECT_EQ(v.s, "-838:59:59");
  v = Decode(Column(kTypeVarchar, false, Charset::kUtf8), "héllo", arena);
  EXPECT_EQ(v.kind, ValueKind::kText);
  EXPECT_EQ(v.s, "héllo");
  v = Decode(Column(kTypeBlob, false, Charset::kBinary), std::string("\x00\xff", 2), arena);
  EXPECT_EQ(v.kind, ValueKind::kBytes);
  EXPECT_EQ(v.s, std::string("\x00\xff", 2));
  v = Decode(Column(kTypeJson), "{\"a\": 1}", arena);
  EXPECT_EQ(v.kind, ValueKind::kJson);
}

TEST(DecodeTextValueTest, EnumSetAndMariadbJson) {
  Arena arena(1024);
  ColumnMeta e = Column(kTypeString, false, Charset::kUtf8);
  e.real_type = kTypeEnum;
  e.enum_values = {"new", "paid"};
  Value v = Decode(e, "paid", arena);
  EXPECT_EQ(v.kind, ValueKind::kEnum);
  EXPECT_EQ(v.s, "paid");
  ColumnMeta s = e;
  s.real_type = kTypeSet;
  v = Decode(s, "new,paid", arena);
  EXPECT_EQ(v.kind, ValueKind::kSet);
  ColumnMeta j = Column(kTypeBlob, false, Charset::kUtf8);  // MariaDB JSON: LONGTEXT CHECK (json_valid)
  j.is_json = true;
  v = Decode(j, "[1,2]", arena);
  EXPECT_EQ(v.kind, ValueKind::kJson);
}

TEST(DecodeTextValueTest, BitIsBigEndianBytes) {
  Arena arena(1024);
  Value v = Decode(Column(kTypeBit), std::string("\x01\x02", 2), arena);
  EXPECT_EQ(v.kind, ValueKind::kBit);
  EXPECT_EQ(v.u, 0x0102u);
}

TEST(DecodeTextValueTest, GeometryDropsTheSrid) {
  Arena arena(1024);
  std::string internal = std::string("\xe6\x10\x00\x00", 4) + "WKB";
  Value v = Decode(Column(kTypeGeometry), internal, arena);
  EXPECT_EQ(v.kind, ValueKind::kGeometry);
  EXPECT_EQ(v.s, "WKB");
  Value bad;
  EXPECT_FALSE(DecodeTextValue(Column(kTypeGeometry), "ab", 2, arena, bad).ok());
}

TEST(TableReaderTest, ExplicitKeyOverridesTheSchemaKey) {
  auto schema = std::make_shared<TableSchema>();
  schema->db = "d";
  schema->table = "t";
  schema->columns = {Column(kTypeLong), Column(kTypeLong), Column(kTypeLong)};
  schema->primary_key = {0};
  TableReader by_schema(schema, {}, "");
  EXPECT_EQ(by_schema.key(), std::vector<uint32_t>{0});
  TableReader by_mapping(schema, {2, 1}, "", std::vector<uint32_t>{1});
  EXPECT_EQ(by_mapping.key(), std::vector<uint32_t>{1});
  EXPECT_EQ(by_mapping.columns(), (std::vector<uint32_t>{2, 1}));
  TableReader keyless(schema, {}, "", std::vector<uint32_t>{});
  EXPECT_FALSE(keyless.has_key());
  EXPECT_EQ(keyless.QualifiedName(), "`d`.`t`");
}

TEST(TableReaderTest, ChecksumQueryMarksLengthsAndNullsAndConvertsOnlyNonUtf8Text) {
  auto schema = std::make_shared<TableSchema>();
  schema->db = "d";
  schema->table = "t";
  ColumnMeta id = Column(kTypeLong);
  id.name = "id";
  id.nullable = false;
  ColumnMeta name = Column(kTypeVarchar, false, Charset::kUtf8);
  name.name = "name";
  ColumnMeta legacy = Column(kTypeBlob, false, Charset::kLatin1);
  legacy.name = "l";
  legacy.nullable = false;
  ColumnMeta n = Column(kTypeLong);
  n.name = "n";
  ColumnMeta bytes = Column(kTypeBlob, false, Charset::kBinary);
  bytes.name = "b";
  bytes.nullable = false;
  schema->columns = {id, name, legacy, n, bytes};
  schema->primary_key = {0};
  const std::string crc =
      "CRC32(CONCAT_WS('#', `id`, `name`, CONVERT(`l` USING utf8mb4), `n`, `b`, COALESCE(LENGTH(`name`), -1), "
      "CHAR_LENGTH(`l`), ISNULL(`n`), LENGTH(`b`)))";
  TableReader keyed(schema, {}, "");
  EXPECT_EQ(keyed.ChecksumQuery(KeyRange{KeyTuple{Text("5")}, std::nullopt}),
            "SELECT COUNT(*), COALESCE(BIT_XOR(" + crc + " * 4294967291), 0), 0 FROM `d`.`t` WHERE ((`id` > '5'))");
  // Keyless rows may repeat (and cancel out in a XOR): their CRCs are summed too.
  TableReader keyless(schema, {}, "", std::vector<uint32_t>{});
  EXPECT_EQ(keyless.ChecksumQuery(KeyRange{}),
            "SELECT COUNT(*), COALESCE(BIT_XOR(c * 4294967291), 0), COALESCE(SUM(c), 0) FROM (SELECT " + crc +
                " AS c FROM `d`.`t` WHERE 1=1 LIMIT 18446744073709551615) AS rows_crc");
  // Only the selected columns, in the reader's order.
  TableReader some(schema, {3, 0}, "x > 1");
  EXPECT_EQ(some.ChecksumQuery(KeyRange{}),
            "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('#', `n`, `id`, ISNULL(`n`))) * 4294967291), 0), 0 "
            "FROM `d`.`t` WHERE 1=1 AND (x > 1)");
}

}  // namespace
}  // namespace sluice::mysql
