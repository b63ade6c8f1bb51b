#pragma once
// A private Redis server for integration tests: `redis-server --port N
// --bind 127.0.0.1 --save ''` in a temporary directory, on a free loopback
// port. Start() returns once it answers PING; the destructor stops it and
// removes the directory (kept with SLUICE_KEEP_TEST_DIRS=1). The process
// dies with the test process (harness/process.h).
//
// Without persistence a restart empties the server; tests that restart or
// crash it while sluice writes turn on `appendonly` (fsync at every write),
// so that what Redis acknowledged survives, as on a production server.
//
// Threads: everything belongs to the thread that owns the object, except
// Connect(), which opens an independent connection for any thread.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "sink/redis/redis_connection.h"

namespace sluice::testing {

struct RedisServerOptions {
  std::string password;  // --requirepass when not empty
  bool appendonly = false;  // --appendonly yes --appendfsync always
  std::vector<std::string> extra_args;
};

class RedisServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<RedisServer>> Start(RedisServerOptions opts = {});
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer();

  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }
  // "redis://[:password@]127.0.0.1:PORT/db".
  std::string Url(uint32_t db = 0) const;
  // A new client connection (authenticated, database `db` selected).
  [[nodiscard]] Result<std::unique_ptr<sink::redis::RedisConnection>> Connect(uint32_t db = 0) const;

  // SIGKILLs the server; it stays down until Restart().
  [[nodiscard]] Status Crash();
  // Stops the server (if running) and starts it again on the same port and directory.
  [[nodiscard]] Status Restart();
  // SIGSTOP / SIGCONT: a hung server (connections are accepted by the kernel,
  // nothing is answered). Stopping the server resumes it first.
  [[nodiscard]] Status Hang();
  [[nodiscard]] Status Resume();
  // Bytes clients sent that the server has not read yet (the receive queues
  // of its connections, /proc/net/tcp): while it hangs, > 0 once a client
  // sent a request and waits for the reply.
  size_t UnreadBytes() const;

 private:
  RedisServer(RedisServerOptions opts, std::string dir) : opts_(std::move(opts)), dir_(std::move(dir)) {}
  std::vector<std::string> CommandLine() const;
  Status Launch(bool* port_taken);
  Status Stop();

  RedisServerOptions opts_;
  std::string dir_;
  std::string log_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sluice::testing
