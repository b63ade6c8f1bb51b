#pragma once
// Triggers on target tables. sluice writes the rows a source transaction
// changed, its own triggers' rows included (the binlog holds them), so a
// trigger on a table sluice writes fires a second time on the target: what
// it writes into a table the pipeline also fills arrives twice, and what a
// BEFORE trigger sets in NEW makes the target's row differ from the
// source's. (A MariaDB replica does not run triggers for row events; a
// client cannot switch them off.) Targets often get them from a schema
// dump (`mysqldump --no-data` includes triggers). Pure functions; the
// pipeline checks its MySQL targets at start (pipeline_target_triggers.cc).

#include <set>
#include <string>
#include <vector>

namespace sluice::pipeline {

struct TriggerInfo {
  std::string schema, name;   // the trigger's
  std::string table;          // "db.table" it is defined on
  std::string timing, event;  // "BEFORE", "INSERT"
  std::string statement;      // ACTION_STATEMENT
};

struct TriggerEffect {
  std::vector<std::string> writes;  // "db.table"s among `filled` its body inserts into, updates or deletes from
  // A BEFORE trigger's NEW.column assignments (lower case): a column sluice
  // writes would differ from the source's; one only the target has (set by
  // the trigger, e.g. a load time) is the target's own business.
  std::vector<std::string> sets_new;
};

// What the trigger's body does to rows sluice writes; `filled` holds the
// target tables the pipeline fills ("db.table", lower case). A rough
// reading of the SQL (strings and comments skipped; a table written by a
// procedure the body calls is not seen).
TriggerEffect AnalyzeTrigger(const TriggerInfo& trigger, const std::set<std::string>& filled);

}  // namespace sluice::pipeline
