#include "core/interrupter.h"

namespace sluice {

void Interrupter::Interrupt() {
  std::lock_guard lock(mu_);
  interrupted_ = true;
  for (Interruptible* c : connections_) c->ShutdownSocket();
}

bool Interrupter::interrupted() const {
  std::lock_guard lock(mu_);
  return interrupted_;
}

void Interrupter::Reset() {
  std::lock_guard lock(mu_);
  interrupted_ = false;
}

void Interrupter::Add(Interruptible* c) {
  std::lock_guard lock(mu_);
  connections_.insert(c);
  if (interrupted_) c->ShutdownSocket();
}

void Interrupter::Remove(Interruptible* c) {
  std::lock_guard lock(mu_);
  connections_.erase(c);
}

void Interrupter::Locked(const std::function<void(bool interrupted)>& fn) {
  std::lock_guard lock(mu_);
  fn(interrupted_);
}

}  // namespace sluice
