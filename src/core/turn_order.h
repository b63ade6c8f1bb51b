#pragma once
// TurnOrder: threads that must take one step in a fixed order (turn 0, then
// 1, ...) while doing the rest of their work in parallel. The MySQL sink's
// partitions begin their transactions this way: each takes its checkpoint
// row only after the partitions before it hold theirs (the order a snapshot
// chunk takes them in), yet the first partition starts applying rows while
// the later ones still wait for their turn.
//
// Threading: turn i is taken by one thread, which calls Wait(i) and then
// Done(i, ok) exactly once each. After a failed turn, every later Wait
// returns false at once (the step is not taken).

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace sluice {

class TurnOrder {
 public:
  TurnOrder() = default;
  TurnOrder(const TurnOrder&) = delete;
  TurnOrder& operator=(const TurnOrder&) = delete;

  // Blocks until every turn before `turn` is done; false when one failed.
  bool Wait(size_t turn) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return failed_ || next_ == turn; });
    return !failed_;
  }
  void Done(size_t turn, bool ok) {
    std::lock_guard lock(mu_);
    if (!ok) failed_ = true;
    if (next_ == turn) ++next_;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_ = 0;
  bool failed_ = false;
};

}  // namespace sluice
