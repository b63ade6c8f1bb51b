#pragma once
// LuaRuntime: one sandboxed Lua 5.4 state running one transform script
// (design §13). The sandbox keeps the base functions that cannot reach
// files or load code, the string, table, math and utf8 libraries and
// os.time/os.clock/os.date; io, os's other functions, require/package,
// debug, load/loadfile/dofile and string.dump are absent. Each state has a
// memory limit (its allocator refuses past it) and each call an instruction
// limit (a count hook stops it). A state is used by one thread at a time:
// the pipeline keeps one per thread that runs transforms.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"

struct lua_State;

namespace sluice::transform::lua {

struct LuaLimits {
  size_t memory_bytes = 64u << 20;           // per state
  uint64_t instructions_per_call = 10000000;  // per transform() call
};

// A value a script returned for a column. Strings are views into the Lua
// state: valid until the next Call (the returned table stays referenced).
struct ScriptValue {
  enum class Type : uint8_t { kNull, kInt, kFloat, kString, kBool };
  Type type = Type::kNull;
  int64_t i = 0;
  double d = 0;
  std::string_view s;
};
// One column of the returned row: its name (a view, as above) and, when the
// name is one of the row's schema columns as passed in (the same interned
// Lua string), that column's index; -1 otherwise (a new column, or a name
// the caller matches itself, e.g. in another case).
struct ScriptColumn {
  std::string_view name;
  int column = -1;
  ScriptValue value;
};
using ScriptRow = std::vector<ScriptColumn>;

// One row image handed to the script: column names from the schema.
struct RowView {
  const TableSchema* schema = nullptr;
  const std::vector<Value>* values = nullptr;
};

class LuaRuntime {
 public:
  // Loads `source` (named `chunk_name`, e.g. "rules/orders.lua", in messages)
  // into a fresh sandboxed state and runs its top level; the script must
  // define a global function transform. Errors read "FILE:LINE: ...".
  static Result<std::unique_ptr<LuaRuntime>> Create(std::string chunk_name, std::string_view source,
                                                    LuaLimits limits = {});
  ~LuaRuntime();
  LuaRuntime(const LuaRuntime&) = delete;
  LuaRuntime& operator=(const LuaRuntime&) = delete;

  // Calls transform(op, row, old); `op` is "insert", "update" or "delete".
  // Returns false when it returned nil (the change is dropped), true with
  // `out` filled (columns in the script's table order) otherwise; `out`'s
  // views stay valid until the next Call. Errors read "FILE:LINE: ..." when
  // a line is known. `row` and `old`, when both given, share one schema.
  // `as_given`, when passed, tells whether the script returned the table it
  // was handed as `row` (for a delete, `old`) with every value as it came
  // and no column added or removed: the caller may keep the change as is.
  Result<bool> Call(std::string_view op, const RowView* row, const RowView* old, ScriptRow& out,
                    bool* as_given = nullptr);

  size_t memory_in_use() const;

 // The accounting the allocator and the count hook share (in the .cc).
  struct Alloc;

 private:
  LuaRuntime(std::string chunk_name, LuaLimits limits);
  Status Fail(int rc);

  // Per schema seen, its column names as Lua strings, kept in a table in
  // the registry: pushed per row without hashing a C string, and matched
  // against the returned table's keys by address (short strings are
  // interned). Checked against the schema's names on use, since a schema's
  // address may be reused by another.
  struct Names {
    int ref = 0;                             // registry reference of the table of names
    std::vector<std::string_view> strings;   // views of those Lua strings
  };
  struct CallArgs;
  static int CallTrampoline(lua_State* L);

  std::string chunk_name_;
  LuaLimits limits_;
  std::unique_ptr<Alloc> alloc_;
  lua_State* L_ = nullptr;
  std::map<const TableSchema*, Names> names_;
};

}  // namespace sluice::transform::lua
