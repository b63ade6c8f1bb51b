#pragma once
// LuaRowTransform: runs a table rule's `transform: {lua: FILE}` script over
// row events, before the rule's rename, columns and where: (design §13).
// The script may change values, add, remove and retype columns: its result
// becomes a new event over a derived schema (one per distinct column set,
// cached), so the rest of the mapping and every sink see an ordinary table.
// One instance per thread that runs transforms: it owns that thread's Lua
// state. The instances of one rule share their derived schemas.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/change_event.h"
#include "core/status.h"
#include "transform/lua/lua_runtime.h"

namespace sluice::transform::lua {

struct LuaScript {
  std::string name;    // the path as the configuration writes it, for messages
  std::string source;  // the script text
};

// The derived schemas of one rule, shared by its instances (one per
// thread): rows of one shape get one schema object whichever thread's state
// made them, since sinks and formats tell tables apart by that object (a
// batch, a merge, an encoder's cache). Thread-safe; used once per shape and
// instance, not per row.
class DerivedSchemas {
 public:
  // The schema registered for `source` and `signature`, or else `made`,
  // registered as it.
  TableSchemaPtr Intern(const TableSchemaPtr& source, const std::string& signature, TableSchemaPtr made);

 private:
  struct OfSource {
    TableSchemaPtr source;  // keeps the key's address from being reused
    std::map<std::string, TableSchemaPtr> by_signature;
  };
  std::mutex mu_;
  std::map<const TableSchema*, OfSource> by_source_;
};

class LuaRowTransform {
 public:
  explicit LuaRowTransform(std::shared_ptr<const LuaScript> script,
                           std::shared_ptr<DerivedSchemas> schemas = std::make_shared<DerivedSchemas>(),
                           LuaLimits limits = {})
      : script_(std::move(script)), schemas_(std::move(schemas)), limits_(limits) {}

  // The event the script makes of `ev`, or null when it returned nil (an
  // insert or delete is dropped; an update becomes the delete of its before
  // image: the row leaves the target, as with `where:`). Errors name the
  // script's FILE:LINE, the table, the row's key and the position.
  Result<std::shared_ptr<const ChangeEvent>> Apply(const std::shared_ptr<const ChangeEvent>& ev);

 private:
  // The schema of out_ as from_, kinds_ and retyped_ describe it.
  Result<TableSchemaPtr> Derived(const TableSchemaPtr& source);

  std::shared_ptr<const LuaScript> script_;
  std::shared_ptr<DerivedSchemas> schemas_;
  LuaLimits limits_;
  std::unique_ptr<LuaRuntime> runtime_;
  // Per call, reused: the returned columns (sorted), and per column the
  // source column it is (-1: added), its kind, whether it was retyped.
  ScriptRow out_;
  std::vector<int> from_;
  std::vector<ValueKind> kinds_;
  std::vector<uint8_t> retyped_;
  std::vector<int> slots_;  // per source column, the returned column that is it
  ScriptRow sorted_;
  // Per source schema version (kept alive by `source`), the derived schemas
  // this instance used, by column signature (the shared ones, so no lock
  // per row), and the last one used (rows of a table mostly come out alike:
  // compared before a signature is built).
  struct DerivedSet {
    TableSchemaPtr source;
    std::map<std::string, TableSchemaPtr> by_signature;
    TableSchemaPtr last;
    std::vector<int> last_from;
    std::vector<ValueKind> last_kinds;
    std::vector<uint8_t> last_retyped;
    // Returned names that are not the Lua strings handed out, and the
    // source column each is (-1: added by the script).
    std::vector<std::pair<std::string, int>> looked_up;
  };
  std::map<const TableSchema*, DerivedSet> derived_;
};

}  // namespace sluice::transform::lua
