#pragma once
// LuaRowTransform: runs a table rule's `transform: {lua: FILE}` script over
// row events, before the rule's rename, columns and where: (design §13).
// The script may change values, add, remove and retype columns: its result
// becomes a new event over a derived schema (one per distinct column set,
// cached), so the rest of the mapping and every sink see an ordinary table.
// One instance per thread that runs transforms: it owns that thread's Lua state.

#include <map>
#include <memory>
#include <string>

#include "core/change_event.h"
#include "core/status.h"
#include "transform/lua/lua_runtime.h"

namespace sluice::transform::lua {

struct LuaScript {
  std::string name;    // the path as the configuration writes it, for messages
  std::string source;  // the script text
};

class LuaRowTransform {
 public:
  explicit LuaRowTransform(std::shared_ptr<const LuaScript> script, LuaLimits limits = {})
      : script_(std::move(script)), limits_(limits) {}

  // The event the script makes of `ev`, or null when it returned nil (an
  // insert or delete is dropped; an update becomes the delete of its before
  // image: the row leaves the target, as with `where:`). Errors name the
  // script's FILE:LINE, the table, the row's key and the position.
  Result<std::shared_ptr<const ChangeEvent>> Apply(const std::shared_ptr<const ChangeEvent>& ev);

 private:
  Result<TableSchemaPtr> Derived(const TableSchemaPtr& source, const std::vector<int>& from,
                                 const std::vector<ValueKind>& kinds, const std::vector<bool>& retyped);

  std::shared_ptr<const LuaScript> script_;
  LuaLimits limits_;
  std::unique_ptr<LuaRuntime> runtime_;
  ScriptRow out_;
  // Per source schema version (kept alive by `source`), the derived schemas
  // by column signature, and the last one used (rows of a table mostly come
  // out alike: compared before a signature is built).
  struct DerivedSet {
    TableSchemaPtr source;
    std::map<std::string, TableSchemaPtr> by_signature;
    TableSchemaPtr last;
    std::vector<ValueKind> last_kinds;
    std::vector<bool> last_retyped;
  };
  std::map<const TableSchema*, DerivedSet> derived_;
};

}  // namespace sluice::transform::lua
