// The Flink-style checkers read the tools' own messages (Flink's test data
// under SLUICE_FIXTURES_DIR/flink-json) into the changelogs Flink's tests
// expect, and sluice's encoders write messages of the same shape: for an
// equivalent row the same fields in the same order, byte for byte where
// the values can be the same.
#include <gtest/gtest.h>

#include <fstream>

#include "format/format.h"
#include "format/change_builder.h"
#include "format/flink_json_reader.h"

namespace sluice::format::testing {
namespace {

using nlohmann::ordered_json;

std::vector<std::string> FixtureLines(const std::string& name) {
  std::ifstream in(std::string(SLUICE_FIXTURES_DIR) + "/flink-json/" + name);
  EXPECT_TRUE(in) << name;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

const std::vector<FlinkColumn> kProducts = {
    {"id", FlinkType::kInt}, {"name", FlinkType::kString}, {"description", FlinkType::kString},
    {"weight", FlinkType::kFloat}};

std::string Show(const FlinkRow& r) {
  std::string s = std::string(RowKindName(r.kind)) + "[";
  bool first = true;
  for (const auto& c : kProducts) {
    if (!first) s += ", ";
    first = false;
    s += r.values.at(c.name).value_or("null");
  }
  return s + "]";
}

// Flink's CanalJsonSerDeSchemaTest / MaxwellJsonSerDerTest expectations.
const std::vector<std::string> kChangelog = {
    "+I[101, scooter, Small 2-wheel scooter, 3.14]",
    "+I[102, car battery, 12V car battery, 8.1]",
    "+I[103, 12-pack drill bits, 12-pack of drill bits with sizes ranging from #40 to #3, 0.8]",
    "+I[104, hammer, 12oz carpenter's hammer, 0.75]",
    "+I[105, hammer, 14oz carpenter's hammer, 0.875]",
    "+I[106, hammer, 16oz carpenter's hammer, 1]",
    "+I[107, rocks, box of assorted rocks, 5.3]",
    "+I[108, jacket, water resistent black wind breaker, 0.1]",
    "+I[109, spare tire, 24 inch spare tire, 22.2]",
    "-U[106, hammer, 16oz carpenter's hammer, 1]",
    "+U[106, hammer, 18oz carpenter hammer, 1]",
    "-U[107, rocks, box of assorted rocks, 5.3]",
    "+U[107, rocks, box of assorted rocks, 5.1]",
    "+I[110, jacket, water resistent white wind breaker, 0.2]",
    "+I[111, scooter, Big 2-wheel scooter , 5.18]",
    "-U[110, jacket, water resistent white wind breaker, 0.2]",
    "+U[110, jacket, new water resistent white wind breaker, 0.5]",
    "-U[111, scooter, Big 2-wheel scooter , 5.18]",
    "+U[111, scooter, Big 2-wheel scooter , 5.17]",
    "-D[111, scooter, Big 2-wheel scooter , 5.17]",
    "-U[101, scooter, Small 2-wheel scooter, 3.14]",
    "+U[101, scooter, Small 2-wheel scooter, 5.17]",
    "-U[102, car battery, 12V car battery, 8.1]",
    "+U[102, car battery, 12V car battery, 5.17]",
    "-D[102, car battery, 12V car battery, 5.17]",
    "-D[103, 12-pack drill bits, 12-pack of drill bits with sizes ranging from #40 to #3, 0.8]",
};

TEST(FlinkFixtureTest, CheckersReadTheToolsOwnMessagesAsFlinkDoes) {
  std::vector<std::string> canal, maxwell, debezium;
  for (const auto& l : FixtureLines("canal-data.txt")) {
    for (const auto& r : ReadCanal(l, kProducts)) canal.push_back(Show(r));
  }
  for (const auto& l : FixtureLines("maxwell-data.txt")) {
    for (const auto& r : ReadMaxwell(l, kProducts)) maxwell.push_back(Show(r));
  }
  for (const auto& l : FixtureLines("debezium-data-schema-include.txt")) {
    for (const auto& r : ReadDebezium(l, kProducts, true)) debezium.push_back(Show(r));
  }
  EXPECT_EQ(canal, kChangelog);
  EXPECT_EQ(maxwell, kChangelog);
  // Debezium's file stops after the delete of 111.
  std::vector<std::string> head(kChangelog.begin(), kChangelog.begin() + 20);
  EXPECT_EQ(debezium, head);
}

TargetTablePtr Products(const std::string& db, const std::string& table) {
  namespace m = sluice::mysql;
  auto name = Col("name", m::kTypeVarchar, 255 * 4);
  name.nullable = false;
  auto id = Col("id", m::kTypeLong);
  id.nullable = false;
  return MakeTable(db, table, {id, name, Col("description", m::kTypeVarchar, 512 * 4), Col("weight", m::kTypeFloat, 4)},
                   {0});
}

std::vector<Value> Jacket(const char* description, float weight) {
  return {Value::Int(110), Value::Str(ValueKind::kText, "jacket"), Value::Str(ValueKind::kText, description),
          Value::Float(weight)};
}

std::vector<Message> Encode(const EncoderOptions& o, const SinkChange& ch, const ChangeContext& ctx) {
  auto enc = MakeEncoder(o);
  EXPECT_TRUE(enc.ok()) << enc.status().message();
  std::vector<Message> out;
  Status st = (*enc)->EncodeChange(ch, ctx, out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST(FlinkFixtureTest, CanalInsertAndUpdateMatchCanalByteForByte) {
  auto t = Products("inventory", "products2");
  EncoderOptions o;
  o.format = "canal";
  ChangeContext ctx;
  // Line 4 of canal-data.txt: INSERT of 110.
  o.now_ms = 1589373552882;
  ctx.xid = 6;
  auto out = Encode(o, MakeChange(t, Op::kInsert, Jacket("water resistent white wind breaker", 0.2f), {}, 1589373552000),
                    ctx);
  ASSERT_EQ(out.size(), 1u);
  auto expected = ordered_json::parse(FixtureLines("canal-data.txt")[3]);
  auto ours = ordered_json::parse(*out[0].value);
  // Flink's sample carries JDBC type names; Canal itself prints the column
  // types as MySQL does, which is what sluice writes.
  EXPECT_EQ(ours["mysqlType"].dump(),
            R"js({"id":"int","name":"varchar(255)","description":"varchar(512)","weight":"float"})js");
  ours["mysqlType"] = expected["mysqlType"];
  EXPECT_EQ(ours.dump(), expected.dump());
  EXPECT_EQ(out[0].key, R"({"id":110})");

  // Line 6: UPDATE of 110, "old" with the changed columns only.
  o.now_ms = 1589373558230;
  ctx.xid = 8;
  out = Encode(o,
               MakeChange(t, Op::kUpdate, Jacket("new water resistent white wind breaker", 0.5f),
                          Jacket("water resistent white wind breaker", 0.2f), 1589373558000),
               ctx);
  expected = ordered_json::parse(FixtureLines("canal-data.txt")[5]);
  ours = ordered_json::parse(*out[0].value);
  ours["mysqlType"] = expected["mysqlType"];
  EXPECT_EQ(ours.dump(), expected.dump());
}

TEST(FlinkFixtureTest, CanalDdlMatchesCanal) {
  EncoderOptions o;
  o.format = "canal";
  o.now_ms = 1589373566000;
  auto enc = MakeEncoder(o);
  ASSERT_TRUE(enc.ok());
  std::vector<Message> out;
  DdlEvent ddl;
  ddl.db = "inventory";
  ddl.table = "user02";
  ddl.query = "CREATE TABLE `xj_`.`user02` (`uid` int(0) NOT NULL,`uname` varchar(255) NULL, PRIMARY KEY (`uid`))";
  ddl.ts_ms = 1589373566000;
  ASSERT_TRUE((*enc)->EncodeDdl(ddl, out).ok());
  auto expected = ordered_json::parse(FixtureLines("canal-data.txt")[9]);
  auto ours = ordered_json::parse(*out[0].value);
  ours["id"] = expected["id"];  // Canal's batch id
  EXPECT_EQ(ours.dump(), expected.dump());
  EXPECT_TRUE(ReadCanal(*out[0].value, kProducts).empty());  // Flink skips it
}

TEST(FlinkFixtureTest, MaxwellMatchesMaxwellByteForByte) {
  auto t = Products("test", "product");
  EncoderOptions o;
  o.format = "maxwell";
  ChangeContext ctx;
  ctx.xid = 7186;
  ctx.last_in_transaction = true;
  auto out = Encode(o, MakeChange(t, Op::kInsert, Jacket("water resistent white wind breaker", 0.2f), {},
                                  1596684900000ull),
                    ctx);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(ordered_json::parse(*out[0].value).dump(), ordered_json::parse(FixtureLines("maxwell-data.txt")[11]).dump());
  EXPECT_EQ(out[0].key, R"({"database":"test","table":"product","pk.id":110})");

  ctx.xid = 7216;
  out = Encode(o,
               MakeChange(t, Op::kUpdate, Jacket("new water resistent white wind breaker", 0.5f),
                          Jacket("water resistent white wind breaker", 0.2f), 1596684906000ull),
               ctx);
  EXPECT_EQ(ordered_json::parse(*out[0].value).dump(), ordered_json::parse(FixtureLines("maxwell-data.txt")[13]).dump());

  // A row inside a transaction: xoffset instead of commit (line 1).
  ctx.xid = 7125;
  ctx.last_in_transaction = false;
  auto scooter = std::vector<Value>{Value::Int(101), Value::Str(ValueKind::kText, "scooter"),
                                    Value::Str(ValueKind::kText, "Small 2-wheel scooter"), Value::Float(3.14f)};
  out = Encode(o, MakeChange(t, Op::kInsert, scooter, {}, 1596684883000ull, {"binlog.000001", 4, 1}), ctx);
  EXPECT_EQ(ordered_json::parse(*out[0].value).dump(), ordered_json::parse(FixtureLines("maxwell-data.txt")[0]).dump());
}

// Every key of `ours` in the order the fixture has them, recursively for objects.
void ExpectSameShape(const ordered_json& ours, const ordered_json& theirs, const std::string& path) {
  if (!theirs.is_object() || !ours.is_object()) return;
  std::vector<std::string> a, b;
  for (auto it = ours.begin(); it != ours.end(); ++it) a.push_back(it.key());
  for (auto it = theirs.begin(); it != theirs.end(); ++it) b.push_back(it.key());
  EXPECT_EQ(a, b) << path;
  for (auto it = theirs.begin(); it != theirs.end(); ++it) {
    if (ours.contains(it.key())) ExpectSameShape(ours[it.key()], it.value(), path + "." + it.key());
  }
}

TEST(FlinkFixtureTest, DebeziumHasDebeziumsShapeWithAndWithoutSchema) {
  auto t = Products("inventory", "products");
  EncoderOptions o;
  o.format = "debezium";
  o.schemas = true;
  o.server_name = "dbserver1";
  ChangeContext ctx;
  auto lines = FixtureLines("debezium-data-schema-include.txt");
  auto out = Encode(o,
                    MakeChange(t, Op::kUpdate, Jacket("new water resistent white wind breaker", 0.5f),
                               Jacket("water resistent white wind breaker", 0.2f)),
                    ctx);
  ASSERT_EQ(out.size(), 1u);
  auto ours = ordered_json::parse(*out[0].value);
  auto theirs = ordered_json::parse(lines[13]);
  ExpectSameShape(ours, theirs, "");
  // The schema block names the same fields in the same order.
  ASSERT_EQ(ours["schema"]["fields"].size(), theirs["schema"]["fields"].size());
  for (size_t i = 0; i < theirs["schema"]["fields"].size(); ++i) {
    EXPECT_EQ(ours["schema"]["fields"][i]["field"], theirs["schema"]["fields"][i]["field"]);
  }
  EXPECT_EQ(ours["schema"]["fields"][2].dump(), theirs["schema"]["fields"][2].dump());  // source
  EXPECT_EQ(ours["schema"]["name"], "dbserver1.inventory.products.Envelope");
  auto rows = ReadDebezium(*out[0].value, kProducts, true);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(Show(rows[0]), "-U[110, jacket, water resistent white wind breaker, 0.2]");
  EXPECT_EQ(Show(rows[1]), "+U[110, jacket, new water resistent white wind breaker, 0.5]");
  EXPECT_EQ(ordered_json::parse(out[0].key).dump(),
            R"({"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,)"
            R"("name":"dbserver1.inventory.products.Key"},"payload":{"id":110}})");

  // Without the schema block: the payload alone, as schemas.enable=false writes it.
  o.schemas = false;
  out = Encode(o, MakeChange(t, Op::kDelete, Jacket("x", 1)), ctx);
  ASSERT_EQ(out.size(), 2u);  // the delete and its tombstone
  ExpectSameShape(ordered_json::parse(*out[0].value), theirs["payload"], "payload");
  EXPECT_EQ(out[0].key, R"({"id":110})");
  EXPECT_EQ(out[1].key, R"({"id":110})");
  EXPECT_FALSE(out[1].value.has_value());
  o.tombstones = false;
  EXPECT_EQ(Encode(o, MakeChange(t, Op::kDelete, Jacket("x", 1)), ctx).size(), 1u);
}

}  // namespace
}  // namespace sluice::format::testing
