#pragma once
// BatchFate: what the batch in flight behind another (MysqlLoader, two
// slots) needs to know of it. Per partition, how far its part got: the next
// batch's part of a partition begins only after this batch's part began (a
// snapshot chunk taking the checkpoint rows in part order then never waits
// in a cycle), and writes rows only after it voted (so it never locks a key
// before this batch wrote it). And whether this batch committed in every
// partition, once all its parts ended: the next batch commits only after
// it did.
//
// Threading: each partition's thread of the batch calls Reach and counts
// `done` down once; threads of the next batch call WaitFor and wait on
// `done`. Partitions without a part count as voted.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <mutex>
#include <vector>

namespace sluice::sink::mysql {

struct BatchFate {
  enum Stage : uint8_t { kWaiting, kBegun, kVoted };
  BatchFate(const std::vector<uint32_t>& begun, uint32_t partitions)
      : done(static_cast<std::ptrdiff_t>(begun.size())), stage_(partitions, kVoted) {
    for (uint32_t p : begun) stage_[p] = kWaiting;
  }
  BatchFate(const BatchFate&) = delete;
  BatchFate& operator=(const BatchFate&) = delete;

  // Partition p got to `s` (a later stage only raises it).
  void Reach(uint32_t p, Stage s) {
    std::lock_guard lock(mu_);
    if (stage_[p] >= s) return;
    stage_[p] = s;
    cv_.notify_all();
  }
  void WaitFor(uint32_t p, Stage s) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stage_[p] >= s; });
  }

  std::latch done;                         // counted down by each part when it ends
  std::atomic<bool> all_committed{true};   // false once a part ended without committing

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint8_t> stage_;  // guarded by mu_
};

}  // namespace sluice::sink::mysql
