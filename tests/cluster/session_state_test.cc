#include "cluster/session_state.h"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

using std::chrono::milliseconds;
using Clock = SessionStateMachine::Clock;

const Clock::time_point t0 = Clock::time_point() + std::chrono::hours(1);

TEST(SessionStateMachineTest, ConnectsWithTheNegotiatedTimeout) {
  SessionStateMachine sm;
  EXPECT_EQ(sm.state(), SessionState::kConnecting);
  EXPECT_EQ(sm.OnConnected(t0, 0x42, milliseconds(4000)), SessionState::kConnected);
  EXPECT_EQ(sm.session_id(), 0x42);
  EXPECT_EQ(sm.session_timeout(), milliseconds(4000));
  EXPECT_FALSE(sm.expiry_deadline());
}

TEST(SessionStateMachineTest, SuspendedThenReconnectedKeepsTheSession) {
  SessionStateMachine sm(/*expire_when_cut_off=*/true);
  (void)sm.OnConnected(t0, 7, milliseconds(4000));
  EXPECT_EQ(sm.OnConnectionLost(t0 + milliseconds(100)), SessionState::kSuspended);
  EXPECT_EQ(sm.expiry_deadline(), t0 + milliseconds(4100));
  EXPECT_EQ(sm.OnTick(t0 + milliseconds(4099)), SessionState::kSuspended);
  EXPECT_EQ(sm.OnConnected(t0 + milliseconds(2000), 7, milliseconds(4000)), SessionState::kConnected);
  EXPECT_EQ(sm.session_id(), 7);
  EXPECT_FALSE(sm.expiry_deadline());
}

TEST(SessionStateMachineTest, ByDefaultSuspendedUntilTheEnsembleAnswers) {
  SessionStateMachine sm;
  (void)sm.OnConnected(t0, 7, milliseconds(4000));
  (void)sm.OnConnectionLost(t0);
  EXPECT_FALSE(sm.expiry_deadline());
  EXPECT_EQ(sm.OnTick(t0 + std::chrono::hours(1)), SessionState::kSuspended);
  EXPECT_EQ(sm.OnConnected(t0 + std::chrono::hours(1), 7, milliseconds(4000)), SessionState::kConnected);
}

TEST(SessionStateMachineTest, SuspendedForAWholeTimeoutIsExpiredWithoutHearingSo) {
  SessionStateMachine sm(/*expire_when_cut_off=*/true);
  (void)sm.OnConnected(t0, 7, milliseconds(4000));
  (void)sm.OnConnectionLost(t0);
  // Repeated connection-lost events (every watcher hears them) do not move the deadline.
  (void)sm.OnConnectionLost(t0 + milliseconds(3000));
  EXPECT_EQ(sm.OnTick(t0 + milliseconds(4000)), SessionState::kExpired);
  // A late "connected" of the given-up handle changes nothing.
  EXPECT_EQ(sm.OnConnected(t0 + milliseconds(5000), 7, milliseconds(4000)), SessionState::kExpired);
  EXPECT_EQ(sm.OnNewHandle(), SessionState::kConnecting);
  EXPECT_EQ(sm.session_id(), 0);
  EXPECT_EQ(sm.OnConnected(t0 + milliseconds(6000), 8, milliseconds(4000)), SessionState::kConnected);
}

TEST(SessionStateMachineTest, ServerReportedExpiry) {
  SessionStateMachine sm;
  (void)sm.OnConnected(t0, 7, milliseconds(4000));
  (void)sm.OnConnectionLost(t0);
  EXPECT_EQ(sm.OnExpired(), SessionState::kExpired);
  EXPECT_FALSE(sm.expiry_deadline());
}

TEST(SessionStateMachineTest, AnotherSessionIdAfterSuspensionMeansTheOldOneIsGone) {
  SessionStateMachine sm;
  (void)sm.OnConnected(t0, 7, milliseconds(4000));
  (void)sm.OnConnectionLost(t0);
  EXPECT_EQ(sm.OnConnected(t0 + milliseconds(10), 9, milliseconds(4000)), SessionState::kExpired);
}

TEST(SessionStateMachineTest, ConnectionLostBeforeAnySessionStaysConnecting) {
  SessionStateMachine sm;
  EXPECT_EQ(sm.OnConnectionLost(t0), SessionState::kConnecting);
  EXPECT_EQ(sm.OnTick(t0 + std::chrono::hours(1)), SessionState::kConnecting);
}

TEST(SessionStateMachineTest, ClosedIsFinal) {
  SessionStateMachine sm;
  (void)sm.OnConnected(t0, 7, milliseconds(4000));
  EXPECT_EQ(sm.OnClosed(), SessionState::kClosed);
  EXPECT_EQ(sm.OnNewHandle(), SessionState::kClosed);
  EXPECT_EQ(sm.OnExpired(), SessionState::kClosed);
  EXPECT_EQ(sm.OnConnected(t0, 7, milliseconds(4000)), SessionState::kClosed);
  EXPECT_EQ(SessionStateName(SessionState::kSuspended), "suspended");
}

}  // namespace
}  // namespace sluice::cluster
