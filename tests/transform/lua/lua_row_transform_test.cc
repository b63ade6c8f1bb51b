// TableMapper with a rule's Lua script: inserts, updates and deletes as the
// script makes them (changed values, an added column, a removed column, nil
// drops), the derived target columns, and errors naming table, key and position.

#include <gtest/gtest.h>

#include "transform/table_mapper.h"

namespace sluice::transform {
namespace {

TableSchemaPtr Users() {
  auto s = std::make_shared<TableSchema>();
  s->db = "shop";
  s->table = "users";
  s->names_known = true;
  s->columns.resize(3);
  s->columns[0].name = "id";
  s->columns[1].name = "email";
  s->columns[2].name = "note";
  s->primary_key = {0};
  return s;
}

std::shared_ptr<ChangeEvent> Event(const TableSchemaPtr& s, Op op, std::vector<Value> before,
                                   std::vector<Value> after) {
  auto ev = std::make_shared<ChangeEvent>();
  ev->table = s;
  ev->op = op;
  ev->before = {std::move(before), op != Op::kInsert};
  ev->after = {std::move(after), op != Op::kDelete};
  ev->pos.file = "binlog.000001";
  ev->pos.txn_offset = 400;
  ev->pos.index = 1;
  return ev;
}

std::unique_ptr<TableMapper> Mapper(const char* script) {
  MappingRule r;
  r.match = "shop.users";
  r.origin = "sluice.yaml:3:7";
  r.lua = std::make_shared<lua::LuaScript>(lua::LuaScript{"rules/u.lua", script});
  std::vector<MappingRule> rules;
  rules.push_back(std::move(r));
  auto m = TableMapper::Create(std::move(rules));
  EXPECT_TRUE(m.ok()) << m.status().message();
  return std::move(m).value();
}

constexpr const char* kScript = R"(function transform(op, row, old)
  local r = row or old
  if r.id == 13 then return nil end
  if r.id == 99 then error("bad row") end
  r.email = string.sub(r.email, 1, 1) .. "***"
  r.len = #(row or old).note
  r.note = nil
  return r
end
)";

TEST(LuaRowTransformTest, InsertUpdateDeleteAsTheScriptMakesThem) {
  auto m = Mapper(kScript);
  auto s = Users();
  auto T = [](std::string_view v) { return Value::Str(ValueKind::kText, v); };
  std::vector<SinkChange> out;
  ASSERT_TRUE(m->Transform(Event(s, Op::kInsert, {}, {Value::Int(1), T("alice@x"), T("four")}), out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, SinkChange::Kind::kUpsert);
  EXPECT_EQ(out[0].table->columns, (std::vector<std::string>{"id", "email", "len"}));
  EXPECT_EQ(out[0].table->key, (std::vector<uint32_t>{0}));
  EXPECT_EQ(out[0].values[0].i, 1);
  EXPECT_EQ(out[0].values[1].s, "a***");
  EXPECT_EQ(out[0].values[2].kind, ValueKind::kInt);
  EXPECT_EQ(out[0].values[2].i, 4);

  out.clear();
  ASSERT_TRUE(m->Transform(Event(s, Op::kInsert, {}, {Value::Int(13), T("x@y"), T("")}), out).ok());
  EXPECT_TRUE(out.empty()) << "nil drops the insert";

  out.clear();
  ASSERT_TRUE(m->Transform(Event(s, Op::kUpdate, {Value::Int(1), T("alice@x"), T("four")},
                                 {Value::Int(1), T("bob@x"), T("sixsix")}),
                           out)
                  .ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Op::kUpdate);
  EXPECT_EQ(out[0].values[1].s, "b***");
  EXPECT_EQ(out[0].values[2].i, 6);
  EXPECT_EQ(out[0].before_value(1).s, "b***") << "the unmasked old value never leaves";

  out.clear();
  ASSERT_TRUE(m->Transform(Event(s, Op::kUpdate, {Value::Int(13), T("a@x"), T("")},
                                 {Value::Int(13), T("b@x"), T("")}),
                           out)
                  .ok());
  ASSERT_EQ(out.size(), 1u) << "an update the script drops leaves the target";
  EXPECT_EQ(out[0].kind, SinkChange::Kind::kDelete);
  EXPECT_EQ(out[0].values[0].i, 13);

  out.clear();
  ASSERT_TRUE(m->Transform(Event(s, Op::kDelete, {Value::Int(1), T("bob@x"), T("sixsix")}, {}), out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, SinkChange::Kind::kDelete);
  EXPECT_EQ(out[0].values[0].i, 1);
}

TEST(LuaRowTransformTest, ErrorsNameScriptLineTableKeyAndPosition) {
  auto m = Mapper(kScript);
  auto s = Users();
  std::vector<SinkChange> out;
  Status st = m->Transform(Event(s, Op::kInsert, {}, {Value::Int(99), Value::Str(ValueKind::kText, "a"),
                                                      Value::Str(ValueKind::kText, "")}),
                           out);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(m->last_error_from_script());
  EXPECT_NE(st.message().find("rules/u.lua:4: bad row"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("table `shop`.`users`, key id=99, at binlog.000001:400#1"), std::string::npos)
      << st.message();
}

TEST(LuaRowTransformTest, RemovingTheKeyIsAnError) {
  auto m = Mapper("function transform(op, row, old) row.id = nil return row end");
  auto s = Users();
  std::vector<SinkChange> out;
  Status st = m->Transform(Event(s, Op::kInsert, {}, {Value::Int(1), Value::Null(), Value::Null()}), out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("removed key column `id`"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace sluice::transform
