#include "core/worker_group.h"

#include <pthread.h>

namespace sluice {

WorkerGroup::WorkerGroup(size_t size, std::string name) {
  for (size_t i = 0; i < size; ++i) lanes_.push_back(std::make_unique<Lane>());
  workers_.reserve(size);
  for (uint32_t i = 0; i < size; ++i) {
    workers_.emplace_back([this, i, thread_name = (name + std::to_string(i)).substr(0, 15)] {
      pthread_setname_np(pthread_self(), thread_name.c_str());
      Work(i);
    });
  }
}

WorkerGroup::~WorkerGroup() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  for (auto& lane : lanes_) lane->wake.notify_all();
  for (auto& w : workers_) w.join();
}

void WorkerGroup::Post(uint32_t index, std::function<void()> task) {
  Lane& lane = *lanes_[index];
  {
    std::lock_guard lock(mu_);
    lane.tasks.push_back(std::move(task));
  }
  lane.wake.notify_one();
}

void WorkerGroup::RunEach(const std::vector<uint32_t>& which, const std::function<void(uint32_t)>& task) {
  if (which.empty()) return;
  if (which.size() == 1) {
    std::unique_lock lock(mu_);
    const Lane& lane = *lanes_[which.front()];
    if (lane.tasks.empty() && !lane.busy) {
      lock.unlock();
      task(which.front());
      return;
    }
  }
  std::mutex done_mu;
  std::condition_variable done;
  size_t pending = which.size();
  for (uint32_t i : which) {
    Post(i, [&, i] {
      task(i);
      std::lock_guard lock(done_mu);
      if (--pending == 0) done.notify_one();
    });
  }
  std::unique_lock lock(done_mu);
  done.wait(lock, [&] { return pending == 0; });
}

void WorkerGroup::Work(uint32_t index) {
  Lane& lane = *lanes_[index];
  std::unique_lock lock(mu_);
  while (true) {
    lane.wake.wait(lock, [&] { return stop_ || !lane.tasks.empty(); });
    if (lane.tasks.empty()) return;  // stopping, and nothing left to run
    std::function<void()> task = std::move(lane.tasks.front());
    lane.tasks.pop_front();
    lane.busy = true;
    lock.unlock();
    task();
    task = nullptr;  // what it captured goes before the next task starts
    lock.lock();
    lane.busy = false;
  }
}

}  // namespace sluice
