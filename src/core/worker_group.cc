#include "core/worker_group.h"

#include <pthread.h>

namespace sluice {

WorkerGroup::WorkerGroup(size_t size, std::string name) : round_of_(size, 0) {
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
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void WorkerGroup::RunEach(const std::vector<uint32_t>& which, const std::function<void(uint32_t)>& task) {
  if (which.empty()) return;
  if (which.size() == 1) {
    // One task: the caller runs it, with no hand-over at all.
    task(which.front());
    return;
  }
  std::unique_lock lock(mu_);
  ++round_;
  task_ = &task;
  pending_ = which.size();
  for (uint32_t i : which) round_of_[i] = round_;
  wake_.notify_all();
  done_.wait(lock, [&] { return pending_ == 0; });
  task_ = nullptr;
}

void WorkerGroup::Work(uint32_t index) {
  uint64_t ran = 0;
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || round_of_[index] > ran; });
    if (stop_) return;
    ran = round_of_[index];
    const std::function<void(uint32_t)>* task = task_;
    lock.unlock();
    (*task)(index);
    lock.lock();
    if (--pending_ == 0) done_.notify_one();
  }
}

}  // namespace sluice
