// MysqlLoader's batches in flight (mysql_loader.h, the header comment):
// handing a batch over, settling the oldest, and applying again what was in
// flight when one failed. The split and the partitions' work are in
// mysql_loader.cc (shared with the synchronous ApplyBatch).

#include <algorithm>

#include "sink/mysql/mysql_loader.h"

namespace sluice::sink::mysql {
namespace {

// Batches in flight at once (ApplyBatchTakingOver): one applying and
// committing, the next beginning behind it. More would only hold memory:
// the next batch's partitions wait for this one's commits anyway.
constexpr size_t kMaxFlights = 2;

}  // namespace

Status MysqlLoader::ApplyBatchTakingOver(std::vector<SinkChange>& changes, const BatchEnd& end) {
  RETURN_IF_ERROR(DrainRedo());
  RETURN_IF_ERROR(EnsureConnected());  // connections are whole while batches fly: nothing to do then
  if (HasSequenceChange(changes)) RETURN_IF_ERROR(ApplySequenceStates(changes));
  RETURN_IF_ERROR(LoadTableInfo(changes));
  if (HasCascade(changes)) {
    // Touches rows of any partition: nothing flies beside it.
    RETURN_IF_ERROR(Settle());
    return ApplyBatchNow(changes, end);
  }
  // Before a snapshot's horizon (ApplyCatchUp) nothing flies: those changes
  // go over one connection, after everything before them.
  const bool catch_up = !changes.empty() && InCatchUp(changes.front());
  // Past the rows of earlier `parallel` settings, with nothing in flight:
  // they go now (beside partitions waiting for their vote, the DELETE could
  // wait on those partitions' rows, and they for this thread).
  if (!catch_up && !changes.empty() && flights_.empty() && !old_partitions_.empty() &&
      (old_partitions_.until().empty() || old_partitions_.until() < changes.front().pos)) {
    RETURN_IF_ERROR(EndOldSchemes());
  }
  if (!catch_up && flights_.size() >= kMaxFlights) RETURN_IF_ERROR(SettleOldest());
  auto f = std::make_shared<Flight>();
  // The global row kept back rides in one batch in flight at a time: two
  // would queue on its lock, the later one's begins (and so its overlap)
  // held up until the earlier one commits.
  const bool carrying = std::any_of(flights_.begin(), flights_.end(), [](const auto& g) { return g->carrier; });
  if (!catch_up && redo_.empty()) Split(*f, changes, 0, end, !carrying);
  if (f->begun.empty()) {
    RETURN_IF_ERROR(Settle());
    return ApplyBatchNow(changes, end);
  }
  // Moving the vector keeps its elements where they are: the split's
  // pointers into it stay valid.
  f->owned = std::move(changes);
  f->changes = &f->owned;
  f->slot = next_slot_;
  next_slot_ = (next_slot_ + 1) % kSlots;
  if (!flights_.empty()) f->before = flights_.back()->fate;
  flights_.push_back(f);
  for (uint32_t p : f->begun) {
    workers_.Post(p + f->slot * options_.parallel, [this, f, p] { RunPartition(*f, p); });
  }
  return Status::Ok();
}

Status MysqlLoader::SettleOldest() {
  std::shared_ptr<Flight> f = flights_.front();
  f->fate->done.wait();
  if (f->fate->all_committed) {
    flights_.pop_front();
    f->before.reset();
    return Conclude(*f);
  }
  // It failed, and every batch behind it rolls back (it commits only after
  // this one did). What committed is recorded; then all of them are applied
  // again, in order, the way ApplyBatch applies a batch (which resolves a
  // conflict or a rejection) — after a reconnect when the error says so.
  const Status first = GroundFlights();
  if (!first.ok() && first.retryable() && first.code() != StatusCode::kAborted) return first;
  return DrainRedo();
}

Status MysqlLoader::Settle() {
  while (!flights_.empty()) RETURN_IF_ERROR(SettleOldest());
  return DrainRedo();
}

Status MysqlLoader::DrainRedo() {
  while (!redo_.empty()) {
    RETURN_IF_ERROR(ApplyBatchNow(redo_.front().changes, redo_.front().end));
    redo_.pop_front();
  }
  return Status::Ok();
}

Status MysqlLoader::Poll() {
  while (!flights_.empty() && flights_.front()->fate->done.try_wait()) RETURN_IF_ERROR(SettleOldest());
  return Status::Ok();
}

Status MysqlLoader::Flush() { return Settle(); }

Status MysqlLoader::GroundFlights() {
  Status first = Status::Ok();
  for (const auto& f : flights_) {
    f->fate->done.wait();
    RecordCommitted(*f);
    for (uint32_t p : f->begun) {
      if (first.ok() && !f->results[p].ok()) first = f->results[p];
    }
    redo_.push_back({std::move(f->owned), f->end});
  }
  flights_.clear();
  return first;
}

}  // namespace sluice::sink::mysql
