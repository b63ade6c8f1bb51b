#include "cluster/session_state.h"

namespace sluice::cluster {

std::string_view SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kConnecting:
      return "connecting";
    case SessionState::kConnected:
      return "connected";
    case SessionState::kSuspended:
      return "suspended";
    case SessionState::kExpired:
      return "expired";
    case SessionState::kClosed:
      return "closed";
  }
  return "unknown";
}

std::optional<SessionStateMachine::Clock::time_point> SessionStateMachine::expiry_deadline() const {
  if (state_ != SessionState::kSuspended || !expire_when_cut_off_) return std::nullopt;
  return suspended_since_ + timeout_;
}

SessionState SessionStateMachine::OnNewHandle() {
  if (state_ == SessionState::kClosed) return state_;
  state_ = SessionState::kConnecting;
  session_id_ = 0;
  return state_;
}

SessionState SessionStateMachine::OnConnected(Clock::time_point now, int64_t session_id,
                                              std::chrono::milliseconds negotiated_timeout) {
  (void)now;
  if (state_ == SessionState::kClosed || state_ == SessionState::kExpired) return state_;
  if (state_ == SessionState::kSuspended && session_id != session_id_) {
    // Not expected from one handle (it keeps its session or reports expiry),
    // but if it happens the old session is certainly gone.
    state_ = SessionState::kExpired;
    return state_;
  }
  state_ = SessionState::kConnected;
  session_id_ = session_id;
  timeout_ = negotiated_timeout;
  return state_;
}

SessionState SessionStateMachine::OnConnectionLost(Clock::time_point now) {
  if (state_ != SessionState::kConnected) return state_;
  state_ = SessionState::kSuspended;
  suspended_since_ = now;
  return state_;
}

SessionState SessionStateMachine::OnExpired() {
  if (state_ == SessionState::kClosed) return state_;
  state_ = SessionState::kExpired;
  return state_;
}

SessionState SessionStateMachine::OnTick(Clock::time_point now) {
  if (expire_when_cut_off_ && state_ == SessionState::kSuspended && now >= suspended_since_ + timeout_) {
    state_ = SessionState::kExpired;
  }
  return state_;
}

SessionState SessionStateMachine::OnClosed() {
  state_ = SessionState::kClosed;
  return state_;
}

}  // namespace sluice::cluster
