// Keys, field values and the commands each mode sends (no server).
#include "sink/redis/redis_commands.h"

#include <gtest/gtest.h>

namespace sluice::sink::redis {
namespace {

TargetTablePtr Table(std::vector<std::string> columns, std::vector<uint32_t> key) {
  auto t = std::make_shared<TargetTable>();
  t->db = "shop";
  t->table = "orders";
  t->columns = std::move(columns);
  t->key = std::move(key);
  t->source = "shop.orders";
  return t;
}

SinkChange Change(TargetTablePtr t, SinkChange::Kind kind, Op op, std::vector<Value> values) {
  SinkChange c;
  c.kind = kind;
  c.op = op;
  c.table = std::move(t);
  c.values = std::move(values);
  c.pos = StreamPos{"binlog.000001", 400, 2};
  c.ts_ms = 1700000000000;
  return c;
}

std::string Text(const Value& v) {
  std::string out;
  AppendFieldText(out, v);
  return out;
}

TEST(RedisFieldText, IsTheSection4JsonValueWithoutQuotes) {
  EXPECT_EQ(Text(Value::Int(-7)), "-7");
  EXPECT_EQ(Text(Value::UInt(18446744073709551615ull)), "18446744073709551615");
  EXPECT_EQ(Text(Value::Str(ValueKind::kDecimal, "19.90")), "19.90");
  EXPECT_EQ(Text(Value::Str(ValueKind::kText, "say \"hi\"\n")), "say \"hi\"\n");  // not JSON-escaped
  EXPECT_EQ(Text(Value::Str(ValueKind::kBytes, std::string_view("\x00\xff", 2))), "AP8=");
  EXPECT_EQ(Text(Value::Str(ValueKind::kJson, "{\"a\": [1, 2]}")), "{\"a\": [1, 2]}");
  EXPECT_EQ(Text(Value::Str(ValueKind::kSet, "a,c")), "a,c");
  EXPECT_EQ(Text(Value::Str(ValueKind::kDateTime, "2024-01-31 12:34:56.789")), "2024-01-31 12:34:56.789");
  EXPECT_EQ(Text(Value::Year(2024)), "2024");
  EXPECT_EQ(Text(Value::Bit(5)), "5");
  EXPECT_EQ(Text(Value::Double(1.5)), "1.5");
}

TEST(RedisKeyTemplate, JoinsKeyValuesAndEscapesColons) {
  auto t = Table({"a", "b", "v"}, {0, 1});
  auto keys = KeyTemplate::Parse("${pipeline}/${db}:${table}:${pk}", "p1");
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  std::string key;
  keys->Expand(key, Change(t, SinkChange::Kind::kUpsert, Op::kInsert,
                           {Value::Str(ValueKind::kText, "x:y"), Value::Str(ValueKind::kText, "back\\slash"),
                            Value::Int(1)}));
  EXPECT_EQ(key, "p1/shop:orders:x\\:y:back\\\\slash");
  EXPECT_EQ(keys->MatchPattern("shop", "or*ders"), "p1/shop:or\\*ders:*");
  EXPECT_EQ(keys->MatchPattern("shop", ""), "p1/shop:*:*");
  EXPECT_FALSE(KeyTemplate::Parse("${db}:${nope}", "p").ok());
}

TEST(RedisCommands, HashInsertReplacesTheHashWithNonNullFields) {
  auto b = CommandBuilder::Make("hash", "${db}:${table}:${pk}", "p");
  ASSERT_TRUE(b.ok());
  auto t = Table({"id", "note", "amount"}, {0});
  std::vector<Command> out;
  std::string key;
  ASSERT_TRUE(b->Build(Change(t, SinkChange::Kind::kUpsert, Op::kInsert,
                              {Value::Int(7), Value::Null(), Value::Str(ValueKind::kDecimal, "1.50")}),
                       out, &key)
                  .ok());
  EXPECT_EQ(key, "shop:orders:7");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (Command{"DEL", "shop:orders:7"}));
  EXPECT_EQ(out[1], (Command{"HSET", "shop:orders:7", "id", "7", "amount", "1.50"}));
}

TEST(RedisCommands, HashUpdateSetsAndDeletesNullFields) {
  auto b = CommandBuilder::Make("hash", "${db}:${table}:${pk}", "p");
  auto t = Table({"id", "note", "amount"}, {0});
  std::vector<Command> out;
  std::string key;
  ASSERT_TRUE(b->Build(Change(t, SinkChange::Kind::kUpsert, Op::kUpdate,
                              {Value::Int(7), Value::Null(), Value::Str(ValueKind::kDecimal, "2.00")}),
                       out, &key)
                  .ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (Command{"HSET", "shop:orders:7", "id", "7", "amount", "2.00"}));
  EXPECT_EQ(out[1], (Command{"HDEL", "shop:orders:7", "note"}));
  out.clear();
  ASSERT_TRUE(b->Build(Change(t, SinkChange::Kind::kDelete, Op::kDelete, {Value::Int(7), Value::Null(), Value::Null()}),
                       out, &key)
                  .ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (Command{"DEL", "shop:orders:7"}));
}

TEST(RedisCommands, StringModeSetsTheRowJson) {
  auto b = CommandBuilder::Make("string", "c:${pk}", "p");
  ASSERT_TRUE(b.ok());
  auto t = Table({"id", "note", "amount"}, {0});
  std::vector<Command> out;
  std::string key;
  ASSERT_TRUE(b->Build(Change(t, SinkChange::Kind::kUpsert, Op::kInsert,
                              {Value::Int(7), Value::Null(), Value::Str(ValueKind::kDecimal, "1.50")}),
                       out, &key)
                  .ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (Command{"SET", "c:7", R"({"id":7,"note":null,"amount":"1.50"})"}));
}

TEST(RedisCommands, StreamModeAppendsTheChangeToTheTableStream) {
  auto b = CommandBuilder::Make("stream", "${db}:${table}:${pk}", "p");  // the default row template
  ASSERT_TRUE(b.ok()) << b.status().message();
  auto t = Table({"id", "note"}, {0});
  std::vector<Command> out;
  std::string key;
  ASSERT_TRUE(b->Build(Change(t, SinkChange::Kind::kDelete, Op::kDelete,
                              {Value::Int(7), Value::Str(ValueKind::kText, "x")}),
                       out, &key)
                  .ok());
  EXPECT_EQ(key, "shop:orders");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (Command{"XADD", "shop:orders", "*", "op", "delete", "db", "shop", "table", "orders", "key",
                             R"({"id":7})", "before", R"({"id":7,"note":"x"})", "after", "null", "ts_ms",
                             "1700000000000", "gtid", "", "pos", "binlog.000001:400#2"}));
  EXPECT_FALSE(CommandBuilder::Make("stream", "s:${pk}", "p").ok());
  EXPECT_FALSE(CommandBuilder::Make("hash", "${db}:${table}", "p").ok());
}

TEST(RedisCommands, StreamModeAppendsASnapshotRowAsARead) {
  auto b = CommandBuilder::Make("stream", "${db}:${table}", "p");
  ASSERT_TRUE(b.ok()) << b.status().message();
  SinkChange c = Change(Table({"id", "note"}, {0}), SinkChange::Kind::kUpsert, Op::kInsert,
                        {Value::Int(7), Value::Str(ValueKind::kText, "x")});
  c.snapshot = true;
  c.pos = StreamPos{};
  std::vector<Command> out;
  std::string key;
  ASSERT_TRUE(b->Build(c, out, &key).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (Command{"XADD", "shop:orders", "*", "op", "read", "db", "shop", "table", "orders", "key",
                             R"({"id":7})", "before", "null", "after", R"({"id":7,"note":"x"})", "ts_ms",
                             "1700000000000", "gtid", "", "pos", ""}));
}

TEST(RedisCommands, RowModesRejectKeylessTablesAndMissingValues) {
  auto b = CommandBuilder::Make("hash", "${db}:${table}:${pk}", "p");
  std::vector<Command> out;
  std::string key;
  Status st = b->Build(Change(Table({"v"}, {}), SinkChange::Kind::kInsert, Op::kInsert, {Value::Int(1)}), out, &key);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no primary key"), std::string::npos) << st.message();
  st = b->Build(Change(Table({"id", "v"}, {0}), SinkChange::Kind::kUpsert, Op::kUpdate, {Value::Int(1), Value::Absent()}),
                out, &key);
  EXPECT_NE(st.message().find("binlog_row_image=FULL"), std::string::npos) << st.message();
  EXPECT_TRUE(out.empty());
  st = b->Build(Change(Table({"id", "v"}, {0}), SinkChange::Kind::kDelete, Op::kDelete, {Value::Absent(), Value::Int(1)}),
                out, &key);
  EXPECT_NE(st.message().find("column `id` is not in the row image"), std::string::npos) << st.message();
}

// A PostgreSQL source's delete (REPLICA IDENTITY DEFAULT) carries only the
// key: enough to delete the row's key; a stream entry leaves the other
// columns out of "before" rather than calling them null.
TEST(RedisCommands, ADeleteNeedsOnlyItsKey) {
  auto t = Table({"id", "note"}, {0});
  SinkChange del = Change(t, SinkChange::Kind::kDelete, Op::kDelete, {Value::Int(7), Value::Absent()});
  std::vector<Command> out;
  std::string key;
  for (const char* mode : {"hash", "string"}) {
    auto b = CommandBuilder::Make(mode, "${db}:${table}:${pk}", "p");
    ASSERT_TRUE(b.ok());
    out.clear();
    Status st = b->Build(del, out, &key);
    ASSERT_TRUE(st.ok()) << mode << ": " << st.message();
    EXPECT_EQ(out, (std::vector<Command>{{"DEL", "shop:orders:7"}})) << mode;
  }
  auto stream = CommandBuilder::Make("stream", "${db}:${table}", "p");
  ASSERT_TRUE(stream.ok());
  out.clear();
  ASSERT_TRUE(stream->Build(del, out, &key).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][12], R"({"id":7})");  // "before"
}

}  // namespace
}  // namespace sluice::sink::redis
