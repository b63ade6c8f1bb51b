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

#include <regex>

#include "core/sync_point.h"
#include "pipeline/pipeline.h"
#include "pipeline/pg_source.h"
#include "pipeline/selection.h"
#include "pipeline/table_set.h"

namespace sluice::pipeline {

namespace {

constexpr const char* kSelectionSetting = "selection";

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
  if (IsPostgresSource(*source_cfg_) || source_cfg_->endpoint.scheme == "file") return Status::Ok();
  const std::string now = DescribeSelection(cfg_.tables);
  ASSIGN_OR_RETURN(auto recorded, store_.GetSetting(cfg_.name, kSelectionSetting));
  // The first start (or a store that never recorded one) carries what the
  // start position and `snapshot:` say: nothing to compare with.
  if (!recorded.has_value() || *recorded == now) {
    if (!recorded.has_value()) RETURN_IF_ERROR(store_.SetSetting(cfg_.name, kSelectionSetting, now));
    return Status::Ok();
  }
  auto before = ParseSelection(*recorded);
  if (!before.ok()) {
    spdlog::warn("pipeline {}: {}; recording the current rules", cfg_.name, before.status().message());
    return store_.SetSetting(cfg_.name, kSelectionSetting, now);
  }
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  auto conn = mysql::MysqlConnection::Connect(co, &jobs_interrupt_);
  if (!conn.ok()) return conn.status().WithContext(fmt::format("source {}", cfg_.source));
  ASSIGN_OR_RETURN(auto selected, SelectedTables(**conn, cfg_));
  std::vector<SourceTable> fresh = NewlySelected(selected, *before);
  if (fresh.empty()) return store_.SetSetting(cfg_.name, kSelectionSetting, now);

  std::vector<std::string> names, keyless;
  PipelineConfig copy = cfg_;
  copy.tables.clear();
  for (const SourceTable& t : fresh) {
    names.push_back(t.name());
    for (const TargetConfig* target : mysql_targets) {
      RETURN_IF_ERROR(EnsureMappedTargetTables(config_, cfg_, *target, t.db, t.table, /*also_one_to_one=*/true)
                          .WithContext(fmt::format("pipeline {}: target {}: newly selected table {}", cfg_.name,
                                                   target->name, t.name())));
    }
    auto schema = mysql::ReadTableSchema(**conn, t.db, t.table);
    if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!schema.ok()) return schema.status().WithContext(fmt::format("source {}", cfg_.source));
    if ((*schema)->primary_key.empty() && (*schema)->unique_key.empty()) {
      keyless.push_back(t.name());
      continue;
    }
    TableRule exact = *t.rule;
    exact.is_regex = true;
    exact.match = RegexEscape(t.name());
    exact.regex = std::make_shared<const std::regex>(exact.match, std::regex::ECMAScript);
    exact.snapshot_where.clear();
    copy.tables.push_back(std::move(exact));
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
  } else if (!keyless.empty()) {
    warning = fmt::format(
        "{} newly selected without a primary or unique key: the rows they held before cannot be copied while the "
        "pipeline streams (rows inserted meanwhile would land twice); stop the pipeline and copy them with {}",
        fmt::join(keyless, ", "), copy_by_hand);
  }
  if (!warning.empty()) {
    spdlog::warn("pipeline {}: {}", cfg_.name, warning);
    std::lock_guard lock(mu_);
    NoteEvent("", "warning", std::move(warning));
  }
  if (cfg_.snapshot == SnapshotMode::kInitial && !copy.tables.empty()) {
    // Recorded once the copy is done: a stop or crash before copies again.
    selection_copy_ = std::move(copy);
    selection_record_ = now;
    return Status::Ok();
  }
  return store_.SetSetting(cfg_.name, kSelectionSetting, now);
}

void Pipeline::StartSelectionCopy() {
  if (!selection_copy_) return;
  std::lock_guard lock(mu_);
  if (stop_ || snapshot_running_) return;  // a requested snapshot copies every table anyway
  SnapshotOptions options;
  options.alongside_stream = true;
  snapshot_ = std::make_unique<Snapshot>(config_, *selection_copy_, options);
  snapshot_running_ = true;
  std::string what = fmt::format("copying the rows of {} table(s) the rules newly select, alongside the stream",
                                 selection_copy_->tables.size());
  spdlog::info("pipeline {}: {}", cfg_.name, what);
  NoteEvent("", "snapshot", what);
  selection_thread_ = std::thread([this, snapshot = snapshot_.get(), record = selection_record_] {
    Status st = snapshot->Run();
    if (st.ok()) {
      Status saved = store_.SetSetting(cfg_.name, kSelectionSetting, record);
      if (!saved.ok()) spdlog::error("pipeline {}: recording the table selection: {}", cfg_.name, saved.message());
      spdlog::info("pipeline {}: newly selected tables copied, {} rows", cfg_.name, snapshot->progress().rows_copied);
    } else if (st.code() != StatusCode::kCancelled) {
      spdlog::error("pipeline {}: copying the newly selected tables failed (the next start copies them again): {}",
                    cfg_.name, st.message());
    }
    std::lock_guard done(mu_);
    snapshot_running_ = false;
    if (st.code() != StatusCode::kCancelled) {
      NoteEvent("", "snapshot",
                st.ok() ? fmt::format("newly selected tables copied: {} rows", snapshot->progress().rows_copied)
                        : "copying the newly selected tables failed: " + st.message());
    }
  });
}

}  // namespace sluice::pipeline
