#pragma once
// WorkerGroup: a fixed set of threads kept for the owner's lifetime, each
// running the tasks given to it in order. Sinks apply a batch's partitions
// on them: a thread created per partition per batch cost a clone and a
// teardown every batch, on the apply path.
//
// Threading: RunEach and Post are called by one thread at a time (the
// owner). RunEach returns once every task it gave has ended, so they may use
// the caller's stack; Post returns at once and its task runs after the tasks
// given to that worker before it (a worker runs its tasks one at a time, in
// the order given). The destructor runs the tasks still queued, then ends
// the threads.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice {

class WorkerGroup {
 public:
  // `name` names the threads (`name` + index, as `top -H` shows them).
  WorkerGroup(size_t size, std::string name);
  ~WorkerGroup();
  WorkerGroup(const WorkerGroup&) = delete;
  WorkerGroup& operator=(const WorkerGroup&) = delete;

  size_t size() const { return workers_.size(); }
  // Runs task(i) on worker i for every i in `which` (each below size(), no
  // repeats) and returns when all have returned. One task runs on the
  // caller when no task is queued on its worker (no hand-over at all).
  void RunEach(const std::vector<uint32_t>& which, const std::function<void(uint32_t)>& task);
  // Queues `task` on worker `index` and returns.
  void Post(uint32_t index, std::function<void()> task);

 private:
  struct Lane {
    std::condition_variable wake;
    std::deque<std::function<void()>> tasks;  // guarded by mu_
    bool busy = false;                        // running a task, guarded by mu_
  };
  void Work(uint32_t index);

  std::mutex mu_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  bool stop_ = false;  // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace sluice
