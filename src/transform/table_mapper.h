#pragma once
// TableMapper: applies a pipeline's table rules (design §5) to source rows:
// selection (glob or /regex/ on "db.table"), rename (`to:` with ${db} and
// ${table}), column subset and renames, and the `where:` row filter with
// materialized-view meaning (an update that takes a row out of the filter
// deletes it from the target, one that brings it in upserts it).
// Used from one thread (the pipeline's transform stage); RunScriptsAhead
// shares the rules' Lua scripts with helper threads it owns.

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <vector>

#include "core/change_event.h"
#include "core/status.h"
#include "core/sink_change.h"
#include "transform/lua/lua_row_transform.h"
#include "transform/lua/script_threads.h"
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
  // With MINIMAL row images taken (TakeMinimalRowImages), keyed tables: the
  // table of a kCascade change that moves a row to a new key in place.
  TargetTablePtr key_move;
  bool selected() const { return rule != nullptr; }
};

class Cascades;

class TableMapper {
 public:
  // Compiles the rules: regexes and filters are checked here, so that bad
  // rules fail before anything runs. `script_threads`: how many threads
  // (this one included, so at least 1) may run Lua scripts at once, each on
  // its own Lua state per rule.
  static Result<std::unique_ptr<TableMapper>> Create(std::vector<MappingRule> rules, size_t script_threads = 1);
  ~TableMapper();

  // The first rule matching "db.table", or null.
  const MappingRule* RuleFor(std::string_view db, std::string_view table) const;
  // The mapping of one schema version (cached per schema object).
  Result<const TableMapping*> Map(const TableSchemaPtr& schema);
  // Starts the Lua scripts of the row events among `events` on the script
  // threads and returns; the Transform calls that follow take those events
  // in the same order (others may come between) and use the results,
  // waiting for (or running) the ones not made yet, so rows still come out,
  // fail or drop one by one in source order while later rows' scripts run.
  // Without script threads, or for a few rows, it does nothing (Transform
  // runs the script itself). The next call drops results not taken.
  void RunScriptsAhead(std::span<const std::shared_ptr<ChangeEvent>> events);
  // Turns one row event into 0..2 sink changes (a key change is a delete and an upsert),
  // preceded by the kCascade changes of the source's foreign key actions.
  // A rule's Lua script runs first, on this thread's own Lua state (or ran
  // ahead, see RunScriptsAhead).
  Status Transform(const std::shared_ptr<const ChangeEvent>& ev, std::vector<SinkChange>& out);
  // Whether the last failed Transform failed in a Lua script (on_error: skip
  // leaves such a row out; other errors stop the pipeline).
  bool last_error_from_script() const { return script_failed_; }
  // The source's foreign key actions (MySQL/MariaDB sources): Transform
  // then follows a parent row's change with its kCascade changes.
  void SetCascades(std::shared_ptr<Cascades> cascades) { cascades_ = std::move(cascades); }
  // Row images that lack columns (a MySQL source under binlog_row_image=
  // MINIMAL) become changes for targets that share the source's table
  // definitions (MySQL and MariaDB): an update's missing columns are taken
  // from its before image where that has them, or left as they are on the
  // target (a partial upsert); an insert's are the target's DEFAULT
  // (SinkChange::absent_means_default). Off: such images are an error that
  // names binlog_row_image=FULL. Set before the first Transform.
  void TakeMinimalRowImages(bool on) { minimal_images_ = on; }

  // "search_db.orders" for a source table under a rule.
  static std::string ExpandTemplate(std::string_view tmpl, std::string_view db, std::string_view table);

 private:
  static Status NameTarget(const MappingRule& rule, const TableSchema& s, const std::string& where,
                           TargetTable& target);
  Result<const TableMapping*> MapSequence(const TableSchemaPtr& schema, const MappingRule& rule,
                                          const std::string& where);
  struct CompiledRule {
    MappingRule rule;
    bool is_regex = false;
    std::regex regex;
    std::unique_ptr<const FilterExpr> filter;
    // Per script thread (0: the mapper's own), its Lua state for this rule;
    // empty without a script.
    std::vector<std::unique_ptr<lua::LuaRowTransform>> lua;
  };
  // Rows of a RunScriptsAhead handed out at a time: small enough that the
  // script threads share a group of rows evenly and the transform thread
  // soon has results to go on with, large enough that handing one out
  // costs nothing beside the script.
  static constexpr size_t kScriptPiece = 8;
  // A script's result for one event, made ahead of its Transform.
  struct Ahead {
    std::shared_ptr<const ChangeEvent> in;
    const CompiledRule* rule = nullptr;
    std::shared_ptr<const ChangeEvent> out;  // null: the script dropped the row
    Status error;
  };
  TableMapper(std::vector<CompiledRule> rules, size_t script_threads)
      : rules_(std::move(rules)), script_threads_(script_threads) {}
  const CompiledRule* CompiledFor(std::string_view db, std::string_view table) const;
  // The rule of the event's table when it has a Lua script, else null.
  const CompiledRule* ScriptedRule(const ChangeEvent& ev);
  // Transform without the cascades.
  Status TransformRow(const std::shared_ptr<const ChangeEvent>& ev, std::vector<SinkChange>& out);

  std::vector<CompiledRule> rules_;
  std::shared_ptr<Cascades> cascades_;
  bool script_failed_ = false;
  bool minimal_images_ = false;
  size_t script_threads_ = 1;
  std::vector<Ahead> ahead_;  // in the order of the events; pieces of kScriptPiece
  size_t ahead_next_ = 0;     // the next of ahead_ a Transform takes
  std::unique_ptr<lua::ScriptThreads> threads_;  // started by the first RunScriptsAhead with work
  // Per source schema version, the rule when it has a Lua script (else null).
  std::map<const TableSchema*, std::pair<TableSchemaPtr, const CompiledRule*>> scripted_;
  // Keyed by schema object; the shared_ptr keeps the key's address from being reused.
  std::map<const TableSchema*, std::pair<TableSchemaPtr, std::unique_ptr<TableMapping>>> cache_;
};

}  // namespace sluice::transform
