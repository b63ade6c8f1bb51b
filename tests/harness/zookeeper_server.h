#pragma once
// A private ZooKeeper ensemble for integration tests: 1 or 3 servers
// (Debian's `zookeeper`, `zkServer.sh start-foreground` with a private
// zoo.cfg each: tickTime=200, sessions of 400 ms to 20 s, no admin server,
// the srvr/ruok/mntr/stat/cons four-letter words, a 128 MB heap) on free
// loopback ports in a temporary directory. Start() returns once every server
// answers `srvr` as leader, follower or standalone. Servers die with the test
// process (harness/process.h); the destructor stops them and removes the
// directory (kept with SLUICE_KEEP_TEST_DIRS=1).
//
// Threads: everything belongs to the thread that owns the object.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::testing {

struct ZookeeperOptions {
  int servers = 3;  // 1 (standalone) or an odd number
};

class ZookeeperEnsemble {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ZookeeperEnsemble>> Start(ZookeeperOptions opts = {});
  ZookeeperEnsemble(const ZookeeperEnsemble&) = delete;
  ZookeeperEnsemble& operator=(const ZookeeperEnsemble&) = delete;
  ~ZookeeperEnsemble();

  int size() const { return static_cast<int>(servers_.size()); }
  const std::string& dir() const { return dir_; }
  uint16_t client_port(int i) const { return servers_[i].client_port; }
  std::vector<uint16_t> client_ports() const;
  // "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3".
  std::string ConnectString() const;
  bool running(int i) const { return servers_[i].pid > 0; }

  // A four-letter word ("srvr", "mntr", ...) sent to server i; its answer.
  [[nodiscard]] Result<std::string> FourLetterWord(int i, const std::string& word) const;
  // "leader", "follower", "standalone", or an error while it serves no clients.
  [[nodiscard]] Result<std::string> Mode(int i) const;
  // The index of the current leader (waits up to `timeout` for one).
  [[nodiscard]] Result<int> Leader(std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // Waits until every running server serves clients again.
  [[nodiscard]] Status WaitServing(std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  // SIGKILLs server i; it stays down until StartServer(i).
  [[nodiscard]] Status Kill(int i);
  // Starts server i again (same ports and data) and waits until the
  // ensemble serves clients.
  [[nodiscard]] Status StartServer(int i);

 private:
  struct Server {
    std::string dir;
    std::string config;
    std::string log;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    uint16_t election_port = 0;
    pid_t pid = -1;
  };

  explicit ZookeeperEnsemble(std::string dir) : dir_(std::move(dir)) {}
  Status WriteConfigs();
  Status Launch(int i);
  void StopAll();

  std::string dir_;
  std::vector<Server> servers_;
};

}  // namespace sluice::testing
