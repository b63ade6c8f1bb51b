#pragma once
// CommitVote: the partitions of one batch vote before they commit, so that
// all commit or none does. A change a target rejects (on_error: stop) then
// leaves the target at a transaction boundary of the source: no partition
// has committed a later transaction than the one rejected. Used by the
// MySQL and PostgreSQL sinks, whose partitions run on a WorkerGroup.
//
// Threading: each of the `voters` partition threads calls Cast once; the
// owner reads aborted() after they all returned.

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace sluice {

class CommitVote {
 public:
  explicit CommitVote(size_t voters) : pending_(voters) {}
  CommitVote(const CommitVote&) = delete;
  CommitVote& operator=(const CommitVote&) = delete;

  // Votes, waits for every other voter, and says whether to commit (every
  // voter was ready).
  bool Cast(bool ready) {
    std::unique_lock lock(mu_);
    if (!ready) abort_ = true;
    if (--pending_ == 0) {
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return pending_ == 0; });
    }
    return !abort_;
  }
  bool aborted() const {
    std::lock_guard lock(mu_);
    return abort_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t pending_;
  bool abort_ = false;
};

}  // namespace sluice
