// Pipeline: a target that is down for `detach_after` while another target
// could go on, or slower than the others for that long (its full queue held
// them back), is set aside, so that its full queue stops holding the
// capture and with it the others. Once it answers again it catches up on a
// stream of its own (a pipeline with that target alone, from its
// checkpoint) while the others go on, and when it has reached them the
// pipeline starts anew: every target then goes on from its own checkpoint,
// the others skipping the little they applied already.

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/sync_point.h"
#include "pipeline/pg_source.h"
#include "pipeline/pipeline_target.h"

namespace sluice::pipeline {
namespace {

// How often a set-aside target is tried, and a catch-up looked at.
constexpr auto kProbeEvery = std::chrono::seconds(5);
constexpr auto kCatchUpLookEvery = std::chrono::seconds(1);
// A slow target is judged slice by slice: it holds the others back through
// a slice in which handing it work waited for room most of the time.
constexpr auto kHeldSlice = std::chrono::seconds(1);

const TargetStatus* FindTarget(const PipelineStatus& s, const std::string& name) {
  for (const TargetStatus& t : s.targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

void CatchUpStatus(const Pipeline& catch_up, TargetStatus& ts) {
  PipelineStatus cs = catch_up.status();
  const TargetStatus* ct = FindTarget(cs, ts.name);
  if (ct == nullptr) return;
  const uint64_t before = ts.rows_applied;
  ts = *ct;
  ts.rows_applied += before;
  if (ts.last_error.empty()) ts.last_error = "catching up from its checkpoint on a stream of its own (set aside)";
}

bool Pipeline::SetAsideIfHoldingOthers(Target& t) {
  if (cfg_.detach_after_ms == 0 || t.failed) return false;
  {
    std::lock_guard lock(mu_);
    if (t.state != PipelineState::kRetrying ||
        Clock::now() - t.down_since < std::chrono::milliseconds(cfg_.detach_after_ms)) {
      return false;
    }
  }
  if (!t.sink) {
    // Down since this run began, so its checkpoint is unknown. One that never
    // ran is waited for: it would start where the others are, later than
    // `start:` says. The pipeline's recorded targets (shared in cluster mode)
    // or this store's copy of its checkpoint say it ran. Every target is
    // waited for while a position set through the API waits to be recorded.
    auto recorded = RecordedTargets();
    bool ran = recorded.ok() && std::find(recorded->begin(), recorded->end(), t.cfg->name) != recorded->end();
    if (!ran) {
      auto held = store_.LoadCheckpoint(cfg_.name, t.cfg->name);
      ran = held.ok() && held->has_value();
    }
    auto api_start = settings_->Get("start");
    if (!ran || !api_start.ok() || api_start->has_value()) return false;
  }
  std::lock_guard lock(mu_);
  const auto down = Clock::now() - t.down_since;
  bool others = false;
  for (const auto& o : targets_) others |= o.get() != &t && !o->failed;
  if (!others) return false;  // nothing to let go on
  const std::string why = fmt::format(
      "target {}: down for {} s ({}); set aside so that the pipeline's other targets go on (detach_after); once it "
      "answers again it catches up from its checkpoint",
      t.cfg->name, std::chrono::duration_cast<std::chrono::seconds>(down).count(),
      WithoutTargetPrefix(t.last_error, cfg_.name, t.cfg->name));
  spdlog::warn("pipeline {}: {}", cfg_.name, why);
  NoteTarget(t, PipelineState::kRetrying, why);
  t.set_aside = true;
  t.failed = true;
  return true;
}

bool Pipeline::SetAsideIfSlow(Target& t, Clock::duration waited) {
  if (cfg_.detach_after_ms == 0 || t.failed || t.slow) return false;
  const auto now = Clock::now();
  if (t.slice_start == Clock::time_point{}) t.slice_start = now - waited;
  t.held_in_slice += waited;
  const auto slice = now - t.slice_start;
  if (slice < kHeldSlice) return false;
  const bool held = t.held_in_slice * 5 >= slice * 4;  // waited for it 80% of the slice or more
  if (!held) {
    t.holding_since = {};
  } else if (t.holding_since == Clock::time_point{}) {
    t.holding_since = t.slice_start;
  }
  t.slice_start = now;
  t.held_in_slice = {};
  if (!held || now - t.holding_since < std::chrono::milliseconds(cfg_.detach_after_ms)) return false;
  // Held back: another target could take more (all of them full is a
  // source faster than every target, where setting one aside helps none).
  bool others = false;
  for (const auto& o : targets_) {
    others |= o.get() != &t && !o->failed && !o->slow && o->queue->bytes() < o->queue->max_bytes() / 2;
  }
  if (!others) return false;
  const std::string why = fmt::format(
      "target {}: slower than the others for {} s (its queue was full, holding them back); set aside so that they "
      "go on (detach_after): it catches up from its checkpoint on a stream of its own",
      t.cfg->name, std::chrono::duration_cast<std::chrono::seconds>(now - t.holding_since).count());
  spdlog::warn("pipeline {}: {}", cfg_.name, why);
  {
    std::lock_guard lock(mu_);
    NoteEvent(t.cfg->name, "warning", why);
    t.last_error = why;
  }
  t.slow = true;
  return true;
}

void Pipeline::SetAsideSlowTarget(Target& t) {
  // Its catch-up reads the checkpoint the target holds: nothing of this
  // stream may commit after that. What is gathered and not sent is read
  // again by the catch-up.
  if (!t.unacked.empty()) {
    // Failing (the target went down meanwhile), it is set aside all the
    // same: the catch-up opens it anew once it answers.
    if (Status st = t.sink->Flush(); st.ok()) ReportAcknowledged(t);
  }
  t.set_aside = true;
  t.failed = true;
}

void Pipeline::WaitForSetAsideTarget(Target& t) {
  // Detached: drain so the transform stage never blocks on this target,
  // and keep its delay gauge growing from the oldest change it never
  // applied until the pipeline is stopped: a failed target is behind.
  // A slow one answers: its catch-up starts at once.
  auto next_look = t.slow ? Clock::now() : Clock::now() + kProbeEvery;
  bool answered = false;
  std::string main_position;  // the pipeline's capture position at the catch-up's last look
  while (!stop_) {
    if (!t.catch_up) PublishDelay(t);  // else the catch-up's target loop keeps the gauge
    auto item = t.queue->Pop(std::chrono::milliseconds(100));
    if (item && (*item)->kind == TargetWork::Kind::kChanges) {
      std::lock_guard lock(mu_);
      if (!t.oldest_pending_ms) t.oldest_pending_ms = CommitEstimateMs((*item)->ts_ms, (*item)->received_ms);
    }
    if (!item && t.queue->closed()) SleepUnlessStopping(std::chrono::milliseconds(200));
    if (!t.set_aside || Clock::now() < next_look) continue;
    if (t.catch_up) {
      next_look = Clock::now() + kCatchUpLookEvery;
      if (WatchCatchUp(t, main_position)) break;
      std::lock_guard lock(mu_);
      main_position = source_position_;
      continue;
    }
    if (answered) continue;
    next_look = Clock::now() + kProbeEvery;
    Status st;
    if (t.sink) {
      st = t.sink->Reconnect();
    } else {
      sink::SinkOptions so = TargetSinkOptions(cfg_, *t.cfg);
      so.interrupt = &t.interrupt;
      st = sink::OpenSink(so).status();
    }
    // Back from an older state (kTargetRewound) it answers too: the catch-up
    // opens the target anew and goes on from the checkpoint it holds now.
    if (!st.ok() && st.code() != StatusCode::kTargetRewound) {
      spdlog::debug("pipeline {} target {}: set aside, still down: {}", cfg_.name, t.cfg->name, st.message());
      continue;
    }
    answered = true;
    // Binlog files offline are read once: there the target catches up in a
    // new start of the whole pipeline, the others waiting for it.
    if (source_cfg_->endpoint.scheme == "file") {
      const std::string why =
          fmt::format("target {} answers again after it was set aside: starting anew, it catches up from its "
                      "checkpoint",
                      t.cfg->name);
      spdlog::info("pipeline {}: {}", cfg_.name, why);
      RequestRestart(why);
      continue;
    }
    {
      std::lock_guard lock(mu_);
      main_position = source_position_;
    }
    StartCatchUp(t);
  }
  EndCatchUp(t);
  // Whatever ended the loop early (caught up, a failed catch-up): drained
  // until the pipeline stops, as any failed target's queue.
  while (!stop_) {
    auto item = t.queue->Pop(std::chrono::milliseconds(100));
    if (!item && t.queue->closed()) SleepUnlessStopping(std::chrono::milliseconds(200));
  }
}

void Pipeline::StartCatchUp(Target& t) {
  PipelineConfig pc = cfg_;
  pc.targets = {t.cfg->name};
  pc.detach_after_ms = 0;  // alone: nothing to set it aside for
  pc.snapshot = SnapshotMode::kNever;  // it ran before: its checkpoint says where it is
  pc.check.every_ms = 0;
  // A PostgreSQL slot serves one stream at a time: the catch-up reads a
  // copy of it (where it is, held for this target since it was set aside).
  std::string slot;
  if (IsPostgresSource(*source_cfg_)) {
    size_t n = 0;
    while (n < targets_.size() && targets_[n].get() != &t) ++n;
    slot = CatchUpSlotName(cfg_, *source_cfg_, n);
    if (Status st = CopySlotForCatchUp(cfg_, *source_cfg_, slot); !st.ok()) {
      spdlog::warn("pipeline {}: target {}: {}; starting anew instead", cfg_.name, t.cfg->name, st.message());
      RequestRestart(fmt::format("target {} answers again after it was set aside", t.cfg->name));
      return;
    }
  }
  // Its binlog connection gets a random server id (ServeAsCatchUp).
  auto p = std::make_unique<Pipeline>(config_, pc, store_, metrics_, server_id_offset_);
  if (shared_settings_) p->ShareSettings(shared_settings_);
  p->ServeAsCatchUp(slot);
  p->SetInDoubt(in_doubt_);
  const std::string note = fmt::format(
      "target {} answers again after it was set aside: it catches up from its checkpoint on a stream of its own "
      "while the others go on",
      t.cfg->name);
  spdlog::info("pipeline {}: {}", cfg_.name, note);
  if (Status st = p->Start(); !st.ok()) {
    // Validation failed (the source out of reach, say): a new start of the
    // whole pipeline does it, with the others waiting.
    spdlog::warn("pipeline {}: target {}: its catch-up did not start ({}); starting anew", cfg_.name, t.cfg->name,
                 st.message());
    RequestRestart(fmt::format("target {} answers again after it was set aside", t.cfg->name));
    p.reset();
    if (!slot.empty()) (void)DropCatchUpSlot(cfg_, *source_cfg_, slot, std::chrono::seconds(5));
    return;
  }
  std::lock_guard lock(mu_);
  NoteEvent(t.cfg->name, "catching up", note);
  t.catch_up = std::move(p);
  t.catch_up_slot = slot;
}

bool Pipeline::WatchCatchUp(Target& t, const std::string& main_position) {
  PipelineStatus cs = t.catch_up->status();
  const TargetStatus* ct = FindTarget(cs, t.cfg->name);
  if (std::string why = t.catch_up->TakeRestartRequest(); !why.empty()) {
    // The source moved (a failover) or the like: the whole pipeline starts anew.
    EndCatchUp(t);
    RequestRestart(fmt::format("target {} catching up: {}", t.cfg->name, why));
    return true;
  }
  if (cs.state == PipelineState::kFailed || (ct != nullptr && (ct->state == PipelineState::kFailed ||
                                                               ct->state == PipelineState::kFenced))) {
    std::string error = ct != nullptr && !ct->last_error.empty() ? ct->last_error : cs.last_error;
    // Fenced: a newer owner took the pipeline over (the node agent acts on it).
    const bool fenced = ct != nullptr && ct->state == PipelineState::kFenced;
    EndCatchUp(t);
    const std::string why =
        fmt::format("target {}: its catch-up {}: {}", t.cfg->name, fenced ? "is fenced off" : "failed", error);
    spdlog::error("pipeline {}: {}", cfg_.name, why);
    std::lock_guard lock(mu_);
    NoteTarget(t, fenced ? PipelineState::kFenced : PipelineState::kFailed, why);
    return true;
  }
  // Caught up: it has read as far as the others had a look ago, and applies.
  // (The pipeline read no commit since it started, the source being idle:
  // once it has nothing left to apply.)
  if (ct == nullptr || ct->state != PipelineState::kRunning || cs.source_position.empty()) return false;
  if (main_position.empty() ? ct->delay_ms >= 1000 : ResumeBefore(cs.source_position, main_position)) return false;
  SLUICE_SYNC_POINT("pipeline.catch_up.caught_up");
  EndCatchUp(t);
  const std::string why = fmt::format("target {} caught up on its own stream: starting anew, it goes on with the "
                                      "others",
                                      t.cfg->name);
  spdlog::info("pipeline {}: {}", cfg_.name, why);
  RequestRestart(why);
  return true;
}

void Pipeline::EndCatchUp(Target& t) {
  std::unique_ptr<Pipeline> p;
  {
    std::lock_guard lock(mu_);
    p = std::move(t.catch_up);
  }
  if (!p) return;
  PipelineStatus cs = p->status();
  p->Stop();  // what it applied is recorded in the target's checkpoint
  p.reset();
  if (!t.catch_up_slot.empty()) {
    // Left, the copy would hold the source's WAL; the next start drops it.
    if (Status st = DropCatchUpSlot(cfg_, *source_cfg_, t.catch_up_slot, std::chrono::seconds(10)); !st.ok()) {
      spdlog::warn("pipeline {}: {}", cfg_.name, st.message());
    }
    t.catch_up_slot.clear();
  }
  std::lock_guard lock(mu_);
  if (const TargetStatus* ct = FindTarget(cs, t.cfg->name)) {
    t.rows_applied += ct->rows_applied;
    t.applied_position = ct->applied_position;
    t.oldest_pending_ms = 0;
  }
}

}  // namespace sluice::pipeline
