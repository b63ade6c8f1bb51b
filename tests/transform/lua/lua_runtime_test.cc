// LuaRuntime: the sandbox (no io, os beyond the clock, require, load,
// debug), the memory and instruction limits, and FILE:LINE in every error.

#include "transform/lua/lua_runtime.h"

#include <gtest/gtest.h>

#include <map>

namespace sluice::transform::lua {
namespace {

TableSchema Schema() {
  TableSchema s;
  s.db = "shop";
  s.table = "users";
  s.columns.resize(4);
  s.columns[0].name = "id";
  s.columns[1].name = "email";
  s.columns[2].name = "price";
  s.columns[3].name = "note";
  return s;
}

std::unique_ptr<LuaRuntime> Load(std::string_view src, LuaLimits limits = {}) {
  auto rt = LuaRuntime::Create("rules/t.lua", src, limits);
  EXPECT_TRUE(rt.ok()) << rt.status().message();
  return rt.ok() ? std::move(rt).value() : nullptr;
}

Status CallOnce(LuaRuntime& rt) {
  TableSchema s = Schema();
  std::vector<Value> v = {Value::Int(1), Value::Str(ValueKind::kText, "a@b.c"),
                          Value::Str(ValueKind::kDecimal, "1.50"), Value::Null()};
  RowView row{&s, &v};
  ScriptRow out;
  auto r = rt.Call("insert", &row, nullptr, out);
  return r.ok() ? Status::Ok() : r.status();
}

TEST(LuaRuntimeTest, PassesValuesAndTakesTheReturnedRow) {
  auto rt = Load(R"(
function transform(op, row, old)
  assert(op == "insert" and old == nil)
  assert(math.type(row.id) == "integer" and row.price == "1.50" and row.note == sluice.null)
  return {id = row.id, email = string.upper(row.email), n = 2.5, flag = true, note = row.note}
end)");
  ASSERT_NE(rt, nullptr);
  TableSchema s = Schema();
  std::vector<Value> v = {Value::Int(7), Value::Str(ValueKind::kText, "a@b.c"),
                          Value::Str(ValueKind::kDecimal, "1.50"), Value::Null()};
  RowView row{&s, &v};
  ScriptRow out;
  auto r = rt->Call("insert", &row, nullptr, out);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r);
  std::map<std::string, ScriptValue> by_name;
  for (const ScriptColumn& c : out) by_name[std::string(c.name)] = c.value;
  EXPECT_EQ(out.size(), 5u);
  for (const ScriptColumn& c : out) {
    // Names handed out are recognized as the schema's columns; new ones are not.
    EXPECT_EQ(c.column, c.name == "id" ? 0 : c.name == "email" ? 1 : c.name == "note" ? 3 : -1) << c.name;
  }
  ASSERT_EQ(by_name.size(), 5u);
  EXPECT_EQ(by_name["id"].type, ScriptValue::Type::kInt);
  EXPECT_EQ(by_name["id"].i, 7);
  EXPECT_EQ(by_name["email"].s, "A@B.C");
  EXPECT_EQ(by_name["n"].type, ScriptValue::Type::kFloat);
  EXPECT_EQ(by_name["flag"].type, ScriptValue::Type::kBool);
  EXPECT_EQ(by_name["note"].type, ScriptValue::Type::kNull);
}

TEST(LuaRuntimeTest, NilDropsTheChange) {
  auto rt = Load("function transform(op, row, old) if row.id == 1 then return nil end return row end");
  ASSERT_NE(rt, nullptr);
  TableSchema s = Schema();
  std::vector<Value> v = {Value::Int(1), Value::Null(), Value::Null(), Value::Null()};
  RowView row{&s, &v};
  ScriptRow out;
  auto r = rt->Call("insert", &row, nullptr, out);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(*r);
}

// A script that returns the row it was handed, values untouched, lets the
// caller keep the change as it came; any change of value, column or table
// does not.
TEST(LuaRuntimeTest, TellsWhenTheRowCameBackAsGiven) {
  auto rt = Load(R"(
function transform(op, row, old)
  local r = row or old
  if r.id == 2 then r.email = "x" end
  if r.id == 3 then r.extra = 1 end
  if r.id == 4 then r.note = nil end
  if r.id == 5 then r.email = r.email .. "" end
  if r.id == 6 then return {id = r.id, email = r.email, price = r.price, note = r.note} end
  if r.id == 7 then r.price = tonumber(r.price) end
  if r.id == 8 then return old end
  return r
end)");
  ASSERT_NE(rt, nullptr);
  TableSchema s = Schema();
  for (int id = 1; id <= 8; ++id) {
    std::vector<Value> v = {Value::Int(id), Value::Str(ValueKind::kText, "a@b.c"),
                            Value::Str(ValueKind::kDecimal, "1.50"), Value::Null()};
    RowView row{&s, &v};
    ScriptRow out;
    bool as_given = true;
    auto r = rt->Call("insert", &row, nullptr, out, &as_given);
    ASSERT_TRUE(r.ok()) << r.status().message();
    // 5: equal values are as given, whichever string object holds them.
    EXPECT_EQ(as_given, id == 1 || id == 5) << id;
    EXPECT_EQ(*r, id != 8) << id;
    as_given = true;
    r = rt->Call("delete", nullptr, &row, out, &as_given);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(as_given, id == 1 || id == 5 || id == 8) << id;
  }
}

TEST(LuaRuntimeTest, SandboxHasNoIoOsRequireLoadOrDebug) {
  for (const char* body : {"io.open('/etc/passwd')", "os.execute('true')", "os.remove('/tmp/x')",
                           "require('os')", "load('return 1')", "loadfile('/etc/passwd')",
                           "dofile('/etc/passwd')", "debug.getinfo(1)", "string.dump(transform)",
                           "package.loadlib('x', 'y')"}) {
    std::string src = std::string("function transform(op, row, old)\n  ") + body + "\n  return row\nend\n";
    auto rt = Load(src);
    ASSERT_NE(rt, nullptr);
    Status st = CallOnce(*rt);
    ASSERT_FALSE(st.ok()) << body;
    EXPECT_NE(st.message().find("rules/t.lua:2:"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("nil value"), std::string::npos) << st.message();
  }
}

TEST(LuaRuntimeTest, KeepsTheClockAndCalendar) {
  auto rt = Load(
      "function transform(op, row, old)\n"
      "  return {t = os.time(), d = os.date('!%Y', 0), c = os.clock(), u = utf8.char(228), s = table.concat({1,2},',')}\n"
      "end\n");
  ASSERT_NE(rt, nullptr);
  EXPECT_TRUE(CallOnce(*rt).ok());
}

TEST(LuaRuntimeTest, BytecodeIsRefused) {
  auto rt = LuaRuntime::Create("rules/t.lua", std::string("\x1bLua\x54\x00", 6));
  ASSERT_FALSE(rt.ok());
  EXPECT_NE(rt.status().message().find("binary chunk"), std::string::npos) << rt.status().message();
}

TEST(LuaRuntimeTest, EndlessLoopIsStoppedByTheInstructionLimit) {
  auto rt = Load("function transform(op, row, old)\n  local n = 0\n  while true do n = n + 1 end\nend\n",
                 LuaLimits{.memory_bytes = 64u << 20, .instructions_per_call = 1000000});
  ASSERT_NE(rt, nullptr);
  Status st = CallOnce(*rt);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rules/t.lua:3:"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("instruction limit"), std::string::npos) << st.message();
  // The budget is per call: the state still works afterwards... and stops again.
  EXPECT_FALSE(CallOnce(*rt).ok());
}

TEST(LuaRuntimeTest, MemoryHogIsStoppedByTheAllocatorLimit) {
  auto rt = Load(
      "local keep = {}\n"
      "function transform(op, row, old)\n"
      "  local s = string.rep('x', 1024)\n"
      "  for i = 1, 1e9 do keep[#keep + 1] = s .. i end\n"
      "end\n",
      LuaLimits{.memory_bytes = 8u << 20, .instructions_per_call = 1000000000});
  ASSERT_NE(rt, nullptr);
  Status st = CallOnce(*rt);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("memory limit of 8 MiB"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("rules/t.lua:4:"), std::string::npos) << st.message();
  EXPECT_LE(rt->memory_in_use(), size_t{8} << 20);
}

TEST(LuaRuntimeTest, ErrorsNameTheScriptLine) {
  auto rt = Load("function transform(op, row, old)\n  local x = nil\n\n  return x.field\nend\n");
  ASSERT_NE(rt, nullptr);
  Status st = CallOnce(*rt);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rules/t.lua:4:"), std::string::npos) << st.message();

  auto bad = LuaRuntime::Create("rules/t.lua", "function transform(op, row, old)\n  return {\nend\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("rules/t.lua:3:"), std::string::npos) << bad.status().message();

  auto none = LuaRuntime::Create("rules/t.lua", "x = 1\n");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no function transform"), std::string::npos);

  auto lib = Load("function transform(op, row, old)\n  return {x = string.rep()}\nend\n");
  ASSERT_NE(lib, nullptr);
  st = CallOnce(*lib);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rules/t.lua:2:"), std::string::npos) << st.message();
}

TEST(LuaRuntimeTest, ABadReturnedValueNamesTheColumn) {
  auto rt = Load("function transform(op, row, old) return {f = function() end} end");
  ASSERT_NE(rt, nullptr);
  Status st = CallOnce(*rt);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("column `f`"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace sluice::transform::lua
