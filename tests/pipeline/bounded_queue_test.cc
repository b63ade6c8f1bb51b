#include "pipeline/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

namespace sluice::pipeline {
namespace {

TEST(BoundedQueueTest, BlocksProducerAtTheByteBound) {
  BoundedQueue<int> q(100);
  ASSERT_TRUE(q.Push(1, 60));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    (void)q.Push(2, 60);  // 120 > 100: waits for the consumer
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed);
  EXPECT_EQ(q.bytes(), 60u);
  auto first = q.Pop(std::chrono::milliseconds(100));
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 1);
  producer.join();
  EXPECT_TRUE(pushed);
  EXPECT_EQ(*q.Pop(std::chrono::milliseconds(100)), 2);
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(BoundedQueueTest, OversizedItemPassesWhenEmpty) {
  BoundedQueue<int> q(10);
  ASSERT_TRUE(q.Push(7, 1000));
  EXPECT_EQ(*q.Pop(std::chrono::milliseconds(10)), 7);
}

TEST(BoundedQueueTest, CloseWakesEveryoneAndDrains) {
  BoundedQueue<int> q(10);
  ASSERT_TRUE(q.Push(1, 10));
  std::thread producer([&] { EXPECT_FALSE(q.Push(2, 10)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.Close();
  producer.join();
  EXPECT_EQ(*q.Pop(std::chrono::milliseconds(10)), 1);
  EXPECT_FALSE(q.Pop(std::chrono::milliseconds(10)));
}

// PushFor gives up when the queue stays full, keeping the item, and
// pushes once there is room; closed, it says so.
TEST(BoundedQueueTest, PushForKeepsTheItemWhenFullAndPushesOnceThereIsRoom) {
  using Result = BoundedQueue<std::unique_ptr<int>>::PushResult;
  BoundedQueue<std::unique_ptr<int>> q(100);
  auto first = std::make_unique<int>(1);
  ASSERT_EQ(q.PushFor(first, 60, std::chrono::milliseconds(0)), Result::kPushed);
  auto second = std::make_unique<int>(2);
  EXPECT_EQ(q.PushFor(second, 60, std::chrono::milliseconds(0)), Result::kTimedOut);
  EXPECT_EQ(q.PushFor(second, 60, std::chrono::milliseconds(20)), Result::kTimedOut);
  ASSERT_TRUE(second) << "kept for the next try";
  EXPECT_EQ(q.bytes(), 60u);
  ASSERT_TRUE(q.Pop(std::chrono::milliseconds(10)));
  EXPECT_EQ(q.PushFor(second, 60, std::chrono::milliseconds(0)), Result::kPushed);
  auto third = std::make_unique<int>(3);
  q.Close();
  EXPECT_EQ(q.PushFor(third, 10, std::chrono::milliseconds(0)), Result::kClosed);
  EXPECT_EQ(**q.Pop(std::chrono::milliseconds(10)), 2);
}

TEST(BoundedQueueTest, PopTimesOut) {
  BoundedQueue<int> q(10);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(q.Pop(std::chrono::milliseconds(30)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(25));
}

TEST(BoundedQueueTest, GroupsInOrderWithTheirBytes) {
  BoundedQueue<int> q(100);
  std::vector<std::pair<int, size_t>> group{{1, 10}, {2, 20}, {3, 30}};
  ASSERT_TRUE(q.PushAll(group));
  EXPECT_TRUE(group.empty());
  EXPECT_EQ(q.bytes(), 60u);
  ASSERT_TRUE(q.Push(4, 5));
  std::vector<int> out;
  EXPECT_EQ(q.PopAll(out, 2, std::chrono::milliseconds(10)), 2u);
  EXPECT_EQ(q.bytes(), 35u);
  EXPECT_EQ(q.PopAll(out, 10, std::chrono::milliseconds(10)), 2u);
  EXPECT_EQ(out, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(q.bytes(), 0u);
  q.Close();
  EXPECT_EQ(q.PopAll(out, 10, std::chrono::milliseconds(10)), 0u);
}

TEST(BoundedQueueTest, GroupWaitsForRoom) {
  BoundedQueue<int> q(50);
  ASSERT_TRUE(q.Push(0, 40));
  std::vector<std::pair<int, size_t>> group{{1, 20}, {2, 20}};
  std::thread producer([&] { EXPECT_TRUE(q.PushAll(group)); });
  std::vector<int> out;
  // The group fits only once the first item is gone (an empty queue takes any group).
  while (out.size() < 3) q.PopAll(out, 10, std::chrono::milliseconds(100));
  producer.join();
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2}));
}

}  // namespace
}  // namespace sluice::pipeline
