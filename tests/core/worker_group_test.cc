#include "core/worker_group.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace sluice {
namespace {

TEST(WorkerGroupTest, RunsEachTaskOnItsOwnWorkerAndWaitsForAll) {
  WorkerGroup group(4, "test");
  for (int round = 0; round < 200; ++round) {
    std::vector<int> ran(4, 0);
    std::vector<std::thread::id> ids(4);
    group.RunEach({0, 2, 3}, [&](uint32_t i) {
      ++ran[i];
      ids[i] = std::this_thread::get_id();
    });
    EXPECT_EQ(ran, (std::vector<int>{1, 0, 1, 1})) << "round " << round;
    // Three tasks ran on three different threads, none the caller's.
    std::set<std::thread::id> distinct{ids[0], ids[2], ids[3]};
    EXPECT_EQ(distinct.size(), 3u);
    EXPECT_EQ(distinct.count(std::this_thread::get_id()), 0u);
  }
}

TEST(WorkerGroupTest, TasksOfARoundRunTogether) {
  // Every task waits for all the others: this only returns if they run at once.
  WorkerGroup group(3, "test");
  std::atomic<int> arrived{0};
  group.RunEach({0, 1, 2}, [&](uint32_t) {
    ++arrived;
    while (arrived.load() < 3) std::this_thread::yield();
  });
  EXPECT_EQ(arrived.load(), 3);
}

TEST(WorkerGroupTest, OneTaskRunsOnTheCaller) {
  WorkerGroup group(2, "test");
  std::thread::id id;
  group.RunEach({1}, [&](uint32_t) { id = std::this_thread::get_id(); });
  EXPECT_EQ(id, std::this_thread::get_id());
  group.RunEach({}, [&](uint32_t) { FAIL() << "no task was asked for"; });
}

TEST(WorkerGroupTest, PostedTasksRunInOrderOnTheirWorker) {
  std::vector<std::vector<int>> seen(2);
  std::vector<std::thread::id> ids(2);
  {
    WorkerGroup group(2, "test");
    for (int i = 0; i < 100; ++i) {
      for (uint32_t w = 0; w < 2; ++w) {
        group.Post(w, [&, w, i] {
          seen[w].push_back(i);
          if (i == 0) ids[w] = std::this_thread::get_id();
          EXPECT_EQ(ids[w], std::this_thread::get_id());
        });
      }
    }
    // RunEach's task on worker 1 runs after the hundred posted before it.
    group.RunEach({1}, [&](uint32_t w) { EXPECT_EQ(seen[w].size(), 100u); });
    group.Post(0, [&] { seen[0].push_back(100); });
  }  // the destructor runs what is still queued
  std::vector<int> want(100);
  for (int i = 0; i < 100; ++i) want[i] = i;
  EXPECT_EQ(seen[1], want);
  want.push_back(100);
  EXPECT_EQ(seen[0], want);
  EXPECT_NE(ids[0], ids[1]);
}

TEST(WorkerGroupTest, APostedTaskDoesNotHoldUpTheOwner) {
  WorkerGroup group(1, "test");
  std::mutex mu;
  std::unique_lock held(mu);
  std::atomic<bool> ran{false};
  group.Post(0, [&] {
    std::lock_guard wait_for_owner(mu);
    ran = true;
  });
  EXPECT_FALSE(ran.load());  // Post returned while its task waits
  held.unlock();
  group.RunEach({0}, [&](uint32_t) { EXPECT_TRUE(ran.load()); });
}

}  // namespace
}  // namespace sluice
