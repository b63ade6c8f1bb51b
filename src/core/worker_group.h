#pragma once
// WorkerGroup: a fixed set of threads kept for the owner's lifetime, each
// running the task given to it by RunEach. Sinks apply a batch's partitions
// on them: a thread created per partition per batch cost a clone and a
// teardown every batch, on the apply path.
//
// Threading: RunEach is called by one thread at a time (the owner); the
// tasks run on the workers, and RunEach returns once every one has ended,
// so they may use the caller's stack. The destructor ends the threads.

#include <condition_variable>
#include <cstdint>
#include <functional>
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
  // repeats) and returns when all have returned.
  void RunEach(const std::vector<uint32_t>& which, const std::function<void(uint32_t)>& task);

 private:
  void Work(uint32_t index);

  std::mutex mu_;
  std::condition_variable wake_;   // workers: a new round, or the end
  std::condition_variable done_;   // the owner: the round's last task ended
  const std::function<void(uint32_t)>* task_ = nullptr;  // the round's task, guarded by mu_
  std::vector<uint64_t> round_of_;  // per worker: the round it is to run (guarded by mu_)
  uint64_t round_ = 0;              // guarded by mu_
  size_t pending_ = 0;              // tasks of the round not yet ended, guarded by mu_
  bool stop_ = false;               // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace sluice
