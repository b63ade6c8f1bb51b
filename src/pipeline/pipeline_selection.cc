// Pipeline: tables a changed configuration newly selects (selection.h). At
// each start, before anything is captured, the rules are compared with those
// recorded in the store at the last start; the tables they newly select get
// their target tables on MySQL targets (other kinds create tables as rows
// come), so the stream's first change of such a table does not stop the
// target, and their existing rows, which the stream never carried, are
// copied alongside the stream (`snapshot: initial`) or named with the
// command that copies them (`snapshot: never`).

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <regex>
#include <set>

#include "core/sync_point.h"
#include "pipeline/check.h"
#include "pipeline/pipeline.h"
#include "pipeline/pg_source.h"
#include "pipeline/selection.h"
#include "pipeline/table_set.h"
#include "sink/registry.h"

namespace sluice::pipeline {

namespace {

constexpr const char* kSelectionSetting = kSelectionKey;
// PostgreSQL: tables added to the publication whose earlier rows are still to be copied, one per line.
constexpr const char* kUnstreamedSetting = kUnstreamedKey;

std::string RegexEscape(const std::string& text) {
  static const std::string kSpecial = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : text) {
    if (kSpecial.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Status Pipeline::PrepareNewlySelected(const std::vector<const TargetConfig*>& mysql_targets) {
  selection_copy_.reset();
  if (IsPostgresSource(*source_cfg_)) return PrepareNewlyPublished();
  if (source_cfg_->endpoint.scheme == "file") return Status::Ok();
  const std::string now = DescribeSelection(cfg_.tables);
  ASSIGN_OR_RETURN(auto recorded, settings_->Get(kSelectionSetting));
  // The first start (or a store that never recorded one) carries what the
  // start position and `snapshot:` say: nothing to compare with.
  if (!recorded.has_value() || *recorded == now) {
    if (!recorded.has_value()) RETURN_IF_ERROR(settings_->Set(kSelectionSetting, now));
    return Status::Ok();
  }
  auto before = ParseSelection(*recorded);
  if (!before.ok()) {
    spdlog::warn("pipeline {}: {}; recording the current rules", cfg_.name, before.status().message());
    return settings_->Set(kSelectionSetting, now);
  }
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  auto conn = mysql::MysqlConnection::Connect(co, &jobs_interrupt_);
  if (!conn.ok()) return conn.status().WithContext(fmt::format("source {}", cfg_.source));
  ASSIGN_OR_RETURN(auto selected, SelectedTables(**conn, cfg_));
  std::vector<SourceTable> fresh = NewlySelected(selected, *before);
  if (fresh.empty()) return settings_->Set(kSelectionSetting, now);

  std::vector<std::string> names, keyless, keyed;
  PipelineConfig copy = cfg_;
  copy.tables.clear();
  PipelineConfig keyless_copy = copy;
  for (const SourceTable& t : fresh) {
    names.push_back(t.name());
    for (const TargetConfig* target : mysql_targets) {
      RETURN_IF_ERROR(EnsureMappedTargetTables(config_, cfg_, *target, t.db, t.table, /*also_one_to_one=*/true,
                                               ColumnAlignment::kAddMappedRelaxUnmapped)
                          .WithContext(fmt::format("pipeline {}: target {}: newly selected table {}", cfg_.name,
                                                   target->name, t.name())));
    }
    auto schema = mysql::ReadTableSchema(**conn, t.db, t.table);
    if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!schema.ok()) return schema.status().WithContext(fmt::format("source {}", cfg_.source));
    TableRule exact = *t.rule;
    exact.is_regex = true;
    exact.match = RegexEscape(t.name());
    exact.regex = std::make_shared<const std::regex>(exact.match, std::regex::ECMAScript);
    exact.snapshot_where.clear();
    if ((*schema)->primary_key.empty() && (*schema)->unique_key.empty()) {
      keyless.push_back(t.name());
      keyless_copy.tables.push_back(std::move(exact));
      continue;
    }
    copy.tables.push_back(std::move(exact));
    keyed.push_back(t.name());
  }
  SLUICE_SYNC_POINT("pipeline.selection.created");
  const std::string copy_by_hand = fmt::format("`sluice snapshot -c {} --pipeline {}` (safe to repeat)",
                                               config_.path, cfg_.name);
  std::string warning;
  if (cfg_.snapshot != SnapshotMode::kInitial) {
    warning = fmt::format(
        "{} newly selected (the table rules changed since the last start): their target tables are there and "
        "changes from now on are applied, but the rows they held before were never carried (snapshot: never); copy "
        "them with {} or POST /api/pipelines/{}/snapshot",
        fmt::join(names, ", "), copy_by_hand, cfg_.name);
  }
  if (!warning.empty()) {
    spdlog::warn("pipeline {}: {}", cfg_.name, warning);
    std::lock_guard lock(mu_);
    NoteEvent("", "warning", std::move(warning));
  }
  bool settled = true;
  if (cfg_.snapshot == SnapshotMode::kInitial && !keyless_copy.tables.empty()) {
    ASSIGN_OR_RETURN(settled, CopyKeylessFirst(std::move(keyless_copy)));
  }
  if (cfg_.snapshot == SnapshotMode::kInitial && !copy.tables.empty()) {
    // Recorded once the copy is done: a stop or crash before copies again.
    selection_copy_ = std::move(copy);
    // (Not when a keyless one waits for the next start: that copies them all again.)
    selection_record_ = settled ? std::make_pair(std::string(kSelectionSetting), now) : std::make_pair("", "");
    selection_why_ = "the rules newly select them";
    selection_tables_ = std::move(keyed);
    return Status::Ok();
  }
  if (!settled) return Status::Ok();  // the next start copies them
  return settings_->Set(kSelectionSetting, now);
}

Result<bool> Pipeline::CopyKeylessFirst(PipelineConfig copy) {
  std::vector<std::string> names;
  for (const TableRule& r : copy.tables) names.push_back(r.match);
  copy.targets.clear();
  Snapshot* snapshot = nullptr;
  {
    std::lock_guard lock(mu_);
    if (stop_) return false;
    if (snapshot_running_) {
      spdlog::info("pipeline {}: newly selected keyless table(s) are copied at the next start (another copy runs)",
                   cfg_.name);
      return false;
    }
    copy.targets = LiveTargetsLocked();
    if (copy.targets.empty()) return false;
    SnapshotOptions options;
    options.stream_waits_for_copy = true;
    snapshot_ = std::make_unique<Snapshot>(config_, copy, std::move(options));
    snapshot = snapshot_.get();
    snapshot_running_ = true;
    std::string what = fmt::format("copying the rows of {} newly selected table(s) without a primary or unique key "
                                   "before streaming (their copy replaces the target table)",
                                   names.size());
    spdlog::info("pipeline {}: {}", cfg_.name, what);
    NoteEvent("", "snapshot", what);
  }
  Status st = snapshot->Run();
  std::lock_guard lock(mu_);
  snapshot_running_ = false;
  if (st.code() == StatusCode::kCancelled || stop_) return false;
  if (!st.ok()) {
    std::string error = fmt::format("copying the newly selected keyless table(s) failed (the next start copies "
                                    "them again; changes from now on are applied meanwhile): {}",
                                    st.message());
    spdlog::error("pipeline {}: {}", cfg_.name, error);
    NoteEvent("", "warning", std::move(error));
    return false;
  }
  auto read_at = snapshot->KeylessReadAt();
  if (!read_at.ok()) return read_at.status();
  for (const auto& [table, pos] : *read_at) keyless_copied_now_[table] = pos;
  NoteEvent("", "snapshot", fmt::format("newly selected keyless table(s) copied: {} rows",
                                        snapshot->progress().rows_copied));
  return true;
}

Status Pipeline::PrepareNewlyPublished() {
  ASSIGN_OR_RETURN(std::vector<std::string> fresh, UnpublishedPostgresTables(cfg_, *source_cfg_, pg_tables_));
  ASSIGN_OR_RETURN(auto recorded, settings_->Get(kUnstreamedSetting));
  std::set<std::string> pending;
  for (size_t at = 0; recorded && at < recorded->size();) {
    size_t end = std::min(recorded->find('\n', at), recorded->size());
    if (end > at) pending.insert(recorded->substr(at, end - at));
    at = end + 1;
  }
  const bool copy = cfg_.snapshot == SnapshotMode::kInitial;
  ASSIGN_OR_RETURN(std::vector<std::string> changed, ChangedRulePostgresTables());
  auto record = [&]() {
    std::string list;
    for (const std::string& t : pending) list += t + "\n";
    return list;
  };
  if (copy && !fresh.empty()) {
    // Recorded before they are published: a crash in between copies them at the next start.
    pending.insert(fresh.begin(), fresh.end());
    RETURN_IF_ERROR(settings_->Set(kUnstreamedSetting, record()));
  }
  if (copy && !changed.empty()) {
    pending.insert(changed.begin(), changed.end());
    RETURN_IF_ERROR(settings_->Set(kUnstreamedSetting, record()));
  }
  // Recorded once the tables it newly selects are (pending copies, or named below).
  RETURN_IF_ERROR(settings_->Set(kSelectionSetting, DescribeSelection(cfg_.tables)));
  if (!fresh.empty()) RETURN_IF_ERROR(PublishPostgresTables(cfg_, *source_cfg_, fresh));
  const std::string copy_by_hand = fmt::format("`sluice snapshot -c {} --pipeline {}` (safe to repeat)",
                                               config_.path, cfg_.name);
  std::string warning;
  if (!copy && !fresh.empty()) {
    warning = fmt::format(
        "{} added to publication \"{}\" (created since the pipeline last started, or while it ran): changes "
        "from now on are applied, but the rows written to them before were never streamed (snapshot: never); copy "
        "them with {} or POST /api/pipelines/{}/snapshot",
        fmt::join(fresh, ", "), PublicationOf(cfg_, *source_cfg_), copy_by_hand, cfg_.name);
  }
  if (!copy && !changed.empty()) {
    warning += fmt::format(
        "{}{} newly selected (the table rules changed since the last start): changes from now on are applied, but "
        "the rows the rules left out before were never streamed (snapshot: never); copy them with {} or POST "
        "/api/pipelines/{}/snapshot",
        warning.empty() ? "" : "; ", fmt::join(changed, ", "), copy_by_hand, cfg_.name);
  }
  std::erase_if(pending, [&](const std::string& t) {
    return std::find(pg_tables_.begin(), pg_tables_.end(), t) == pg_tables_.end();  // dropped, or no longer selected
  });
  if (copy && !pending.empty()) {
    ASSIGN_OR_RETURN(auto keyless, KeylessPostgresTables(cfg_, *source_cfg_, {pending.begin(), pending.end()}));
    if (!keyless.empty()) {
      warning = fmt::format(
          "{} added to publication \"{}\" without a primary key: the rows written to them before cannot be copied "
          "while the pipeline streams (rows inserted meanwhile would land twice); stop the pipeline and copy them "
          "with {}",
          fmt::join(keyless, ", "), PublicationOf(cfg_, *source_cfg_), copy_by_hand);
      for (const std::string& t : keyless) pending.erase(t);
    }
  }
  if (!warning.empty()) {
    spdlog::warn("pipeline {}: {}", cfg_.name, warning);
    std::lock_guard lock(mu_);
    NoteEvent("", "warning", std::move(warning));
  }
  if (!copy) return Status::Ok();
  if (pending.empty()) {
    return recorded && !recorded->empty() ? settings_->Set(kUnstreamedSetting, "") : Status::Ok();
  }
  PipelineConfig tables = cfg_;
  tables.tables.clear();
  std::vector<std::string> copied;
  for (const std::string& name : pending) {
    size_t dot = name.find('.');
    const TableRule* rule = nullptr;
    for (const TableRule& r : cfg_.tables) {
      if (MatchesTableRule(r, name.substr(0, dot), name.substr(dot + 1))) {
        rule = &r;
        break;
      }
    }
    if (rule == nullptr) continue;
    TableRule exact = *rule;
    exact.is_regex = true;
    exact.match = RegexEscape(name);
    exact.regex = std::make_shared<const std::regex>(exact.match, std::regex::ECMAScript);
    exact.snapshot_where.clear();
    tables.tables.push_back(std::move(exact));
    copied.push_back(name);
  }
  selection_copy_ = std::move(tables);
  selection_tables_ = std::move(copied);
  selection_record_ = {kUnstreamedSetting, ""};
  selection_why_ = fmt::format("added to publication \"{}\"", PublicationOf(cfg_, *source_cfg_));
  return Status::Ok();
}

Result<std::vector<std::string>> Pipeline::ChangedRulePostgresTables() {
  ASSIGN_OR_RETURN(auto recorded, settings_->Get(kSelectionSetting));
  if (!recorded.has_value() || *recorded == DescribeSelection(cfg_.tables)) return std::vector<std::string>{};
  auto before = ParseSelection(*recorded);
  if (!before.ok()) {
    spdlog::warn("pipeline {}: {}; recording the current rules", cfg_.name, before.status().message());
    return std::vector<std::string>{};
  }
  std::vector<SourceTable> selected;
  for (const std::string& name : pg_tables_) {
    const size_t dot = name.find('.');
    SourceTable t{name.substr(0, dot), name.substr(dot + 1)};
    auto rule = std::find_if(cfg_.tables.begin(), cfg_.tables.end(),
                             [&](const TableRule& r) { return MatchesTableRule(r, t.db, t.table); });
    if (rule != cfg_.tables.end()) t.rule = &*rule;
    selected.push_back(std::move(t));
  }
  std::vector<std::string> changed;
  for (const SourceTable& t : NewlySelected(selected, *before)) changed.push_back(t.name());
  return changed;
}

void Pipeline::StartSelectionCopy() {
  if (!selection_copy_) return;
  std::lock_guard lock(mu_);
  if (stop_ || snapshot_running_) return;  // a requested snapshot copies every table anyway
  SnapshotOptions options;
  options.alongside_stream = true;
  snapshot_ = std::make_unique<Snapshot>(config_, *selection_copy_, options);
  snapshot_running_ = true;
  std::string what = fmt::format("copying the rows of {} new table(s) ({}), alongside the stream",
                                 selection_copy_->tables.size(), selection_why_);
  spdlog::info("pipeline {}: {}", cfg_.name, what);
  NoteEvent("", "snapshot", what);
  selection_thread_ = std::thread([this, snapshot = snapshot_.get(), record = selection_record_,
                                   tables = selection_tables_] {
    Status st = snapshot->Run();
    if (st.ok()) {
      Status saved = record.first.empty() ? Status::Ok() : settings_->Set(record.first, record.second);
      if (!saved.ok()) spdlog::error("pipeline {}: recording the table selection: {}", cfg_.name, saved.message());
      spdlog::info("pipeline {}: new table(s) copied, {} rows", cfg_.name, snapshot->progress().rows_copied);
    } else if (st.code() != StatusCode::kCancelled) {
      spdlog::error("pipeline {}: copying the new tables failed (the next start copies them again): {}",
                    cfg_.name, st.message());
    }
    {
      std::lock_guard done(mu_);
      snapshot_running_ = false;
      if (st.code() != StatusCode::kCancelled) {
        NoteEvent("", "snapshot",
                  st.ok() ? fmt::format("new table(s) copied: {} rows", snapshot->progress().rows_copied)
                          : "copying the new tables failed: " + st.message());
      }
    }
    if (st.ok()) CheckCopiedSelection(tables);
  });
}

void Pipeline::CheckCopiedSelection(const std::vector<std::string>& tables) {
  if (tables.empty()) return;
  PipelineConfig checked = cfg_;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    checked.targets = LiveTargetsLocked();
  }
  std::erase_if(checked.targets, [&](const std::string& name) {
    const TargetConfig* t = config_.FindTarget(name);
    return t == nullptr || !sink::SupportsCheck(t->endpoint.scheme);
  });
  if (checked.targets.empty()) return;
  CheckOptions options;
  options.repair = cfg_.check.repair;
  options.interrupter = &jobs_interrupt_;
  options.only_targets_of = tables;
  options.max_keys = 5;
  auto report = RunCheck(config_, checked, options, &check_cancel_);
  if (!report.ok() && (report.status().code() == StatusCode::kCancelled || check_cancel_)) return;
  const std::string repair_by_hand =
      fmt::format("`sluice check -c {} --pipeline {} --repair`", config_.path, cfg_.name);
  std::lock_guard lock(mu_);
  if (!report.ok()) {
    std::string warning = fmt::format("comparing the new table(s) with their targets after the copy failed ({}); "
                                      "rows the targets held before may be left: {} finds and removes them",
                                      report.status().message(), repair_by_hand);
    spdlog::warn("pipeline {}: {}", cfg_.name, warning);
    NoteEvent("", "warning", std::move(warning));
    return;
  }
  std::string notes;
  for (const TargetCheckReport& t : report->targets) {
    for (const TableCheckReport& tr : t.tables) {
      if (!tr.note.empty()) notes += fmt::format("; note: {} on {}: {}", tr.target, t.target, tr.note);
    }
  }
  if (report->consistent()) {
    std::string what = "new table(s) compared with their targets after the copy: consistent" + notes;
    spdlog::info("pipeline {}: {}", cfg_.name, what);
    NoteEvent("", "check", std::move(what));
    return;
  }
  std::vector<std::string> found;
  uint64_t extra = 0;
  for (const TargetCheckReport& t : report->targets) {
    if (!t.caught_up) {
      found.push_back(fmt::format("{} had not applied up to the source's position within {} s, so some may be "
                                  "changes in flight", t.target, options.wait.count() / 1000));
    }
    for (const TableCheckReport& tr : t.tables) {
      extra += tr.extra;
      if (!tr.error.empty()) {
        found.push_back(fmt::format("{} on {}: not compared: {}", tr.target, t.target, tr.error));
      } else if (tr.differences() > 0) {
        found.push_back(fmt::format("{} on {}: {} extra, {} missing, {} different{}", tr.target, t.target, tr.extra,
                                    tr.missing, tr.different,
                                    tr.diffs.empty() ? "" : " (first: " + tr.diffs.front().key_text + ")"));
      }
    }
  }
  const std::string why = extra > 0 ? " (extra: rows the target held before that the source no longer has, or "
                                      "that the rule now leaves out)" : "";
  if (options.repair && report->repaired()) {
    std::string what = fmt::format("new table(s) compared with their targets after the copy and {} rows repaired: "
                                   "{}{}{}", report->repaired_rows(), fmt::join(found, "; "), why, notes);
    spdlog::info("pipeline {}: {}", cfg_.name, what);
    NoteEvent("", "check", std::move(what));
    return;
  }
  std::string warning = fmt::format("new table(s) compared with their targets after the copy: {}{}{}; {} {}",
                                    fmt::join(found, "; "), why, notes, repair_by_hand,
                                    options.repair ? "repairs what is left" : "makes them equal (or `check: {repair: "
                                                                             "true}` does after each such copy)");
  spdlog::warn("pipeline {}: {}", cfg_.name, warning);
  NoteEvent("", "warning", std::move(warning));
}

}  // namespace sluice::pipeline
