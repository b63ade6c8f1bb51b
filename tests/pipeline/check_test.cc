// The pure parts of the consistency check: value comparison across type
// families, row matching by key and as multisets, binlog position order, and
// how differing keys are printed.

#include "pipeline/check.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::pipeline {

void PrintTo(const RowMismatch& m, std::ostream* os) {
  *os << DiffKindName(m.kind) << "(source " << m.source_row << ", target " << m.target_row << ")";
}

namespace {

Value Text(std::string_view s) { return Value::Str(ValueKind::kText, s); }
Value Dec(std::string_view s) { return Value::Str(ValueKind::kDecimal, s); }

std::string Bytes(const Value& v) {
  std::string out;
  AppendValueBytes(out, v);
  return out;
}

TEST(SameCheckedValueTest, IntegersBySignednessFreeValue) {
  EXPECT_TRUE(SameCheckedValue(Value::Int(7), Value::UInt(7)));
  EXPECT_TRUE(SameCheckedValue(Value::Int(2024), Value::Year(2024)));
  EXPECT_FALSE(SameCheckedValue(Value::Int(7), Value::Int(8)));
  EXPECT_FALSE(SameCheckedValue(Value::Int(7), Text("7")));
  EXPECT_EQ(Bytes(Value::Int(7)), Bytes(Value::UInt(7)));
}

TEST(SameCheckedValueTest, NullsAndStrings) {
  EXPECT_TRUE(SameCheckedValue(Value::Null(), Value::Null()));
  EXPECT_FALSE(SameCheckedValue(Value::Null(), Text("")));
  EXPECT_FALSE(SameCheckedValue(Value::Null(), Value::Int(0)));
  EXPECT_NE(Bytes(Value::Null()), Bytes(Text("")));
  // VARCHAR on one side, ENUM or VARBINARY on the other: same text.
  EXPECT_TRUE(SameCheckedValue(Text("paid"), Value::Str(ValueKind::kEnum, "paid")));
  EXPECT_TRUE(SameCheckedValue(Text("ab"), Value::Str(ValueKind::kBytes, "ab")));
  EXPECT_EQ(Bytes(Text("paid")), Bytes(Value::Str(ValueKind::kEnum, "paid")));
  EXPECT_FALSE(SameCheckedValue(Text("a"), Text("A")));  // bytes, not collation
  // DATETIME vs TIMESTAMP (both UTC text); a DATE is another family.
  EXPECT_TRUE(SameCheckedValue(Value::Str(ValueKind::kDateTime, "2024-01-01 00:00:00"),
                               Value::Str(ValueKind::kTimestamp, "2024-01-01 00:00:00")));
  EXPECT_FALSE(SameCheckedValue(Value::Str(ValueKind::kDate, "2024-01-01"), Text("2024-01-01")));
  // Decimals are their exact text: a different scale is a different value.
  EXPECT_TRUE(SameCheckedValue(Dec("1.50"), Dec("1.50")));
  EXPECT_FALSE(SameCheckedValue(Dec("1.50"), Dec("1.5")));
}

TEST(SameCheckedValueTest, RealsByValue) {
  EXPECT_TRUE(SameCheckedValue(Value::Double(0.0), Value::Double(-0.0)));
  EXPECT_EQ(Bytes(Value::Double(0.0)), Bytes(Value::Double(-0.0)));
  EXPECT_TRUE(SameCheckedValue(Value::Float(1.5f), Value::Double(1.5)));
  EXPECT_FALSE(SameCheckedValue(Value::Double(1.5), Value::Double(1.25)));
}

TEST(AppendValueBytesTest, LengthPrefixKeepsAdjacentValuesApart) {
  std::string a = Bytes(Text("ab")) + Bytes(Text("c"));
  std::string b = Bytes(Text("a")) + Bytes(Text("bc"));
  EXPECT_NE(a, b);
}

// Rows of (id, name) as flat arrays.
std::vector<Value> Rows(std::initializer_list<std::pair<int, const char*>> rows) {
  std::vector<Value> out;
  for (const auto& [id, name] : rows) {
    out.push_back(Value::Int(id));
    out.push_back(name ? Text(name) : Value::Null());
  }
  return out;
}

TEST(DiffRowsTest, EqualRowsInAnyOrderHaveNoDifference) {
  auto src = Rows({{1, "a"}, {2, "b"}, {3, nullptr}});
  auto dst = Rows({{3, nullptr}, {1, "a"}, {2, "b"}});
  EXPECT_TRUE(DiffRows(src, dst, 2, {0}).empty());
  EXPECT_TRUE(DiffRows(src, dst, 2, {}).empty());
  EXPECT_TRUE(DiffRows({}, {}, 2, {0}).empty());
}

TEST(DiffRowsTest, KeyedMissingExtraDifferent) {
  auto src = Rows({{1, "a"}, {2, "b"}, {3, "c"}, {5, nullptr}});
  auto dst = Rows({{2, "b"}, {3, "C"}, {4, "d"}, {5, ""}});
  std::vector<RowMismatch> want = {
      {DiffKind::kMissing, 0, -1},   // 1
      {DiffKind::kDifferent, 2, 1},  // 3: "c" vs "C"
      {DiffKind::kDifferent, 3, 3},  // 5: NULL vs ""
      {DiffKind::kExtra, -1, 2},     // 4
  };
  EXPECT_EQ(DiffRows(src, dst, 2, {0}), want);
}

TEST(DiffRowsTest, EverythingMissingOrExtra) {
  auto rows = Rows({{1, "a"}, {2, "b"}});
  std::vector<RowMismatch> missing = {{DiffKind::kMissing, 0, -1}, {DiffKind::kMissing, 1, -1}};
  EXPECT_EQ(DiffRows(rows, {}, 2, {0}), missing);
  std::vector<RowMismatch> extra = {{DiffKind::kExtra, -1, 0}, {DiffKind::kExtra, -1, 1}};
  EXPECT_EQ(DiffRows({}, rows, 2, {0}), extra);
}

TEST(DiffRowsTest, CompositeKeyMatchesOnEveryPart) {
  // (a, b) key over three columns.
  std::vector<Value> src = {Value::Int(1), Text("x"), Value::Int(10), Value::Int(1), Text("y"), Value::Int(20)};
  std::vector<Value> dst = {Value::Int(1), Text("y"), Value::Int(20), Value::Int(1), Text("z"), Value::Int(10)};
  std::vector<RowMismatch> want = {{DiffKind::kMissing, 0, -1}, {DiffKind::kExtra, -1, 1}};
  EXPECT_EQ(DiffRows(src, dst, 3, {0, 1}), want);
}

TEST(DiffRowsTest, KeylessRowsAreMultisets) {
  // Duplicates count: two equal source rows need two equal target rows.
  auto src = Rows({{1, "a"}, {1, "a"}, {2, "b"}});
  auto dst = Rows({{2, "b"}, {1, "a"}, {3, "c"}, {2, "b"}});
  std::vector<RowMismatch> want = {
      {DiffKind::kMissing, 1, -1},  // the second (1, a)
      {DiffKind::kExtra, -1, 2},    // (3, c)
      {DiffKind::kExtra, -1, 3},    // the second (2, b)
  };
  EXPECT_EQ(DiffRows(src, dst, 2, {}), want);
  // A changed keyless row is one missing and one extra row.
  auto changed = Rows({{1, "A"}, {1, "a"}, {2, "b"}});
  std::vector<RowMismatch> want2 = {{DiffKind::kMissing, 0, -1}, {DiffKind::kExtra, -1, 1}};
  EXPECT_EQ(DiffRows(changed, Rows({{1, "a"}, {1, "a"}, {2, "b"}}), 2, {}), want2);
}

TEST(PositionReachedTest, ComparesFileSequenceThenOffset) {
  EXPECT_TRUE(PositionReached("binlog.000002:400", "binlog.000002:400"));
  EXPECT_TRUE(PositionReached("binlog.000002:500", "binlog.000002:400"));
  EXPECT_FALSE(PositionReached("binlog.000002:300", "binlog.000002:400"));
  EXPECT_TRUE(PositionReached("binlog.000003:4", "binlog.000002:9999"));
  EXPECT_FALSE(PositionReached("binlog.000002:9999", "binlog.000003:4"));
  // By sequence number, not text: binlog.1000000 comes after binlog.999999.
  EXPECT_TRUE(PositionReached("binlog.1000000:4", "binlog.999999:100"));
  EXPECT_FALSE(PositionReached("", "binlog.000001:4"));
  EXPECT_FALSE(PositionReached("binlog.000001:4", "garbage"));
}

TEST(DescribeRowKeyTest, TextAndJson) {
  std::vector<Value> one = {Value::Int(7)};
  EXPECT_EQ(DescribeRowKey({"id"}, one), "id=7");
  EXPECT_EQ(RowKeyJson({"id"}, one), "{\"id\":7}");
  std::vector<Value> two = {Value::UInt(1), Text("it's")};
  EXPECT_EQ(DescribeRowKey({"a", "b"}, two), "(a=1, b='it\\'s')");
  std::vector<Value> mixed = {Dec("12.50"), Value::Null(), Value::Str(ValueKind::kBytes, "\x01")};
  auto j = nlohmann::json::parse(RowKeyJson({"d", "n", "b"}, mixed));
  EXPECT_EQ(j["d"], "12.50");  // decimals as strings, like the change format
  EXPECT_TRUE(j["n"].is_null());
  EXPECT_EQ(j["b"], "AQ==");  // bytes in base64
}

TEST(CheckReportTest, Totals) {
  CheckReport r;
  EXPECT_TRUE(r.consistent());
  EXPECT_FALSE(r.repaired());
  TargetCheckReport t;
  TableCheckReport a;
  a.missing = 2;
  a.different = 1;
  TableCheckReport b;
  b.extra = 1;
  t.tables = {a, b};
  r.targets.push_back(t);
  EXPECT_EQ(r.differences(), 4u);
  EXPECT_EQ(r.remaining(), 4u);
  EXPECT_FALSE(r.consistent());
  r.targets[0].repair_ran = true;
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(r.repaired());
  r.targets[0].tables[1].remaining = 1;
  EXPECT_FALSE(r.repaired());
  r.targets[0].tables[1].remaining = 0;
  r.targets[0].tables.push_back(TableCheckReport{});
  r.targets[0].tables.back().error = "target table `x`.`y` does not exist";
  EXPECT_TRUE(r.has_errors());
  EXPECT_FALSE(r.repaired());
}

TEST(CanonicalJsonTest, EqualDocumentsAsJsonbStoresThem) {
  // MariaDB keeps the text as written; jsonb sorts keys, drops duplicates
  // (the last wins), respaces, and spells numbers its own way.
  EXPECT_EQ(CanonicalJson(R"({"b": [true, null], "a": 1})"), CanonicalJson(R"({"a":1,"b":[true,null]})"));
  EXPECT_EQ(CanonicalJson(R"({"a": 1, "a": 2})"), CanonicalJson(R"({"a": 2})"));
  EXPECT_EQ(CanonicalJson("[1e2, 1.0, \"\\u00e9\"]"), CanonicalJson("[100, 1, \"\u00e9\"]"));
  EXPECT_NE(CanonicalJson(R"({"a": 1})"), CanonicalJson(R"({"a": 2})"));
  EXPECT_NE(CanonicalJson(R"({"a": 1.5})"), CanonicalJson(R"({"a": 1})"));
  EXPECT_NE(CanonicalJson(R"(["x"])"), CanonicalJson(R"(["X"])"));
  EXPECT_FALSE(CanonicalJson("not json").has_value());
}

}  // namespace
}  // namespace sluice::pipeline
