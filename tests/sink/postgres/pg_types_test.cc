#include "sink/postgres/pg_types.h"

#include <gtest/gtest.h>

#include "client/mysql/column_types.h"
#include "client/postgres/connection.h"

namespace sluice::sink::postgres {
namespace {

namespace my = sluice::mysql;

ColumnMeta Col(uint8_t type, uint16_t meta = 0, bool is_unsigned = false, Charset cs = Charset::kUtf8) {
  ColumnMeta c;
  c.name = "c";
  c.type = type;
  c.meta = meta;
  c.is_unsigned = is_unsigned;
  c.charset = cs;
  return c;
}

std::string Type(const ColumnMeta& c) {
  auto t = PgType(c);
  return t.ok() ? *t : "error: " + t.status().message();
}

TEST(PgTypes, MapsEveryFamilyWithoutLoss) {
  EXPECT_EQ(Type(Col(my::kTypeTiny)), "smallint");
  EXPECT_EQ(Type(Col(my::kTypeShort, 0, true)), "integer");
  EXPECT_EQ(Type(Col(my::kTypeLong, 0, true)), "bigint");
  EXPECT_EQ(Type(Col(my::kTypeLongLong)), "bigint");
  EXPECT_EQ(Type(Col(my::kTypeLongLong, 0, true)), "numeric(20,0)");
  EXPECT_EQ(Type(Col(my::kTypeNewDecimal, (12 << 8) | 2)), "numeric(12,2)");
  EXPECT_EQ(Type(Col(my::kTypeFloat, 4)), "real");
  EXPECT_EQ(Type(Col(my::kTypeDouble, 8)), "double precision");
  EXPECT_EQ(Type(Col(my::kTypeYear)), "smallint");
  EXPECT_EQ(Type(Col(my::kTypeDateTime2, 3)), "timestamp(3) without time zone");
  EXPECT_EQ(Type(Col(my::kTypeTimestamp2, 6)), "timestamp(6) with time zone");
  EXPECT_EQ(Type(Col(my::kTypeTime2, 0)), "interval");
  EXPECT_EQ(Type(Col(my::kTypeBit, (1 << 8) | 2)), "bit varying(10)");
  EXPECT_EQ(Type(Col(my::kTypeVarchar, 40)), "text");
  EXPECT_EQ(Type(Col(my::kTypeVarchar, 40, false, Charset::kBinary)), "bytea");
  EXPECT_EQ(Type(Col(my::kTypeBlob, 2, false, Charset::kBinary)), "bytea");
  EXPECT_EQ(Type(Col(my::kTypeJson, 4)), "jsonb");
  ColumnMeta json = Col(my::kTypeBlob, 4);
  json.is_json = true;
  EXPECT_EQ(Type(json), "jsonb");
  ColumnMeta e = Col(my::kTypeString, (my::kTypeEnum << 8) | 1);
  e.real_type = my::kTypeEnum;
  EXPECT_EQ(Type(e), "text");
}

std::string Literal(const Value& v, const ColumnMeta& c) {
  std::string out;
  Status st = AppendPgLiteral(out, v, c);
  return st.ok() ? out : "error: " + st.message();
}

// Columns of a PostgreSQL source keep their type (domains are resolved to
// the base type before; enums become text; arrays, sent as JSON arrays, jsonb).
// MariaDB's UUID and INET types: binary in the binlog, text as the server
// shows them (as a snapshot reads them): PostgreSQL's own types.
TEST(PgTypes, MariadbUuidAndInetColumnsBecomeUuidAndInet) {
  ColumnMeta uuid = Col(my::kTypeString, static_cast<uint16_t>((my::kTypeString << 8) | 16), false, Charset::kBinary);
  EXPECT_EQ(Type(uuid), "bytea");
  uuid.plugin_type = PluginType::kUuid;
  EXPECT_EQ(Type(uuid), "uuid");
  ColumnMeta inet = Col(my::kTypeVarchar, 64);  // as a snapshot describes it
  inet.plugin_type = PluginType::kInet6;
  EXPECT_EQ(Type(inet), "inet");
  inet.plugin_type = PluginType::kUuid;
  EXPECT_EQ(Type(inet), "uuid");
}

TEST(PgTypes, PostgresSourceColumnsKeepTheirType) {
  auto pg = [](uint8_t type, uint32_t oid, int32_t typmod, bool is_json = false) {
    ColumnMeta c = Col(type);
    c.pg_type_oid = oid;
    c.pg_typmod = typmod;
    c.is_json = is_json;
    return c;
  };
  EXPECT_EQ(Type(pg(my::kTypeTiny, 16, -1)), "boolean");
  EXPECT_EQ(Type(pg(my::kTypeNewDecimal, 1700, (12 << 16 | 4) + 4)), "numeric(12,4)");
  EXPECT_EQ(Type(pg(my::kTypeNewDecimal, 1700, -1)), "numeric");
  EXPECT_EQ(Type(pg(my::kTypeTimestamp2, 1184, 3)), "timestamptz(3)");
  EXPECT_EQ(Type(pg(my::kTypeTimestamp2, 1184, -1)), "timestamptz");
  EXPECT_EQ(Type(pg(my::kTypeBlob, 1043, 24)), "varchar(20)");
  EXPECT_EQ(Type(pg(my::kTypeBlob, 1186, -1)), "interval");
  EXPECT_EQ(Type(pg(my::kTypeBlob, 2950, -1)), "uuid");
  EXPECT_EQ(Type(pg(my::kTypeJson, 1007, -1, true)), "jsonb");   // int4[]
  EXPECT_EQ(Type(pg(my::kTypeBlob, 16400, -1)), "text");          // an enum
}

TEST(PgTypes, ValuesAsLiterals) {
  EXPECT_EQ(Literal(Value::UInt(18446744073709551615ull), Col(my::kTypeLongLong, 0, true)),
            "'18446744073709551615'");
  EXPECT_EQ(Literal(Value::Int(-5), Col(my::kTypeLong)), "'-5'");
  EXPECT_EQ(Literal(Value::Null(), Col(my::kTypeLong)), "NULL");
  EXPECT_EQ(Literal(Value::Float(0.1f), Col(my::kTypeFloat, 4)), "'0.1'");
  EXPECT_EQ(Literal(Value::Double(0.1), Col(my::kTypeDouble, 8)), "'0.1'");
  EXPECT_EQ(Literal(Value::Str(ValueKind::kText, "it's"), Col(my::kTypeVarchar, 40)), "'it''s'");
  EXPECT_EQ(Literal(Value::Str(ValueKind::kBytes, std::string_view("\x00\xff", 2)),
                    Col(my::kTypeVarchar, 4, false, Charset::kBinary)),
            "'\\x00ff'");
  EXPECT_EQ(Literal(Value::Bit(5), Col(my::kTypeBit, 4)), "'0101'");
  EXPECT_EQ(Literal(Value::Str(ValueKind::kTimestamp, "2024-01-31 12:00:00.5"), Col(my::kTypeTimestamp2, 1)),
            "'2024-01-31 12:00:00.5+00'");
  EXPECT_EQ(Literal(Value::Str(ValueKind::kTime, "-838:59:59"), Col(my::kTypeTime2)), "'-838:59:59'");
}

TEST(PgTypes, RefusesWhatPostgresCannotHold) {
  EXPECT_NE(Literal(Value::Str(ValueKind::kText, std::string_view("a\0b", 3)), Col(my::kTypeVarchar, 9))
                .find("NUL byte"),
            std::string::npos);
  EXPECT_NE(Literal(Value::Str(ValueKind::kDate, "0000-00-00"), Col(my::kTypeDate)).find("zero or invalid date"),
            std::string::npos);
  EXPECT_NE(Literal(Value::Str(ValueKind::kDateTime, "2023-02-29 00:00:00"), Col(my::kTypeDateTime2)).find("error"),
            std::string::npos);
  EXPECT_EQ(Literal(Value::Str(ValueKind::kDate, "2024-02-29"), Col(my::kTypeDate)), "'2024-02-29'");
  EXPECT_NE(Literal(Value::Absent(), Col(my::kTypeLong)).find("MINIMAL"), std::string::npos);
}

TEST(PgTypes, CopyFieldsEscape) {
  std::string out;
  ASSERT_TRUE(AppendCopyField(out, Value::Str(ValueKind::kText, "a\tb\\c\nd"), Col(my::kTypeVarchar, 9)).ok());
  EXPECT_EQ(out, "a\\tb\\\\c\\nd");
  out.clear();
  ASSERT_TRUE(AppendCopyField(out, Value::Null(), Col(my::kTypeVarchar, 9)).ok());
  EXPECT_EQ(out, "\\N");
}

TEST(PgQuoting, IdentifiersAndLiterals) {
  EXPECT_EQ(sluice::postgres::QuoteIdent("we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ(sluice::postgres::QuoteLiteral("a'b\\c"), "'a''b\\c'");
}

}  // namespace
}  // namespace sluice::sink::postgres
