#pragma once
// A TCP forwarder on loopback for network-fault tests: one listening port per
// upstream port, every accepted connection relayed byte for byte to
// 127.0.0.1:<upstream>. Freeze() stops all traffic in both directions without
// closing anything (new connections complete in the kernel's backlog but stay
// silent): to the client the ensemble looks cut off by a partition, not down.
// Thaw() resumes; what was held back is delivered late, as TCP would after a
// partition heals. Drop() closes every relayed connection (a reset).
//
// Threads: one relay thread per forwarder; the methods may be called from any
// thread. The destructor stops the thread and closes every socket.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::testing {

class TcpForwarder {
 public:
  [[nodiscard]] static Result<std::unique_ptr<TcpForwarder>> Start(const std::vector<uint16_t>& upstream_ports);
  TcpForwarder(const TcpForwarder&) = delete;
  TcpForwarder& operator=(const TcpForwarder&) = delete;
  ~TcpForwarder();

  // The listening ports, in the order of the upstream ports.
  const std::vector<uint16_t>& ports() const;
  // "127.0.0.1:P1,127.0.0.1:P2,..." over the listening ports.
  std::string ConnectString() const;

  void Freeze();
  void Thaw();
  void Drop();
  // New connections to listening port `index` go to `upstream` from now on
  // (a virtual IP moved to another server); relayed ones stay as they are.
  void Retarget(size_t index, uint16_t upstream);

 private:
  class Relay;
  explicit TcpForwarder(std::unique_ptr<Relay> relay);
  std::unique_ptr<Relay> relay_;
};

}  // namespace sluice::testing
