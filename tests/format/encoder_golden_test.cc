// Every encoder's exact bytes for a fixed set of changes and DDL, against a
// golden file written by the encoders before their hot path was rewritten
// (direct appends, per-table caches): a speed change must not change a byte.
// After an intended format change, regenerate it with
//   SLUICE_WRITE_GOLDEN=1 build/tests/unit_tests --gtest_filter='EncoderGolden*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "format/change_builder.h"
#include "format/format.h"

namespace sluice::format::testing {
namespace {

namespace m = sluice::mysql;

const std::string kGoldenPath = std::string(SLUICE_TEST_DATA_DIR) + "/format/encoder_golden.txt";

TargetTablePtr WideTable() {
  ColumnMeta bigint_u = Col("c_bigint_u", m::kTypeLongLong);
  bigint_u.is_unsigned = true;
  ColumnMeta int_u = Col("c_int_u", m::kTypeLong);
  int_u.is_unsigned = true;
  return MakeTable("shop", "orders",
                   {Col("id", m::kTypeLong), Col("c_tiny", m::kTypeTiny), int_u, Col("c_bigint", m::kTypeLongLong),
                    bigint_u, Col("c_float", m::kTypeFloat, 4), Col("c_double", m::kTypeDouble, 8),
                    Col("c_decimal", m::kTypeNewDecimal, (12 << 8) | 4), Col("c_date", m::kTypeDate),
                    Col("c_time", m::kTypeTime2, 6), Col("c_datetime", m::kTypeDateTime2, 3),
                    Col("c_timestamp", m::kTypeTimestamp2, 0), Col("c_year", m::kTypeYear),
                    Col("c_bit1", m::kTypeBit, 1), Col("c_bit12", m::kTypeBit, (1 << 8) | 4),
                    StringCol("c_char", m::kTypeString, 40), Col("c_varchar", m::kTypeVarchar, 400),
                    Col("c_blob", m::kTypeBlob, 2, false, Charset::kBinary),
                    StringCol("c_enum", m::kTypeEnum, 1, Charset::kUtf8, {"small", "medium", "large"}),
                    StringCol("c_set", m::kTypeSet, 1, Charset::kUtf8, {"a", "b", "c"}),
                    Col("c_json", m::kTypeJson, 4), Col("c_null", m::kTypeLong)},
                   {0});
}

std::vector<Value> WideRow(int64_t id, std::string_view text) {
  return {Value::Int(id),
          Value::Int(-5),
          Value::UInt(4294967295u),
          Value::Int(INT64_MIN),
          Value::UInt(9223372036854775807ull),
          Value::Float(3.14f),
          Value::Double(1e20),
          Value::Str(ValueKind::kDecimal, "-12345678.9012"),
          Value::Str(ValueKind::kDate, "2024-02-29"),
          Value::Str(ValueKind::kTime, "12:34:56.789012"),
          Value::Str(ValueKind::kDateTime, "2024-01-31 12:34:56.789"),
          Value::Str(ValueKind::kTimestamp, "2024-01-31 23:59:59"),
          Value::Year(2024),
          Value::Bit(1),
          Value::Bit(0xabc),
          Value::Str(ValueKind::kText, "fixed"),
          Value::Str(ValueKind::kText, text),
          Value::Str(ValueKind::kBytes, std::string_view("\x00\xff\x10" "A", 4)),
          Value::Str(ValueKind::kEnum, "medium"),
          Value::Str(ValueKind::kSet, "a,c"),
          Value::Str(ValueKind::kJson, "{\"k\":[1,2]}"),
          Value::Null()};
}

// Names that need escaping, a composite key, and a keyless table.
TargetTablePtr OddTable() {
  return MakeTable("d\"b", "t\\ä", {Col("k\"1", m::kTypeLong), Col("k\n2", m::kTypeVarchar, 40), Col("v", m::kTypeVarchar, 40)},
                   {0, 1});
}
TargetTablePtr KeylessTable() {
  return MakeTable("shop", "log", {Col("a", m::kTypeLong), Col("b", m::kTypeVarchar, 40)}, {});
}

std::string Render(const EncoderOptions& options) {
  auto made = MakeEncoder(options);
  EXPECT_TRUE(made.ok());
  Encoder& enc = **made;
  std::ostringstream out;
  auto emit = [&](const std::string& what, const Status& st, const std::vector<Message>& msgs) {
    out << "# " << what << "\n";
    if (!st.ok()) out << "ERROR " << st.message() << "\n";
    for (const Message& msg : msgs) out << msg.key << "\t" << (msg.value ? *msg.value : "<tombstone>") << "\n";
  };
  auto change = [&](const std::string& what, const SinkChange& ch, std::string_view gtid, bool last) {
    std::string position;
    ChangeContext ctx;
    ctx.gtid = gtid;
    ctx.position = "binlog.000003:1234";
    ctx.server_id = 7;
    ctx.xid = 1234;
    ctx.last_in_transaction = last;
    std::vector<Message> msgs;
    Status st = enc.EncodeChange(ch, ctx, msgs);
    emit(what, st, msgs);
  };
  TargetTablePtr wide = WideTable();
  change("insert", MakeChange(wide, Op::kInsert, WideRow(1, "plain")), "", false);
  change("insert again (cached table)", MakeChange(wide, Op::kInsert, WideRow(2, "tab\there \"q\" \\ é 😀")),
         "3E11FA47-71CA-11E1-9E33-C80AA9429562:23", true);
  SinkChange snap = MakeChange(wide, Op::kInsert, WideRow(3, "snap"));
  snap.snapshot = true;
  change("snapshot", snap, "", true);
  std::vector<Value> before = WideRow(4, "old");
  before[1] = Value::Int(99);
  before[20] = Value::Null();
  change("update", MakeChange(wide, Op::kUpdate, WideRow(4, "new"), before, 1700000000123, {"binlog.000003", 1234, 5}),
         "", false);
  change("delete", MakeChange(wide, Op::kDelete, WideRow(5, "gone"), {}, 1700000000999, {"binlog.000004", 4, 2}), "",
         true);
  TargetTablePtr odd = OddTable();
  change("odd names insert",
         MakeChange(odd, Op::kInsert,
                    {Value::Int(1), Value::Str(ValueKind::kText, "x\"y"), Value::Str(ValueKind::kText, "\x01")}),
         "", false);
  change("odd names delete",
         MakeChange(odd, Op::kDelete, {Value::Int(1), Value::Str(ValueKind::kText, "x\"y"), Value::Null()}), "",
         true);
  TargetTablePtr keyless = KeylessTable();
  change("keyless insert", MakeChange(keyless, Op::kInsert, {Value::Int(1), Value::Str(ValueKind::kText, "b")}), "",
         false);
  change("keyless delete", MakeChange(keyless, Op::kDelete, {Value::Int(1), Value::Str(ValueKind::kText, "b")}), "",
         true);
  // Errors name table, column and position.
  std::vector<Value> bad = WideRow(6, "bad");
  bad[18] = Value::Str(ValueKind::kEnum, "huge");
  bad[4] = Value::UInt(UINT64_MAX);
  change("bad enum member / bigint beyond int64", MakeChange(wide, Op::kInsert, bad), "", true);
  std::vector<Value> unknown = WideRow(7, "unknown");
  unknown[18] = Value::UInt(2);
  change("enum by index", MakeChange(wide, Op::kInsert, unknown), "", true);

  DdlEvent ddl;
  ddl.db = "shop";
  ddl.table = "orders";
  ddl.query = "ALTER TABLE orders ADD COLUMN \"x\" INT";
  ddl.ts_ms = 1700000000000;
  ddl.gtid = "3E11FA47-71CA-11E1-9E33-C80AA9429562:24";
  ddl.position = "binlog.000003:5678";
  for (const char* q : {"ALTER TABLE orders ADD COLUMN \"x\" INT", "CREATE DATABASE shop2", "/*!40000 DROP TABLE t */",
                        "TRUNCATE t", "RENAME TABLE a TO b", "CREATE UNIQUE INDEX i ON t (a)", "GRANT ALL"}) {
    ddl.query = q;
    std::vector<Message> msgs;
    Status st = enc.EncodeDdl(ddl, msgs);
    emit(std::string("ddl ") + q, st, msgs);
  }
  ddl.table.clear();
  ddl.gtid = {};
  std::vector<Message> msgs;
  Status st = enc.EncodeDdl(ddl, msgs);
  emit("ddl without table or gtid", st, msgs);
  return out.str();
}

std::string RenderAll() {
  std::string all;
  for (std::string format : {"json", "canal", "maxwell", "debezium"}) {
    for (std::string profile : {"flink", "native"}) {
      for (bool schemas : {false, true}) {
        if (format != "debezium" && (profile != "flink" || schemas)) continue;
        EncoderOptions o;
        o.format = format;
        o.debezium_profile = profile;
        o.schemas = schemas;
        o.now_ms = 1700000001000;
        all += "=== " + format + " profile " + profile + " schemas " + (schemas ? "on" : "off") + "\n";
        all += Render(o);
      }
    }
  }
  EncoderOptions o;
  o.format = "debezium";
  o.tombstones = false;
  o.server_name = "srv\"1";
  o.now_ms = 1700000001000;
  all += "=== debezium without tombstones, odd server name\n" + Render(o);
  return all;
}

TEST(EncoderGoldenTest, EveryFormatByteForByte) {
  std::string got = RenderAll();
  if (std::getenv("SLUICE_WRITE_GOLDEN") != nullptr) {
    std::ofstream(kGoldenPath, std::ios::binary) << got;
    GTEST_SKIP() << "wrote " << kGoldenPath;
  }
  std::ifstream in(kGoldenPath, std::ios::binary);
  ASSERT_TRUE(in.good()) << kGoldenPath;
  std::stringstream want;
  want << in.rdbuf();
  // Line by line, so that a difference is shown where it is.
  std::istringstream a(want.str()), b(got);
  std::string wl, gl;
  for (int line = 1; std::getline(a, wl); ++line) {
    ASSERT_TRUE(std::getline(b, gl)) << "output ends before golden line " << line;
    ASSERT_EQ(wl, gl) << "golden line " << line;
  }
  EXPECT_FALSE(std::getline(b, gl)) << "output has more lines than the golden file";
}

}  // namespace
}  // namespace sluice::format::testing
