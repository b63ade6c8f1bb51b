#include "harness/tcp_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

namespace sluice::testing {

// Blocking sockets and a single poll() loop: the traffic of a test client is
// small, so a write that blocks for a moment costs nothing.
class TcpForwarder::Relay {
 public:
  ~Relay() {
    stop_ = true;
    Wake();
    if (thread_.joinable()) thread_.join();
    for (auto& c : connections_) CloseConnection(c);
    for (int fd : listeners_) ::close(fd);
    if (wake_[0] >= 0) ::close(wake_[0]);
    if (wake_[1] >= 0) ::close(wake_[1]);
  }

  Status Listen(const std::vector<uint16_t>& upstream_ports) {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      return Status::Error(StatusCode::kIoError, "forwarder: pipe: {}", std::strerror(errno));
    }
    for (uint16_t upstream : upstream_ports) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof a;
      if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
          ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        Status st = Status::Error(StatusCode::kIoError, "forwarder: listen: {}", std::strerror(errno));
        if (fd >= 0) ::close(fd);
        return st;
      }
      listeners_.push_back(fd);
      upstreams_.push_back(upstream);
      ports_.push_back(ntohs(a.sin_port));
    }
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  const std::vector<uint16_t>& ports() const { return ports_; }

  void SetFrozen(bool frozen) {
    frozen_ = frozen;
    Wake();
  }
  void Drop() {
    drop_ = true;
    Wake();
  }
  void Retarget(size_t index, uint16_t upstream) {
    std::lock_guard lock(upstreams_mu_);
    upstreams_.at(index) = upstream;
  }

 private:
  struct Connection {
    int client = -1;
    int upstream = -1;
  };

  void Wake() {
    char b = 1;
    ssize_t ignored = ::write(wake_[1], &b, 1);
    (void)ignored;
  }

  static void CloseConnection(Connection& c) {
    if (c.client >= 0) ::close(c.client);
    if (c.upstream >= 0) ::close(c.upstream);
    c.client = c.upstream = -1;
  }

  static int ConnectUpstream(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }

  // Moves what `from` has to `to`; false when either side is finished.
  static bool Pump(int from, int to) {
    char buf[64 * 1024];
    ssize_t n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }

  void Loop() {
    while (!stop_) {
      if (drop_.exchange(false)) {
        for (auto& c : connections_) CloseConnection(c);
        connections_.clear();
      }
      std::vector<pollfd> fds;
      fds.push_back({wake_[0], POLLIN, 0});
      const bool frozen = frozen_;
      if (!frozen) {
        for (int fd : listeners_) fds.push_back({fd, POLLIN, 0});
        for (auto& c : connections_) {
          fds.push_back({c.client, POLLIN, 0});
          fds.push_back({c.upstream, POLLIN, 0});
        }
      }
      if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return;
      char drain[64];
      while (::read(wake_[0], drain, sizeof drain) > 0) {
      }
      if (frozen || frozen_ || stop_) continue;
      size_t at = 1;
      for (size_t i = 0; i < listeners_.size(); ++i, ++at) {
        if (!(fds[at].revents & POLLIN)) continue;
        int client = ::accept4(listeners_[i], nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        uint16_t to;
        {
          std::lock_guard lock(upstreams_mu_);
          to = upstreams_[i];
        }
        int upstream = ConnectUpstream(to);
        if (upstream < 0) {
          ::close(client);  // the server is down: refuse, as it would
          continue;
        }
        int one = 1;
        ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pending_.push_back({client, upstream});
      }
      for (auto it = connections_.begin(); it != connections_.end(); at += 2) {
        bool alive = true;
        if (fds[at].revents & (POLLIN | POLLHUP | POLLERR)) alive = Pump(it->client, it->upstream);
        if (alive && (fds[at + 1].revents & (POLLIN | POLLHUP | POLLERR))) alive = Pump(it->upstream, it->client);
        if (alive) {
          ++it;
        } else {
          CloseConnection(*it);
          it = connections_.erase(it);
        }
      }
      connections_.splice(connections_.end(), pending_);
    }
  }

  std::vector<int> listeners_;
  std::mutex upstreams_mu_;
  std::vector<uint16_t> upstreams_;  // guarded by upstreams_mu_
  std::vector<uint16_t> ports_;
  std::list<Connection> connections_;  // relay thread only
  std::list<Connection> pending_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<bool> frozen_{false};
  std::atomic<bool> drop_{false};
  std::thread thread_;
};

Result<std::unique_ptr<TcpForwarder>> TcpForwarder::Start(const std::vector<uint16_t>& upstream_ports) {
  auto relay = std::make_unique<Relay>();
  RETURN_IF_ERROR(relay->Listen(upstream_ports));
  return std::unique_ptr<TcpForwarder>(new TcpForwarder(std::move(relay)));
}

TcpForwarder::TcpForwarder(std::unique_ptr<Relay> relay) : relay_(std::move(relay)) {}
TcpForwarder::~TcpForwarder() = default;

const std::vector<uint16_t>& TcpForwarder::ports() const { return relay_->ports(); }

std::string TcpForwarder::ConnectString() const {
  std::vector<std::string> hosts;
  for (uint16_t port : ports()) hosts.push_back(fmt::format("127.0.0.1:{}", port));
  return fmt::format("{}", fmt::join(hosts, ","));
}

void TcpForwarder::Freeze() { relay_->SetFrozen(true); }
void TcpForwarder::Retarget(size_t index, uint16_t upstream) { relay_->Retarget(index, upstream); }
void TcpForwarder::Thaw() { relay_->SetFrozen(false); }
void TcpForwarder::Drop() { relay_->Drop(); }

}  // namespace sluice::testing
