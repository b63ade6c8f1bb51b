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

// A value a script returned for a column.
struct ScriptValue {
  enum class Type : uint8_t { kNull, kInt, kFloat, kString, kBool };
  Type type = Type::kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;
};
using ScriptRow = std::vector<std::pair<std::string, ScriptValue>>;

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

  // Calls transform(op, row, old). Returns false when it returned nil (the
  // change is dropped), true with `out` filled (columns in the script's
  // table order) otherwise. Errors read "FILE:LINE: ..." when a line is known.
  Result<bool> Call(std::string_view op, const RowView* row, const RowView* old, ScriptRow& out);

  size_t memory_in_use() const;

 // The accounting the allocator and the count hook share (in the .cc).
  struct Alloc;

 private:
  LuaRuntime(std::string chunk_name, LuaLimits limits);
  Status Fail(int rc);

  std::string chunk_name_;
  LuaLimits limits_;
  std::unique_ptr<Alloc> alloc_;
  lua_State* L_ = nullptr;
};

}  // namespace sluice::transform::lua
