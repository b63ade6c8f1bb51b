// Pipeline: what a pipeline's MySQL targets hold that would make its writes
// there wrong, checked at each start before anything is captured: triggers
// on the tables it fills (target_triggers.h), and a target that is the
// source server itself.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "client/mysql/same_server.h"
#include "pipeline/pg_source.h"
#include "pipeline/pipeline.h"
#include "pipeline/table_set.h"
#include "pipeline/target_triggers.h"

namespace sluice::pipeline {

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

Status Pipeline::CheckTargetTriggers(const std::vector<const TargetConfig*>& mysql_targets) {
  if (mysql_targets.empty() || IsPostgresSource(*source_cfg_) || source_cfg_->endpoint.scheme == "file") {
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  auto source = mysql::MysqlConnection::Connect(co, &jobs_interrupt_);
  if (!source.ok()) return source.status().WithContext(fmt::format("source {}", cfg_.source));
  ASSIGN_OR_RETURN(auto selected, SelectedTables(**source, cfg_));
  std::set<std::string> filled;
  std::map<std::string, std::pair<const SourceTable*, const transform::MappingRule*>> source_of;  // by target table
  std::set<std::string> read_back;  // target tables the rules select: `db`.`table`
  for (const SourceTable& st : selected) {
    const transform::MappingRule* rule = mapper_->RuleFor(st.db, st.table);
    if (rule == nullptr) continue;
    std::string dest = rule->to.empty() ? st.name() : transform::TableMapper::ExpandTemplate(rule->to, st.db, st.table);
    const size_t dot = dest.find('.');
    if (dot != std::string::npos && mapper_->RuleFor(dest.substr(0, dot), dest.substr(dot + 1)) != nullptr) {
      read_back.insert(fmt::format("`{}`.`{}`", dest.substr(0, dot), dest.substr(dot + 1)));
    }
    dest = Lower(std::move(dest));
    filled.insert(dest);
    source_of.emplace(dest, std::make_pair(&st, rule));
  }
  // The target columns sluice writes into `dest` (lower case).
  auto written = [&](const std::string& dest) -> Result<std::set<std::string>> {
    std::set<std::string> out;
    auto it = source_of.find(dest);
    if (it == source_of.end()) return out;
    const auto& [st, rule] = it->second;
    ASSIGN_OR_RETURN(auto columns, ReadColumnTypes(source_cfg_->endpoint, st->db, st->table));
    for (const ColumnType& c : MapColumns(*rule, columns, nullptr)) out.insert(Lower(c.name));
    return out;
  };
  for (const TargetConfig* target : mysql_targets) {
    ASSIGN_OR_RETURN(auto tco, mysql::ConnectOptions::FromUrl(target->endpoint));
    auto conn = mysql::MysqlConnection::Connect(tco, &jobs_interrupt_);
    if (!conn.ok()) return conn.status().WithContext(fmt::format("target {}", target->name));
    auto itself = mysql::SameServer(**conn, **source);
    if (!itself.ok()) return itself.status().WithContext(fmt::format("target {}: is it the source?", target->name));
    if (*itself) {
      // What the pipeline writes there is in the source's binlog next.
      if (!read_back.empty()) {
        return Status::Error(
            StatusCode::kNotSupported,
            "pipeline {}: target {} is the source server itself, and the tables the pipeline writes there are "
            "tables its rules read ({}): each change it applied would come back as a new change, for ever (older "
            "row images overwriting newer ones, rows of keyless tables multiplying). Map them to tables the rules "
            "do not select (`to:`), or point the target at another server",
            cfg_.name, target->name, fmt::join(read_back, ", "));
      }
      drops_own_transactions_ = true;
      spdlog::info("pipeline {}: target {} is the source server itself: the transactions the pipeline writes there "
                   "are left out of its stream",
                   cfg_.name, target->name);
    }
    ASSIGN_OR_RETURN(auto rows,
                     (*conn)->Query("SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, "
                                    "ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT FROM "
                                    "information_schema.TRIGGERS WHERE TRIGGER_SCHEMA NOT IN ('mysql', 'sys', "
                                    "'information_schema', 'performance_schema') ORDER BY 1, 2"));
    std::vector<std::string> refused;
    for (const auto& r : rows) {
      TriggerInfo info{r[0].value_or(""), r[1].value_or(""), r[2].value_or("") + "." + r[3].value_or(""),
                       r[4].value_or(""), r[5].value_or(""), r[6].value_or("")};
      if (!filled.contains(Lower(info.table))) continue;
      TriggerEffect effect = AnalyzeTrigger(info, filled);
      std::string what = fmt::format("trigger `{}`.`{}` ({} {} on `{}`.`{}`)", info.schema, info.name, info.timing,
                                     info.event, r[2].value_or(""), r[3].value_or(""));
      std::vector<std::string> harm;
      if (!effect.writes.empty()) {
        harm.push_back(fmt::format("writes {}, which this pipeline also fills: those rows would arrive twice (the "
                                   "source's binlog already holds what the source's triggers wrote)",
                                   fmt::join(effect.writes, ", ")));
      }
      if (!effect.sets_new.empty()) {
        ASSIGN_OR_RETURN(std::set<std::string> columns, written(Lower(info.table)));
        std::vector<std::string> changed;
        for (const std::string& c : effect.sets_new) {
          if (columns.contains(c)) changed.push_back(c);
        }
        if (!changed.empty()) {
          harm.push_back(fmt::format("sets NEW.{}, which sluice writes: the target's rows would differ from the "
                                     "source's",
                                     fmt::join(changed, ", NEW.")));
        }
      }
      if (!harm.empty()) {
        refused.push_back(fmt::format("{} fires on every row sluice writes there and {}; drop it on the target "
                                      "(DROP TRIGGER `{}`.`{}`) and start again",
                                      what, fmt::join(harm, ", and "), info.schema, info.name));
        continue;
      }
      std::string warning = fmt::format(
          "target {}: {} fires on every row sluice writes there (it writes no table this pipeline fills, as far as "
          "its text shows); drop it on the target unless that is meant",
          target->name, what);
      spdlog::warn("pipeline {}: {}", cfg_.name, warning);
      std::lock_guard lock(mu_);
      NoteEvent(target->name, "warning", std::move(warning));
    }
    if (!refused.empty()) {
      return Status::Error(StatusCode::kNotSupported, "pipeline {}: target {}: {}", cfg_.name, target->name,
                           fmt::join(refused, "; "));
    }
  }
  return Status::Ok();
}

}  // namespace sluice::pipeline
