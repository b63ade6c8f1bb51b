#include "sink/checkpoint_rows.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

namespace sluice::sink {

bool OldPartitionRows::Add(const std::string& scheme, int part, uint32_t slots, const StreamPos& pos) {
  if (!scheme.starts_with("partitions=") || part < 0) return false;
  const unsigned long n = std::strtoul(scheme.c_str() + 11, nullptr, 10);
  if (n == 0 || n > 4096 || static_cast<unsigned long>(part) >= n * slots) return false;
  std::vector<StreamPos>& progress = settings_[static_cast<uint32_t>(n)];
  progress.resize(n);
  StreamPos& p = progress[static_cast<uint32_t>(part) % n];
  if (p.empty() || p < pos) p = pos;
  return true;
}

void OldPartitionRows::Finish(const StreamPos& global) {
  until_ = StreamPos();
  for (const auto& [n, progress] : settings_) {
    for (const StreamPos& p : progress) {
      if (!p.empty() && global < p && (until_.empty() || until_ < p)) until_ = p;
    }
  }
}

std::string OldPartitionRows::Settings() const {
  std::vector<uint32_t> ns;
  for (const auto& [n, progress] : settings_) ns.push_back(n);
  return fmt::format("{}", fmt::join(ns, ", "));
}

bool OldPartitionRows::Applied(const SinkChange& ch,
                               const std::function<uint32_t(const SinkChange&, uint32_t)>& partition_of) const {
  // A cascade is applied only with the global row, never by a partition.
  if (until_.empty() || until_ < ch.pos || ch.kind == SinkChange::Kind::kCascade) return false;
  for (const auto& [n, progress] : settings_) {
    const StreamPos& done = progress[partition_of(ch, n)];
    if (!done.empty() && ch.pos <= done) return true;
  }
  return false;
}

void OldPartitionRows::Clear() {
  settings_.clear();
  until_ = StreamPos();
}

std::map<int, StreamPos> OwnCheckpointRows(const std::vector<std::vector<std::optional<std::string>>>& rows,
                                           const std::string& scheme, int global_part) {
  std::map<int, StreamPos> own;
  for (const auto& r : rows) {
    const int part = std::atoi(r[0].value_or("0").c_str());
    StreamPos pos;
    if ((part == global_part || r[2] == scheme) && StreamPos::Parse(r[1].value_or(""), &pos)) own[part] = pos;
  }
  return own;
}

void CommittedRows::Note(int row, const StreamPos& pos) {
  StreamPos& held = rows_[row];
  if (held.empty() || held < pos) held = pos;
}

Status CommittedRows::Check(const std::map<int, StreamPos>& now, const std::string& target) const {
  for (const auto& [row, committed] : rows_) {
    auto it = now.find(row);
    if (it != now.end() && !(it->second < committed)) continue;
    return Status::Error(
        StatusCode::kTargetRewound,
        "target {} went back: its checkpoint{} held {} and now {}: the target lost transactions it had "
        "committed (restored from a backup, or a server that does not flush every commit crashed); the pipeline "
        "starts again from the target's checkpoint and applies them again",
        target, row < 0 ? "" : fmt::format(" (partition row {})", row), committed.ToString(),
        it == now.end() ? "is gone" : "holds " + it->second.ToString());
  }
  return Status::Ok();
}

Result<std::string> RenamedFrom(const std::vector<std::string>& present, const std::string& pipeline,
                                const std::string& target, const std::vector<std::string>& former,
                                const std::string& delete_statement) {
  std::vector<std::string> left;
  for (const std::string& name : present) {
    if (name == target) return std::string();  // its own checkpoint
    if (std::find(former.begin(), former.end(), name) != former.end()) left.push_back(name);
  }
  if (left.empty()) return std::string();
  std::sort(left.begin(), left.end());
  left.erase(std::unique(left.begin(), left.end()), left.end());
  if (left.size() > 1) {
    return Status::Invalid(
        "target {}: this database holds checkpoints of pipeline {} under target names it ran before and the "
        "configuration no longer has ({}), and none under {}: if one of them was renamed to {}, remove the rows of "
        "those gone for good ({}) and start again",
        target, pipeline, fmt::join(left, ", "), target, target, delete_statement);
  }
  return left[0];
}

void LogTakenOver(const std::string& pipeline, const std::string& target, const std::string& old) {
  spdlog::warn("pipeline {} target {}: took over the checkpoint of target {} in this database (the configuration "
               "no longer names {}: {} is taken for it renamed, and goes on where it stopped)",
               pipeline, target, old, old, target);
}

}  // namespace sluice::sink
