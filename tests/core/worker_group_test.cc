#include "core/worker_group.h"

#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
}  // namespace sluice
