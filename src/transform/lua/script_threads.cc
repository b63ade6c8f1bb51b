#include "transform/lua/script_threads.h"

#include <pthread.h>

#include <limits>

#include "core/sync_point.h"

namespace sluice::transform::lua {
namespace {

// next_ once a batch ends: past any batch's pieces, with room for every
// helper's last increment.
constexpr size_t kNoneLeft = std::numeric_limits<size_t>::max() / 2;

}  // namespace

ScriptThreads::ScriptThreads(size_t helpers, const std::string& name) {
  next_.store(kNoneLeft);
  helpers_.reserve(helpers);
  for (size_t i = 1; i <= helpers; ++i) {
    helpers_.emplace_back([this, i, thread_name = (name + std::to_string(i)).substr(0, 15)] {
      pthread_setname_np(pthread_self(), thread_name.c_str());
      Help(i);
    });
  }
}

ScriptThreads::~ScriptThreads() {
  Finish();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : helpers_) t.join();
}

void ScriptThreads::Start(size_t pieces, Run run) {
  Finish();
  if (pieces > done_capacity_) {
    done_capacity_ = std::max(pieces, 2 * done_capacity_);
    done_ = std::make_unique<std::atomic<uint8_t>[]>(done_capacity_);
  }
  for (size_t i = 0; i < pieces; ++i) done_[i].store(0, std::memory_order_relaxed);
  run_ = std::move(run);
  pieces_ = pieces;
  next_.store(0);
  {
    std::lock_guard lock(mu_);
    open_ = true;
    ++batch_;
  }
  wake_.notify_all();
}

void ScriptThreads::RunPiece(size_t piece, size_t thread) {
  run_(piece, thread);
  if (thread != 0) SLUICE_SYNC_POINT("lua.helper.ran_piece");
  // seq_cst with owner_waiting_ (Await): either the owner sees the piece
  // done, or this thread sees the owner waiting and wakes it.
  done_[piece].store(1);
  if (thread != 0 && owner_waiting_.load()) {
    { std::lock_guard lock(mu_); }  // the owner is inside wait() or has not checked yet
    owner_.notify_all();
  }
}

void ScriptThreads::Await(size_t piece) {
  while (done_[piece].load() == 0) {
    size_t next = next_.load();
    if (next < pieces_) {
      // A piece no helper took: this one, or a later one while a helper
      // is still on this one.
      SLUICE_SYNC_POINT("lua.owner.takes_piece");
      if (next_.compare_exchange_weak(next, next + 1)) RunPiece(next, 0);
      continue;
    }
    owner_waiting_.store(true);
    {
      std::unique_lock lock(mu_);
      owner_.wait(lock, [&] { return done_[piece].load() != 0; });
    }
    owner_waiting_.store(false);
  }
}

void ScriptThreads::Finish() {
  std::unique_lock lock(mu_);
  if (!open_) return;
  open_ = false;
  next_.store(kNoneLeft);  // helpers leave after the piece they are on
  owner_.wait(lock, [&] { return inside_ == 0; });
}

void ScriptThreads::Help(size_t thread) {
  uint64_t seen = 0;
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || (open_ && batch_ != seen); });
    if (stop_) return;
    seen = batch_;
    ++inside_;
    lock.unlock();
    for (size_t piece; (piece = next_.fetch_add(1)) < pieces_;) RunPiece(piece, thread);
    lock.lock();
    if (--inside_ == 0) owner_.notify_all();
  }
}

}  // namespace sluice::transform::lua
