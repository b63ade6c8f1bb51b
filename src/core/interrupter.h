#pragma once
// Interrupter: lets one thread cut the connections other threads are
// blocked on, whatever the database: a Stop or a Ctrl-C of a job whose
// server hangs (SIGSTOP, a dead host) then takes effect at once instead of
// after the read timeout. Connections (MySQL's, PostgreSQL's) register
// themselves and leave before they close their socket; Interrupt() shuts
// their sockets down, so a blocked read or write returns a lost-connection
// error, and every connection registered later is shut down at once.
// Thread-safe. Must outlive its connections.

#include <functional>
#include <mutex>
#include <set>

namespace sluice {

// A connection an Interrupter can cut.
class Interruptible {
 public:
  // Ends the socket's traffic (shutdown), keeping the descriptor open until
  // the owner closes it. Called with the interrupter's lock held.
  virtual void ShutdownSocket() = 0;

 protected:
  ~Interruptible() = default;
};

class Interrupter {
 public:
  void Interrupt();
  bool interrupted() const;
  // Lets connections work again (a pipeline started again after a stop).
  // Call only when no connection is registered.
  void Reset();
  // Registers `c` until Remove; shut down at once when already interrupted.
  void Add(Interruptible* c);
  void Remove(Interruptible* c);
  // Runs `fn(interrupted())` under the lock: a connection swapping in a new
  // socket does it there, so that no Interrupt falls in between.
  void Locked(const std::function<void(bool interrupted)>& fn);

 private:
  mutable std::mutex mu_;
  bool interrupted_ = false;
  std::set<Interruptible*> connections_;
};

}  // namespace sluice
