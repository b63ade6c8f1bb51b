#include "core/json_writer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sluice {
namespace {

TEST(JsonWriterTest, EscapesStrings) {
  std::string out;
  AppendJsonString(out, std::string_view("a\"b\\c\n\x01\xc3\xa9", 9));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
}

TEST(JsonWriterTest, Base64) {
  for (auto [in, want] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"\xff\xfe", "//4="}}) {
    std::string out;
    AppendBase64(out, in);
    EXPECT_EQ(out, want) << in;
  }
}

TEST(JsonWriterTest, RowChangeFollowsTheContract) {
  TableSchema t;
  t.db = "shop";
  t.table = "orders";
  t.columns.resize(4);
  t.columns[0].name = "id";
  t.columns[1].name = "status";
  t.columns[2].name = "amount";
  t.columns[3].name = "big";
  t.primary_key = {0};
  std::vector<Value> before{Value::Int(7), Value::Str(ValueKind::kText, "new"),
                            Value::Str(ValueKind::kDecimal, "19.90"), Value::UInt(18446744073709551615ull)};
  std::vector<Value> after = before;
  after[1] = Value::Str(ValueKind::kText, "paid");
  after[3] = Value::Absent();
  RowChange c;
  c.op = Op::kUpdate;
  c.table = &t;
  c.before = &before;
  c.after = &after;
  c.ts_ms = 1732450000000;
  c.gtid = "0-1-42";
  c.file = "binlog.000003";
  c.offset = 1234;
  std::string out;
  AppendRowChangeJson(out, c);
  EXPECT_EQ(out,
            "{\"op\":\"update\",\"db\":\"shop\",\"table\":\"orders\",\"pk\":[\"id\"],"
            "\"before\":{\"id\":7,\"status\":\"new\",\"amount\":\"19.90\",\"big\":18446744073709551615},"
            "\"after\":{\"id\":7,\"status\":\"paid\",\"amount\":\"19.90\"},"
            "\"ts_ms\":1732450000000,\"gtid\":\"0-1-42\",\"pos\":\"binlog.000003:1234\"}\n");
  auto parsed = nlohmann::json::parse(out);
  EXPECT_EQ(parsed["before"]["big"].get<uint64_t>(), 18446744073709551615ull);
}

TEST(JsonWriterTest, ValueKinds) {
  auto render = [](const Value& v) {
    std::string s;
    AppendJsonValue(s, v);
    return s;
  };
  EXPECT_EQ(render(Value::Null()), "null");
  EXPECT_EQ(render(Value::Float(1.1f)), "1.1");
  EXPECT_EQ(render(Value::Double(0.1)), "0.1");
  EXPECT_EQ(render(Value::Int(-9223372036854775807ll - 1)), "-9223372036854775808");
  EXPECT_EQ(render(Value::Str(ValueKind::kBytes, std::string_view("\x00\x01", 2))), "\"AAE=\"");
  EXPECT_EQ(render(Value::Str(ValueKind::kJson, "{\"a\":[1,2]}")), "{\"a\":[1,2]}");
  EXPECT_EQ(render(Value::Year(2024)), "2024");
  EXPECT_EQ(render(Value::Bit(5)), "5");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(JsonWriterTest, EscapingIsExactAtEveryOffset) {
  // The word-at-a-time scan must find special bytes wherever they fall.
  for (size_t len = 0; len < 40; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      for (char special : {'"', '\\', '\n', '\x01', '\x1f'}) {
        std::string s(len, 'a');
        s[pos] = special;
        std::string out;
        AppendJsonString(out, s);
        auto parsed = nlohmann::json::parse(out);
        ASSERT_EQ(parsed.get<std::string>(), s) << len << " " << pos;
      }
      // Bytes either side of the escaped ranges (signed/unsigned compares) pass through as they are.
      for (char plain : {' ', '!', '#', '[', ']', '\x7f', '\x80', '\xff'}) {
        std::string s(len, 'a');
        s[pos] = plain;
        std::string out;
        AppendJsonString(out, s);
        ASSERT_EQ(out, '"' + s + '"') << len << " " << pos << " " << static_cast<int>(plain);
      }
    }
  }
  std::string out;
  AppendJsonString(out, "\xc3\xa9\xe2\x82\xac plain ascii words longer than eight");
  EXPECT_EQ(out, "\"\xc3\xa9\xe2\x82\xac plain ascii words longer than eight\"");
}

TEST(JsonWriterTest, RowWriterMatchesTheReferenceRendering) {
  auto t = std::make_shared<TableSchema>();
  t->db = "d\"b";
  t->table = "t";
  t->columns.resize(3);
  t->columns[0].name = "id";
  t->columns[1].name = "na\"me";
  t->columns[2].name = "v";
  t->primary_key = {0};
  std::vector<Value> before{Value::Int(1), Value::Str(ValueKind::kText, "x"), Value::Null()};
  std::vector<Value> after{Value::Int(1), Value::Absent(), Value::Double(2.5)};
  RowChange c;
  c.op = Op::kUpdate;
  c.table = t.get();
  c.table_ptr = t;
  c.before = &before;
  c.after = &after;
  c.ts_ms = 5;
  c.file = "binlog.000001";
  c.offset = 9;
  JsonRowWriter w;
  for (int i = 0; i < 2; ++i) {  // the second call uses the cached parts
    std::string a, b;
    AppendRowChangeJson(a, c);
    w.Append(b, c);
    EXPECT_EQ(a, b);
  }
}

}  // namespace
}  // namespace sluice
