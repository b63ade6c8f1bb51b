// Every MySQL type family, encoded by canal, maxwell and debezium (flink
// profile) and read back as Flink's readers would into the columns a Flink
// user declares for it: the value comes back exactly.
#include <gtest/gtest.h>

#include "format/change_builder.h"
#include "format/flink_json_reader.h"
#include "format/format.h"

namespace sluice::format::testing {
namespace {

namespace m = sluice::mysql;

struct Expect {
  FlinkType type;
  std::string value;  // canonical text; "" with null_value for NULL
  int precision = 0, scale = 0;
};

struct TypeCase {
  ColumnMeta col;
  Value v;
  Expect canal, maxwell, debezium;
};

ColumnMeta Unsigned(ColumnMeta c) {
  c.is_unsigned = true;
  return c;
}

const std::string kBinary("\x00\xff\x10" "A", 4);

std::vector<TypeCase> Cases() {
  using F = FlinkType;
  const Expect same_tiny{F::kTinyInt, "-5"};
  return {
      {Col("id", m::kTypeLong), Value::Int(7), {F::kInt, "7"}, {F::kInt, "7"}, {F::kInt, "7"}},
      {Col("c_tinyint", m::kTypeTiny), Value::Int(-5), same_tiny, same_tiny, same_tiny},
      {Unsigned(Col("c_tinyint_u", m::kTypeTiny)), Value::UInt(255), {F::kSmallInt, "255"}, {F::kSmallInt, "255"},
       {F::kSmallInt, "255"}},
      {Col("c_smallint", m::kTypeShort), Value::Int(-32768), {F::kSmallInt, "-32768"}, {F::kSmallInt, "-32768"},
       {F::kSmallInt, "-32768"}},
      {Col("c_mediumint", m::kTypeInt24), Value::Int(8388607), {F::kInt, "8388607"}, {F::kInt, "8388607"},
       {F::kInt, "8388607"}},
      {Col("c_int", m::kTypeLong), Value::Int(-2147483648LL), {F::kInt, "-2147483648"}, {F::kInt, "-2147483648"},
       {F::kInt, "-2147483648"}},
      {Unsigned(Col("c_int_u", m::kTypeLong)), Value::UInt(4294967295u), {F::kBigInt, "4294967295"},
       {F::kBigInt, "4294967295"}, {F::kBigInt, "4294967295"}},
      {Col("c_bigint", m::kTypeLongLong), Value::Int(INT64_MIN), {F::kBigInt, "-9223372036854775808"},
       {F::kBigInt, "-9223372036854775808"}, {F::kBigInt, "-9223372036854775808"}},
      {Unsigned(Col("c_bigint_u", m::kTypeLongLong)), Value::UInt(UINT64_MAX),
       {F::kDecimal, "18446744073709551615", 20, 0}, {F::kDecimal, "18446744073709551615", 20, 0},
       {F::kDecimal, "18446744073709551615", 20, 0}},
      {Col("c_float", m::kTypeFloat, 4), Value::Float(3.14f), {F::kFloat, "3.14"}, {F::kFloat, "3.14"},
       {F::kFloat, "3.14"}},
      {Col("c_double", m::kTypeDouble, 8), Value::Double(2.718281828459045), {F::kDouble, "2.718281828459045"},
       {F::kDouble, "2.718281828459045"}, {F::kDouble, "2.718281828459045"}},
      {Col("c_double_big", m::kTypeDouble, 8), Value::Double(1e20), {F::kDouble, "1e+20"}, {F::kDouble, "1e+20"},
       {F::kDouble, "1e+20"}},
      {Col("c_decimal", m::kTypeNewDecimal, (12 << 8) | 4), Value::Str(ValueKind::kDecimal, "-12345678.9012"),
       {F::kDecimal, "-12345678.9012", 12, 4}, {F::kDecimal, "-12345678.9012", 12, 4},
       {F::kDecimal, "-12345678.9012", 12, 4}},
      {Col("c_date", m::kTypeDate), Value::Str(ValueKind::kDate, "2024-02-29"), {F::kDate, "2024-02-29"},
       {F::kDate, "2024-02-29"}, {F::kDate, "2024-02-29"}},
      {Col("c_time", m::kTypeTime2, 6), Value::Str(ValueKind::kTime, "12:34:56.789012"), {F::kTime, "12:34:56.789012"},
       {F::kTime, "12:34:56.789012"}, {F::kTime, "12:34:56.789012"}},
      {Col("c_datetime", m::kTypeDateTime2, 3), Value::Str(ValueKind::kDateTime, "2024-01-31 12:34:56.789"),
       {F::kTimestamp, "2024-01-31 12:34:56.789"}, {F::kTimestamp, "2024-01-31 12:34:56.789"},
       {F::kTimestamp, "2024-01-31 12:34:56.789"}},
      // TIMESTAMP: UTC text for Canal and Maxwell (Flink TIMESTAMP); an
      // instant with 'Z' for Debezium (Flink TIMESTAMP_LTZ).
      {Col("c_timestamp", m::kTypeTimestamp2, 0), Value::Str(ValueKind::kTimestamp, "2024-01-31 23:59:59"),
       {F::kTimestamp, "2024-01-31 23:59:59"}, {F::kTimestamp, "2024-01-31 23:59:59"},
       {F::kTimestampLtz, "2024-01-31 23:59:59"}},
      {Col("c_year", m::kTypeYear), Value::Year(2024), {F::kInt, "2024"}, {F::kInt, "2024"}, {F::kInt, "2024"}},
      {Col("c_bit1", m::kTypeBit, 1), Value::Bit(1), {F::kBigInt, "1"}, {F::kBoolean, "true"}, {F::kBoolean, "true"}},
      {Col("c_bit12", m::kTypeBit, (1 << 8) | 4), Value::Bit(0xABC), {F::kBigInt, "2748"}, {F::kBigInt, "2748"},
       {F::kBigInt, "2748"}},
      {StringCol("c_char", m::kTypeString, 40), Value::Str(ValueKind::kText, "h\xC3\xA9llo"),
       {F::kString, "h\xC3\xA9llo"}, {F::kString, "h\xC3\xA9llo"}, {F::kString, "h\xC3\xA9llo"}},
      {Col("c_varchar", m::kTypeVarchar, 400), Value::Str(ValueKind::kText, "two\nlines \"q\" \\ \xE6\x97\xA5"),
       {F::kString, "two\nlines \"q\" \\ \xE6\x97\xA5"}, {F::kString, "two\nlines \"q\" \\ \xE6\x97\xA5"},
       {F::kString, "two\nlines \"q\" \\ \xE6\x97\xA5"}},
      {Col("c_text", m::kTypeBlob, 2), Value::Str(ValueKind::kText, "text"), {F::kString, "text"},
       {F::kString, "text"}, {F::kString, "text"}},
      {StringCol("c_binary", m::kTypeString, 4, Charset::kBinary), Value::Str(ValueKind::kBytes, kBinary),
       {F::kLatin1Bytes, "00ff1041"}, {F::kBytes, "00ff1041"}, {F::kBytes, "00ff1041"}},
      {Col("c_blob", m::kTypeBlob, 2, false, Charset::kBinary), Value::Str(ValueKind::kBytes, kBinary),
       {F::kLatin1Bytes, "00ff1041"}, {F::kBytes, "00ff1041"}, {F::kBytes, "00ff1041"}},
      {StringCol("c_enum", m::kTypeEnum, 1, Charset::kUtf8, {"small", "medium", "large"}),
       Value::Str(ValueKind::kEnum, "medium"), {F::kInt, "2"}, {F::kString, "medium"}, {F::kString, "medium"}},
      {StringCol("c_set", m::kTypeSet, 1, Charset::kUtf8, {"a", "b", "c"}), Value::Str(ValueKind::kSet, "a,c"),
       {F::kBigInt, "5"}, {F::kArrayOfString, "a,c"}, {F::kString, "a,c"}},
      {Col("c_json", m::kTypeJson, 4), Value::Str(ValueKind::kJson, R"({"k":[1,2]})"), {F::kString, R"({"k":[1,2]})"},
       {F::kString, R"({"k":[1,2]})"}, {F::kString, R"({"k":[1,2]})"}},
      {Col("c_null", m::kTypeLong), Value::Null(), {F::kInt, ""}, {F::kInt, ""}, {F::kInt, ""}},
  };
}

std::vector<FlinkColumn> SchemaFor(const std::vector<TypeCase>& cases, Expect TypeCase::*which) {
  std::vector<FlinkColumn> s;
  for (const auto& c : cases) {
    const Expect& e = c.*which;
    s.push_back({c.col.name, e.type, e.precision, e.scale});
  }
  return s;
}

void ExpectRow(const FlinkRow& row, const std::vector<TypeCase>& cases, Expect TypeCase::*which,
               const std::vector<Value>& values, const std::string& what) {
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& got = row.values.at(cases[i].col.name);
    if (values[i].is_null()) {
      EXPECT_FALSE(got.has_value()) << what << " " << cases[i].col.name;
      continue;
    }
    ASSERT_TRUE(got.has_value()) << what << " " << cases[i].col.name;
    std::string want = (cases[i].*which).value;
    if (cases[i].col.name == "id") want = std::to_string(values[i].i);
    if (cases[i].col.name == "c_varchar" && values[i].s == "changed") want = "changed";
    EXPECT_EQ(*got, want) << what << " " << cases[i].col.name;
  }
}

using Reader = std::vector<FlinkRow> (*)(const std::string&, const std::vector<FlinkColumn>&);

void RoundTrip(const std::string& format, Expect TypeCase::*which, Reader read) {
  auto cases = Cases();
  std::vector<ColumnMeta> cols;
  std::vector<Value> values;
  for (const auto& c : cases) {
    cols.push_back(c.col);
    values.push_back(c.v);
  }
  auto table = MakeTable("shop", "all_types", cols, {0});
  auto schema = SchemaFor(cases, which);
  EncoderOptions o;
  o.format = format;
  o.tombstones = false;
  auto enc = MakeEncoder(o);
  ASSERT_TRUE(enc.ok());
  ChangeContext ctx;

  std::vector<Message> out;
  Status st = (*enc)->EncodeChange(MakeChange(table, Op::kInsert, values), ctx, out);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(out.size(), 1u);
  std::vector<FlinkRow> rows;
  ASSERT_NO_THROW(rows = read(*out[0].value, schema)) << *out[0].value;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, RowKind::kInsert);
  ExpectRow(rows[0], cases, which, values, format + " insert");

  // An update of two columns: the before row comes back whole.
  std::vector<Value> after = values;
  after[0] = Value::Int(8);
  for (size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].col.name == "c_varchar") after[i] = Value::Str(ValueKind::kText, "changed");
  }
  out.clear();
  st = (*enc)->EncodeChange(MakeChange(table, Op::kUpdate, after, values), ctx, out);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_NO_THROW(rows = read(*out[0].value, schema)) << *out[0].value;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].kind, RowKind::kUpdateBefore);
  ExpectRow(rows[0], cases, which, values, format + " update before");
  EXPECT_EQ(rows[1].kind, RowKind::kUpdateAfter);
  ExpectRow(rows[1], cases, which, after, format + " update after");

  out.clear();
  st = (*enc)->EncodeChange(MakeChange(table, Op::kDelete, values), ctx, out);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_NO_THROW(rows = read(*out[0].value, schema)) << *out[0].value;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, RowKind::kDelete);
  ExpectRow(rows[0], cases, which, values, format + " delete");
}

TEST(TypeRoundTripTest, Canal) {
  RoundTrip("canal", &TypeCase::canal,
            [](const std::string& m, const std::vector<FlinkColumn>& s) { return ReadCanal(m, s); });
}

TEST(TypeRoundTripTest, Maxwell) {
  RoundTrip("maxwell", &TypeCase::maxwell,
            [](const std::string& m, const std::vector<FlinkColumn>& s) { return ReadMaxwell(m, s); });
}

TEST(TypeRoundTripTest, DebeziumFlinkProfileWithIsoTimestamps) {
  RoundTrip("debezium", &TypeCase::debezium, [](const std::string& m, const std::vector<FlinkColumn>& s) {
    return ReadDebezium(m, s, false, TimestampStandard::kIso8601);
  });
}

}  // namespace
}  // namespace sluice::format::testing
