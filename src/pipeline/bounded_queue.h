#pragma once
// BoundedQueue: a multi-producer, multi-consumer FIFO bounded by the bytes its
// items hold, so that a slow consumer slows its producer (backpressure)
// instead of growing memory. An item larger than the whole bound is still
// accepted when the queue is empty, so one huge change cannot deadlock it.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace sluice::pipeline {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Blocks while the queue is full. Returns false if the queue was closed.
  bool Push(T item, size_t bytes) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.empty() || bytes_ + bytes <= max_bytes_; });
    if (closed_) return false;
    bytes_ += bytes;
    items_.push_back(Entry{std::move(item), bytes});
    not_empty_.notify_one();
    return true;
  }

  enum class PushResult { kPushed, kTimedOut, kClosed };
  // Push that waits at most `timeout` for room (a producer that must look
  // up now and then while a consumer holds it). On kTimedOut `item` is kept.
  PushResult PushFor(T& item, size_t bytes, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!not_full_.wait_for(lock, timeout,
                            [&] { return closed_ || items_.empty() || bytes_ + bytes <= max_bytes_; })) {
      return PushResult::kTimedOut;
    }
    if (closed_) return PushResult::kClosed;
    bytes_ += bytes;
    items_.push_back(Entry{std::move(item), bytes});
    not_empty_.notify_one();
    return PushResult::kPushed;
  }

  // Push of several items under one lock and one wake-up (a producer that
  // hands over items in groups); `items` holds each item with its bytes and
  // is left empty. Blocks while the group does not fit.
  bool PushAll(std::vector<std::pair<T, size_t>>& items) {
    size_t total = 0;
    for (const auto& [item, bytes] : items) total += bytes;
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.empty() || bytes_ + total <= max_bytes_; });
    if (closed_) return false;
    bytes_ += total;
    for (auto& [item, bytes] : items) items_.push_back(Entry{std::move(item), bytes});
    items.clear();
    not_empty_.notify_one();
    return true;
  }

  // Waits up to `timeout` for items and appends up to `max` of them to
  // `out` under one lock; the number taken (0 on timeout or when closed
  // and drained).
  size_t PopAll(std::vector<T>& out, size_t max, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); })) return 0;
    size_t n = std::min(max, items_.size());
    for (size_t i = 0; i < n; ++i) {
      bytes_ -= items_.front().bytes;
      out.push_back(std::move(items_.front().item));
      items_.pop_front();
    }
    if (n > 0 && Roomy()) not_full_.notify_all();
    return n;
  }

  // Waits up to `timeout` for an item; nullopt on timeout or when closed and drained.
  std::optional<T> Pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); })) return std::nullopt;
    if (items_.empty()) return std::nullopt;
    Entry e = std::move(items_.front());
    items_.pop_front();
    bytes_ -= e.bytes;
    if (Roomy()) not_full_.notify_all();
    return std::move(e.item);
  }

  // Wakes every waiter; Push fails from now on, Pop drains what is left.
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t max_bytes() const { return max_bytes_; }

 private:
  // Whether a producer waiting for room is woken: once the queue is down to
  // half its bound (or empty), not at every item taken. A full queue's
  // producer then hands over half a queue per wake-up instead of a few
  // items, and the consumer (the stage that is the bottleneck when the
  // queue is full) is not preempted by it after every group it takes.
  bool Roomy() const { return items_.empty() || bytes_ <= max_bytes_ / 2; }

  struct Entry {
    T item;
    size_t bytes;
  };
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Entry> items_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace sluice::pipeline
