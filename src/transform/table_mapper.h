#pragma once
// TableMapper: applies a pipeline's table rules (design §5) to source rows:
// selection (glob or /regex/ on "db.table"), rename (`to:` with ${db} and
// ${table}), column subset and renames, and the `where:` row filter with
// materialized-view meaning (an update that takes a row out of the filter
// deletes it from the target, one that brings it in upserts it).
// Used from one thread (the pipeline's transform stage).

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "core/change_event.h"
#include "core/status.h"
#include "core/sink_change.h"
#include "transform/lua/lua_row_transform.h"
#include "transform/row_filter.h"

namespace sluice::transform {

enum class DdlPolicy : uint8_t { kUnset, kApply, kIgnore, kStop };

struct MappingRule {
  std::string match;  // glob on "db.table", or /regex/
  std::string to;     // "" keeps the name; else a template with ${db} and ${table}
  std::vector<std::string> columns;  // subset; empty keeps all
  std::vector<std::pair<std::string, std::string>> rename_columns;
  std::string where;
  DdlPolicy ddl = DdlPolicy::kUnset;
  std::string origin;  // "sluice.yaml:12:7", for messages
  std::shared_ptr<const lua::LuaScript> lua;  // `transform: {lua: FILE}`, run before everything else
};

struct TableMapping {
  const MappingRule* rule = nullptr;  // null: no rule selects the table
  TargetTablePtr target;
  std::vector<uint32_t> source_index;  // per target column, the source column it takes
  std::vector<uint32_t> source_key;    // the source columns that identify a row (primary or unique key)
  std::optional<BoundFilter> filter;
  bool one_to_one = false;             // same name, every column, no renames
  bool selected() const { return rule != nullptr; }
};

class TableMapper {
 public:
  // Compiles the rules: regexes and filters are checked here, so that bad
  // rules fail before anything runs.
  static Result<std::unique_ptr<TableMapper>> Create(std::vector<MappingRule> rules);

  // The first rule matching "db.table", or null.
  const MappingRule* RuleFor(std::string_view db, std::string_view table) const;
  // The mapping of one schema version (cached per schema object).
  Result<const TableMapping*> Map(const TableSchemaPtr& schema);
  // Turns one row event into 0..2 sink changes (a key change is a delete and an upsert).
  // A rule's Lua script runs first, on this thread's own Lua state.
  Status Transform(const std::shared_ptr<const ChangeEvent>& ev, std::vector<SinkChange>& out);
  // Whether the last failed Transform failed in a Lua script (on_error: skip
  // leaves such a row out; other errors stop the pipeline).
  bool last_error_from_script() const { return script_failed_; }

  // "search_db.orders" for a source table under a rule.
  static std::string ExpandTemplate(std::string_view tmpl, std::string_view db, std::string_view table);

 private:
  struct CompiledRule {
    MappingRule rule;
    bool is_regex = false;
    std::regex regex;
    std::unique_ptr<const FilterExpr> filter;
    std::shared_ptr<lua::LuaRowTransform> lua;  // this mapper's (so this thread's) Lua state
  };
  explicit TableMapper(std::vector<CompiledRule> rules) : rules_(std::move(rules)) {}
  const CompiledRule* CompiledFor(std::string_view db, std::string_view table) const;

  std::vector<CompiledRule> rules_;
  bool script_failed_ = false;
  // Per source schema version, the rule when it has a Lua script (else null).
  std::map<const TableSchema*, std::pair<TableSchemaPtr, const CompiledRule*>> scripted_;
  // Keyed by schema object; the shared_ptr keeps the key's address from being reused.
  std::map<const TableSchema*, std::pair<TableSchemaPtr, std::unique_ptr<TableMapping>>> cache_;
};

}  // namespace sluice::transform
