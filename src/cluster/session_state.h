#pragma once
// The state of one process's ZooKeeper session, as the coordinator sees it.
//
//   kConnecting --connected--> kConnected --connection lost--> kSuspended
//        ^                         ^                               |
//        |                         +-------reconnected-------------+
//        |                                                         | a whole session timeout
//   new handle <-- kExpired <--- the server says expired ----------+ without reconnecting
//
// kSuspended is the dangerous state: the session may still be alive on the
// ensemble (then our ephemeral nodes and ownerships stand) or already expired
// (then another node may own our pipelines). An owner must treat its
// ownership as "in doubt" there. By default the machine stays suspended until
// the ensemble answers again: a client cut off from the ensemble hears of its
// expiry only when it reconnects, and while the ensemble has lost its quorum
// nobody can take over, so the ownership must not end (a lost quorum moves
// nothing). Fencing in the targets makes waiting safe.
//
// With `expire_when_cut_off` the machine declares the session expired itself
// once suspended for a whole negotiated session timeout. The ensemble counts
// the timeout from the last packet it received from us, which precedes the
// moment we noticed the silence, so by then it has expired the session too,
// unless it has no quorum.
//
// Pure and single-threaded: the coordinator thread feeds it ZooKeeper's
// session events and the clock; unit tests feed it by hand.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::cluster {

enum class SessionState : uint8_t {
  kConnecting = 1,  // no session yet (start, or a new handle after expiry)
  kConnected = 2,
  kSuspended = 3,  // had a session, lost the connection; the session may be alive
  kExpired = 4,    // the session is gone; the coordinator opens a new one
  kClosed = 5,     // the coordinator stopped
};

std::string_view SessionStateName(SessionState state);

class SessionStateMachine {
 public:
  using Clock = std::chrono::steady_clock;

  explicit SessionStateMachine(bool expire_when_cut_off = false) : expire_when_cut_off_(expire_when_cut_off) {}

  SessionState state() const { return state_; }
  int64_t session_id() const { return session_id_; }
  std::chrono::milliseconds session_timeout() const { return timeout_; }
  // When OnTick would declare a suspended session expired; nullopt otherwise.
  std::optional<Clock::time_point> expiry_deadline() const;

  // Each returns the state after the input; inputs that do not apply in the
  // current state (a late event from a handle already given up) change nothing.
  SessionState OnNewHandle();
  // ZooKeeper's ZOO_CONNECTED_STATE with the negotiated timeout. A session id
  // other than the suspended one means the old session is gone: kExpired.
  SessionState OnConnected(Clock::time_point now, int64_t session_id, std::chrono::milliseconds negotiated_timeout);
  // ZooKeeper's ZOO_CONNECTING_STATE: the connection dropped, the client retries.
  SessionState OnConnectionLost(Clock::time_point now);
  // ZooKeeper's ZOO_EXPIRED_SESSION_STATE (or an auth failure): the handle is dead.
  SessionState OnExpired();
  SessionState OnTick(Clock::time_point now);
  SessionState OnClosed();

 private:
  bool expire_when_cut_off_;
  SessionState state_ = SessionState::kConnecting;
  int64_t session_id_ = 0;
  std::chrono::milliseconds timeout_{0};
  Clock::time_point suspended_since_{};
};

}  // namespace sluice::cluster
