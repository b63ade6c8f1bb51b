#include "core/turn_order.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice {
namespace {

// Threads started in reverse order still take their turns 0, 1, 2, 3.
TEST(TurnOrderTest, TurnsAreTakenInOrderWhateverOrderThreadsArrive) {
  TurnOrder turns;
  std::mutex mu;
  std::vector<size_t> taken;
  std::vector<std::thread> threads;
  for (size_t i = 4; i-- > 0;) {
    threads.emplace_back([&, i] {
      ASSERT_TRUE(turns.Wait(i));
      {
        std::lock_guard lock(mu);
        taken.push_back(i);
      }
      turns.Done(i, true);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken, (std::vector<size_t>{0, 1, 2, 3}));
}

// After a failed turn no later turn is taken; earlier ones were.
TEST(TurnOrderTest, AFailedTurnStopsEveryLaterOne) {
  TurnOrder turns;
  std::atomic<int> later_taken{0};
  std::vector<std::thread> threads;
  for (size_t i = 2; i < 5; ++i) {
    threads.emplace_back([&, i] {
      if (turns.Wait(i)) ++later_taken;
    });
  }
  ASSERT_TRUE(turns.Wait(0));
  turns.Done(0, true);
  ASSERT_TRUE(turns.Wait(1));
  turns.Done(1, false);
  for (auto& t : threads) t.join();
  EXPECT_EQ(later_taken, 0);
  EXPECT_FALSE(turns.Wait(7));
}

}  // namespace
}  // namespace sluice
