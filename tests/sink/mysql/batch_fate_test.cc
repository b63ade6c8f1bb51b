#include "sink/mysql/batch_fate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sluice::sink::mysql {
namespace {

TEST(BatchFateTest, PartsWithoutChangesCountAsVotedAndStagesOnlyRise) {
  BatchFate fate({1, 3}, 4);
  fate.WaitFor(0, BatchFate::kVoted);  // no part in the batch: returns at once
  fate.WaitFor(2, BatchFate::kVoted);
  fate.Reach(1, BatchFate::kVoted);
  fate.Reach(1, BatchFate::kBegun);  // does not lower it
  fate.WaitFor(1, BatchFate::kVoted);
  EXPECT_TRUE(fate.all_committed.load());
  EXPECT_FALSE(fate.done.try_wait());
  fate.done.count_down();
  fate.done.count_down();
  EXPECT_TRUE(fate.done.try_wait());
}

TEST(BatchFateTest, AWaiterGoesOnOnceThePartReachesItsStage) {
  BatchFate fate({0}, 1);
  std::atomic<int> seen{0};
  std::thread next([&] {
    fate.WaitFor(0, BatchFate::kBegun);
    seen = 1;
    fate.WaitFor(0, BatchFate::kVoted);
    seen = 2;
  });
  fate.Reach(0, BatchFate::kBegun);
  while (seen.load() < 1) std::this_thread::yield();
  EXPECT_EQ(seen.load(), 1);  // still waiting for the vote
  fate.Reach(0, BatchFate::kVoted);
  next.join();
  EXPECT_EQ(seen.load(), 2);
}

}  // namespace
}  // namespace sluice::sink::mysql
