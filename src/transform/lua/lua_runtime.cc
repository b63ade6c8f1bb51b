#include "transform/lua/lua_runtime.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <lua.hpp>

namespace sluice::transform::lua {
namespace {

// sluice.null: SQL NULL in a row. A light userdata (no allocation, compares
// equal to itself only), so `v == sluice.null` tests for NULL.
char kNullSentinel;

constexpr int kHookEvery = 1000;  // instructions between two count hooks

}  // namespace

// The per-state accounting the allocator and the count hook share.
struct LuaRuntime::Alloc {
  size_t used = 0;
  size_t limit = 0;
  uint64_t executed = 0;
  uint64_t budget = 0;
  int last_line = 0;  // the script line last seen by the hook: memory errors have no other
};

namespace {

void* Allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* a = static_cast<LuaRuntime::Alloc*>(ud);
  size_t old = ptr != nullptr ? osize : 0;  // for a new block osize is a type tag
  if (nsize == 0) {
    std::free(ptr);
    a->used -= old;
    return nullptr;
  }
  if (nsize > old && a->used + (nsize - old) > a->limit) return nullptr;  // Lua raises "not enough memory"
  void* p = std::realloc(ptr, nsize);
  if (p == nullptr) return nullptr;
  a->used = a->used - old + nsize;
  return p;
}

LuaRuntime::Alloc* AllocOf(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<LuaRuntime::Alloc*>(ud);
}

void CountHook(lua_State* L, lua_Debug* ar) {
  LuaRuntime::Alloc* a = AllocOf(L);
  if (lua_getinfo(L, "l", ar) != 0 && ar->currentline > 0) a->last_line = ar->currentline;
  a->executed += kHookEvery;
  if (a->executed > a->budget) {
    luaL_error(L, "instruction limit of %I per call exceeded (an endless loop?)",
               static_cast<lua_Integer>(a->budget));
  }
}

// Message handler: an error raised outside the script's own code (a wrong
// argument to a library function reads "bad argument ...") gets the line of
// the innermost script frame, so every message names FILE:LINE.
int MessageHandler(lua_State* L) {
  const char* msg = lua_tostring(L, 1);
  if (msg == nullptr) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "Sl", &ar) == 0 || ar.currentline <= 0 || ar.source[0] != '@') continue;
    size_t n = std::strlen(ar.short_src);
    if (std::strncmp(msg, ar.short_src, n) == 0 && msg[n] == ':') {
      lua_pushstring(L, msg);
    } else {
      lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
    }
    return 1;
  }
  lua_pushstring(L, msg);
  return 1;
}

void PushValue(lua_State* L, const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
      lua_pushlightuserdata(L, &kNullSentinel);
      return;
    case ValueKind::kInt:
    case ValueKind::kYear:
      lua_pushinteger(L, v.i);
      return;
    case ValueKind::kUInt:
    case ValueKind::kBit:
      if (v.u <= static_cast<uint64_t>(INT64_MAX)) {
        lua_pushinteger(L, static_cast<lua_Integer>(v.u));
      } else {
        char buf[24];
        int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v.u));
        lua_pushlstring(L, buf, static_cast<size_t>(n));  // beyond a Lua integer: exact as a string
      }
      return;
    case ValueKind::kFloat:
    case ValueKind::kDouble:
      lua_pushnumber(L, v.d);
      return;
    default:  // decimals, temporals, text, bytes, enums, sets, JSON, geometry: their §4 strings
      lua_pushlstring(L, v.s.data(), v.s.size());
      return;
  }
}

// The row as a fresh table (the script may keep or change it): names come
// from the table of names at `names` on the stack.
void PushRow(lua_State* L, const RowView* row, int names) {
  if (row == nullptr) {
    lua_pushnil(L);
    return;
  }
  const auto& values = *row->values;
  const size_t n = std::min(values.size(), row->schema->columns.size());
  lua_createtable(L, 0, static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) {
    if (values[i].kind == ValueKind::kAbsent) continue;  // not in the image: nil
    lua_rawgeti(L, names, static_cast<lua_Integer>(i + 1));
    PushValue(L, values[i]);
    lua_rawset(L, -3);
  }
}

// Is `v`, returned for column `col`, the value the script was handed there?
bool SameAsGiven(const ScriptValue& v, const RowView& given, size_t col) {
  if (col >= given.values->size()) return false;
  const Value& g = (*given.values)[col];
  using T = ScriptValue::Type;
  switch (g.kind) {
    case ValueKind::kNull:
      return v.type == T::kNull;
    case ValueKind::kAbsent:
      return false;
    case ValueKind::kInt:
    case ValueKind::kYear:
      return v.type == T::kInt && v.i == g.i;
    case ValueKind::kUInt:
    case ValueKind::kBit:  // above INT64_MAX it went in as a string: taken as changed
      return v.type == T::kInt && g.u <= static_cast<uint64_t>(INT64_MAX) && static_cast<uint64_t>(v.i) == g.u;
    case ValueKind::kFloat:
    case ValueKind::kDouble:
      return v.type == T::kFloat && std::memcmp(&v.d, &g.d, sizeof g.d) == 0;
    default:
      return v.type == T::kString && v.s == g.s;
  }
}

size_t PresentColumns(const RowView& row) {
  const size_t n = std::min(row.values->size(), row.schema->columns.size());
  size_t present = 0;
  for (size_t i = 0; i < n; ++i) present += (*row.values)[i].kind != ValueKind::kAbsent;
  return present;
}

}  // namespace

// What the protected trampoline reads and fills: C++ objects with
// destructors stay out of its frame, since a Lua error unwinds by longjmp.
struct LuaRuntime::CallArgs {
  int op;  // upvalue index of its name: 2 insert, 3 update, 4 delete
  const RowView* row;
  const RowView* old;
  LuaRuntime::Names* names;  // ref 0: to make (here, where allocating may fail safely)
  ScriptRow* out;
  bool returned_row = false;
  bool as_given = false;  // the returned table is `row` (else `old`) as handed in, every value unchanged
  const char* bad_type = nullptr;  // a value the script returned that no column can take
  std::string_view bad_column;
};

int LuaRuntime::CallTrampoline(lua_State* L) {
  auto* args = static_cast<CallArgs*>(lua_touserdata(L, 1));
  const TableSchema* schema = args->row != nullptr ? args->row->schema : args->old->schema;
  if (args->names->ref == 0) {
    const auto& cols = schema->columns;
    lua_createtable(L, static_cast<int>(cols.size()), 0);
    args->names->strings.clear();
    for (size_t i = 0; i < cols.size(); ++i) {
      size_t len = 0;
      lua_pushlstring(L, cols[i].name.data(), cols[i].name.size());
      const char* p = lua_tolstring(L, -1, &len);
      args->names->strings.emplace_back(p, len);
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    args->names->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, args->names->ref);
  const int names = lua_gettop(L);
  // The table handed in as `row` (or, without one, `old`): referenced here
  // too, so the one returned is that table only if it is this one.
  const RowView* given = args->row != nullptr ? args->row : args->old;
  PushRow(L, given, names);
  const int given_table = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));  // transform
  lua_pushvalue(L, lua_upvalueindex(args->op));
  if (args->row != nullptr) {
    lua_pushvalue(L, given_table);
    PushRow(L, args->old, names);
  } else {
    lua_pushnil(L);
    lua_pushvalue(L, given_table);
  }
  lua_call(L, 3, 1);
  int t = lua_gettop(L);
  if (lua_isnil(L, t)) return 0;
  if (!lua_istable(L, t)) {
    args->bad_type = luaL_typename(L, t);
    return 0;
  }
  args->returned_row = true;
  const auto& strings = args->names->strings;
  bool as_given = lua_rawequal(L, t, given_table) != 0;
  size_t returned = 0;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      args->bad_type = "non-string key";
      return 0;
    }
    size_t klen = 0;
    const char* key = lua_tolstring(L, -2, &klen);
    ScriptColumn c;
    c.name = std::string_view(key, klen);
    for (size_t i = 0; i < strings.size(); ++i) {
      if (strings[i].data() == key) {  // the same (interned) string
        c.column = static_cast<int>(i);
        break;
      }
    }
    ScriptValue& v = c.value;
    switch (lua_type(L, -1)) {
      case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
          v.type = ScriptValue::Type::kInt;
          v.i = lua_tointeger(L, -1);
        } else {
          v.type = ScriptValue::Type::kFloat;
          v.d = lua_tonumber(L, -1);
        }
        break;
      case LUA_TSTRING: {
        size_t len = 0;
        const char* s = lua_tolstring(L, -1, &len);  // stays alive: the table holds it
        v.type = ScriptValue::Type::kString;
        v.s = std::string_view(s, len);
        break;
      }
      case LUA_TBOOLEAN:
        v.type = ScriptValue::Type::kBool;
        v.i = lua_toboolean(L, -1);
        break;
      case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, -1) == &kNullSentinel) {
          v.type = ScriptValue::Type::kNull;
          break;
        }
        [[fallthrough]];
      default:
        args->bad_type = luaL_typename(L, -1);
        args->bad_column = c.name;
        return 0;
    }
    if (as_given) as_given = c.column >= 0 && SameAsGiven(v, *given, static_cast<size_t>(c.column));
    ++returned;
    args->out->push_back(c);
    lua_pop(L, 1);
  }
  args->as_given = as_given && returned == PresentColumns(*given);
  return 1;  // the returned table: kept on the stack until the next call, so the views stay valid
}

LuaRuntime::LuaRuntime(std::string chunk_name, LuaLimits limits)
    : chunk_name_(std::move(chunk_name)), limits_(limits), alloc_(std::make_unique<Alloc>()) {
  alloc_->limit = limits.memory_bytes;
  alloc_->budget = limits.instructions_per_call;
}

LuaRuntime::~LuaRuntime() {
  if (L_ != nullptr) lua_close(L_);
}

size_t LuaRuntime::memory_in_use() const { return alloc_->used; }

Status LuaRuntime::Fail(int rc) {
  std::string msg;
  if (rc == LUA_ERRMEM) {
    msg = alloc_->last_line > 0 ? chunk_name_ + ":" + std::to_string(alloc_->last_line) + ": " : chunk_name_ + ": ";
    msg += "memory limit of " + std::to_string(limits_.memory_bytes >> 20) + " MiB per Lua state exceeded";
  } else {
    const char* m = lua_tostring(L_, -1);
    msg = m != nullptr ? m : chunk_name_ + ": error";
  }
  lua_settop(L_, 2);
  alloc_->executed = 0;
  return Status::Invalid("{}", msg);
}

Result<std::unique_ptr<LuaRuntime>> LuaRuntime::Create(std::string chunk_name, std::string_view source,
                                                       LuaLimits limits) {
  std::unique_ptr<LuaRuntime> rt(new LuaRuntime(std::move(chunk_name), limits));
  lua_State* L = lua_newstate(Allocate, rt->alloc_.get());
  if (L == nullptr) return Status::Invalid("{}: cannot create a Lua state", rt->chunk_name_);
  rt->L_ = L;
  lua_atpanic(L, [](lua_State*) -> int { std::abort(); });
  // Libraries: opened in a protected call, as they allocate.
  lua_pushcfunction(L, [](lua_State* L) -> int {
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_settop(L, 0);
    for (const char* name : {"dofile", "loadfile", "load", "require", "print"}) {
      lua_pushnil(L);
      lua_setglobal(L, name);
    }
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");  // bytecode out, and nothing can load it back
    lua_pop(L, 1);
    // os keeps only the clock and calendar functions.
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, LUA_OSLIBNAME);
    lua_createtable(L, 0, 3);
    for (const char* name : {"time", "clock", "date"}) {
      lua_getfield(L, -2, name);
      lua_setfield(L, -2, name);
    }
    lua_setglobal(L, "os");
    lua_pop(L, 2);
    lua_createtable(L, 0, 1);
    lua_pushlightuserdata(L, &kNullSentinel);
    lua_setfield(L, -2, "null");
    lua_setglobal(L, "sluice");
    return 0;
  });
  if (int rc = lua_pcall(L, 0, 0, 0); rc != LUA_OK) return rt->Fail(rc);
  lua_sethook(L, CountHook, LUA_MASKCOUNT, kHookEvery);

  lua_pushcfunction(L, MessageHandler);  // stack index 1 from here on
  std::string chunk = "@" + rt->chunk_name_;
  int rc = luaL_loadbufferx(L, source.data(), source.size(), chunk.c_str(), "t");  // text only, never bytecode
  if (rc != LUA_OK) return rt->Fail(rc);
  rc = lua_pcall(L, 0, 0, 1);
  rt->alloc_->executed = 0;
  if (rc != LUA_OK) return rt->Fail(rc);
  lua_getglobal(L, "transform");
  if (!lua_isfunction(L, -1)) {
    return Status::Invalid("{}: the script defines no function transform(op, row, old)", rt->chunk_name_);
  }
  // Stack index 2: the trampoline bound to transform and the op names.
  lua_pushstring(L, "insert");
  lua_pushstring(L, "update");
  lua_pushstring(L, "delete");
  lua_pushcclosure(L, CallTrampoline, 4);
  return rt;
}

Result<bool> LuaRuntime::Call(std::string_view op, const RowView* row, const RowView* old, ScriptRow& out,
                              bool* as_given) {
  lua_settop(L_, 2);  // the previous call's returned table goes (and with it, its views)
  out.clear();
  if (as_given != nullptr) *as_given = false;
  const RowView* any = row != nullptr ? row : old;
  if (any == nullptr) return Status::Invalid("{}: transform called without a row", chunk_name_);
  Names& names = names_[any->schema];
  if (names.ref != 0) {
    // The same address may now hold another schema: check the names.
    const auto& cols = any->schema->columns;
    bool same = names.strings.size() == cols.size();
    for (size_t i = 0; same && i < cols.size(); ++i) same = names.strings[i] == cols[i].name;
    if (!same) {
      luaL_unref(L_, LUA_REGISTRYINDEX, names.ref);
      names = Names{};
    }
  }
  CallArgs args{op == "insert" ? 2 : op == "update" ? 3 : 4, row, old, &names, &out};
  lua_pushvalue(L_, 2);
  lua_pushlightuserdata(L_, &args);
  alloc_->executed = 0;
  int rc = lua_pcall(L_, 1, 1, 1);
  if (rc != LUA_OK) {
    if (names.ref == 0) names.strings.clear();
    return Fail(rc);
  }
  if (args.bad_type != nullptr) {
    if (!args.bad_column.empty()) {
      return Status::Invalid("{}: transform returned a {} for column `{}`; a column takes a number, string, "
                             "boolean or sluice.null",
                             chunk_name_, args.bad_type, args.bad_column);
    }
    return Status::Invalid("{}: transform returned a {}; it returns a table of column = value, or nil to drop the "
                           "change",
                           chunk_name_, args.bad_type);
  }
  if (as_given != nullptr) *as_given = args.as_given;
  return args.returned_row;
}

}  // namespace sluice::transform::lua
