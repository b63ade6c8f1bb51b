// Debezium messages for rows of a PostgreSQL source: the PostgreSQL
// connector's source block and types, and a schema block that describes
// exactly the payload it wraps. Column metadata and values come from the
// PostgreSQL source's own decoding (source/postgres/pg_value.h).

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "format/change_builder.h"
#include "format/debezium_values.h"
#include "format/format.h"
#include "source/postgres/pg_value.h"

namespace sluice::format {
namespace {

using testing::MakeChange;
using testing::MakeTable;

struct PgCol {
  const char* name;
  uint32_t oid;
  int32_t typmod;
  const char* text;  // the value as pgoutput sends it
};

// id int4, flag bool, u uuid, span interval, n numeric, price numeric(10,2), tags int4[], at timestamptz.
const PgCol kCols[] = {
    {"id", 23, -1, "7"},
    {"flag", 16, -1, "t"},
    {"u", 2950, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {"span", 1186, -1, "1 year 2 mons -3 days 04:05:06.5"},
    {"n", 1700, -1, "-12.3450"},
    {"price", 1700, ((10 << 16) | 2) + 4, "19.90"},
    {"tags", 1007, -1, "{1,NULL,3}"},
    {"at", 1184, -1, "2024-01-31 12:34:56.789+00"},
};

nlohmann::json Render(const std::string& profile) {
  std::vector<ColumnMeta> cols;
  std::vector<Value> values;
  static Arena arena(1 << 16);
  for (const PgCol& c : kCols) {
    auto type = postgres::ResolvePgType(c.oid, nullptr);
    EXPECT_TRUE(type.ok()) << c.name;
    ColumnMeta meta;
    meta.name = c.name;
    postgres::DescribeColumn(**type, c.typmod, meta);
    cols.push_back(meta);
    auto v = postgres::DecodePgText(**type, c.text, arena);
    EXPECT_TRUE(v.ok()) << c.name << ": " << v.status().message();
    values.push_back(*v);
  }
  auto table = MakeTable("public", "t", cols, {0});
  SinkChange ch = MakeChange(table, Op::kInsert, values, {}, 1700000000000, StreamPos{"0/16B3748", 0x16B3748, 1});
  EncoderOptions o;
  o.format = "debezium";
  o.schemas = true;
  o.debezium_profile = profile;
  o.now_ms = 1700000000001;
  auto enc = MakeEncoder(o);
  EXPECT_TRUE(enc.ok());
  std::vector<Message> out;
  Status st = (*enc)->EncodeChange(ch, ChangeContext{}, out);
  EXPECT_TRUE(st.ok()) << st.message();
  if (out.empty() || !out[0].value) return nullptr;
  return nlohmann::json::parse(*out[0].value);
}

nlohmann::json FieldSchema(const nlohmann::json& envelope, const std::string& struct_field, const std::string& name) {
  for (const auto& s : envelope["fields"]) {
    if (s["field"] != struct_field) continue;
    for (const auto& f : s["fields"]) {
      if (f["field"] == name) return f;
    }
  }
  return nullptr;
}

TEST(DebeziumPostgresTest, NativeProfileUsesThePostgresConnectorsTypes) {
  nlohmann::json m = Render("native");
  ASSERT_FALSE(m.is_null());
  const auto& after = m["payload"]["after"];
  EXPECT_EQ(after["id"], 7);
  EXPECT_EQ(after["flag"], true);
  EXPECT_EQ(after["u"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  // 14 months of 30.4375 days, -3 days, 4:05:06.5.
  EXPECT_EQ(after["span"], int64_t{14} * 2629800 * 1000000 - int64_t{3} * 86400 * 1000000 + int64_t{14706500000});
  EXPECT_EQ(after["n"], nlohmann::json::parse(R"({"scale":4,"value":"/h3G"})"));  // -123450 two's complement
  EXPECT_EQ(after["price"], "B8Y=");                                                // 1990, Decimal bytes
  EXPECT_EQ(after["tags"], nlohmann::json::parse("[1,null,3]"));
  EXPECT_EQ(after["at"], "2024-01-31T12:34:56.789Z");

  const auto& schema = m["schema"];
  EXPECT_EQ(FieldSchema(schema, "after", "flag")["type"], "boolean");
  EXPECT_EQ(FieldSchema(schema, "after", "u")["name"], "io.debezium.data.Uuid");
  EXPECT_EQ(FieldSchema(schema, "after", "span")["name"], "io.debezium.time.MicroDuration");
  EXPECT_EQ(FieldSchema(schema, "after", "span")["type"], "int64");
  EXPECT_EQ(FieldSchema(schema, "after", "n")["name"], "io.debezium.data.VariableScaleDecimal");
  EXPECT_EQ(FieldSchema(schema, "after", "price")["name"], "org.apache.kafka.connect.data.Decimal");
  EXPECT_EQ(FieldSchema(schema, "after", "tags")["type"], "array");
  EXPECT_EQ(FieldSchema(schema, "after", "tags")["items"]["type"], "int32");
  EXPECT_EQ(FieldSchema(schema, "after", "at")["name"], "io.debezium.time.ZonedTimestamp");
}

// The schema block names the PostgreSQL connector's source fields, in the
// payload's order, and every column of the payload has a field schema.
TEST(DebeziumPostgresTest, TheSchemaBlockDescribesThePayload) {
  for (std::string profile : {"flink", "native"}) {
    nlohmann::json m = Render(profile);
    ASSERT_FALSE(m.is_null()) << profile;
    const auto& payload = m["payload"];
    EXPECT_EQ(payload["source"]["connector"], "postgresql");
    EXPECT_EQ(payload["source"]["lsn"], 0x16B3748);
    nlohmann::json source_schema;
    for (const auto& f : m["schema"]["fields"]) {
      if (f["field"] == "source") source_schema = f;
    }
    EXPECT_EQ(source_schema["name"], "io.debezium.connector.postgresql.Source");
    std::vector<std::string> declared, sent;
    for (const auto& f : source_schema["fields"]) declared.push_back(f["field"]);
    for (const auto& [k, v] : payload["source"].items()) sent.push_back(k);
    std::sort(declared.begin(), declared.end());
    std::sort(sent.begin(), sent.end());
    EXPECT_EQ(declared, sent) << profile;
    for (const auto& [k, v] : payload["after"].items()) {
      nlohmann::json f = FieldSchema(m["schema"], "after", k);
      ASSERT_FALSE(f.is_null()) << profile << " " << k;
      const std::string type = f["type"];
      // The Kafka Connect type fits the value's JSON kind.
      const bool fits = v.is_boolean()          ? type == "boolean"
                        : v.is_string()         ? type == "string" || type == "bytes"
                        : v.is_number_integer() ? type.starts_with("int")
                        : v.is_array()          ? type == "array"
                        : v.is_object()         ? type == "struct"
                                                : true;
      EXPECT_TRUE(fits) << profile << " " << k << ": " << type << " for " << v.dump();
    }
  }
  // The flink profile keeps text where native has Debezium's encodings.
  nlohmann::json flink = Render("flink");
  EXPECT_EQ(flink["payload"]["after"]["span"], "1 year 2 mons -3 days 04:05:06.5");
  EXPECT_EQ(flink["payload"]["after"]["n"], "-12.3450");
}

TEST(DebeziumPostgresTest, IntervalMicros) {
  constexpr int64_t s = 1000000;
  EXPECT_EQ(*debezium::PgIntervalMicros("00:00:00.000001"), 1);
  EXPECT_EQ(*debezium::PgIntervalMicros("-00:00:01.5"), -1500000);
  EXPECT_EQ(*debezium::PgIntervalMicros("-1 days +02:00:00"), -86400 * s + 7200 * s);
  EXPECT_EQ(*debezium::PgIntervalMicros("1 mon"), 2629800 * s);
  EXPECT_EQ(*debezium::PgIntervalMicros("-2 years"), -24 * 2629800 * s);
  EXPECT_EQ(*debezium::PgIntervalMicros("100:00:00"), 360000 * s);
  EXPECT_FALSE(debezium::PgIntervalMicros("").ok());
  EXPECT_FALSE(debezium::PgIntervalMicros("3 fortnights").ok());
  EXPECT_FALSE(debezium::PgIntervalMicros("178000000 years").ok());  // beyond int64 microseconds
}

}  // namespace
}  // namespace sluice::format
