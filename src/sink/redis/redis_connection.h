#pragma once
// RedisConnection: one blocking hiredis connection to a Redis server, with
// pipelining (queue commands with Append, read their replies in order with
// Read). Used by the Redis sink and by tests that read what it wrote.
//
// Every wait is bounded (connect and command timeouts), so a hung or dead
// server is a retryable error naming it rather than a pipeline that hangs.
// With an Interrupter (a pipeline's stop, a job's cancel) the wait ends at
// once: the connection registers with it for its whole life, and connecting
// looks at it every 100 ms. After an I/O error the connection is broken():
// replies of queued commands are lost, and the owner reconnects (with a new
// connection: one never swaps its socket). One thread at a time, except
// ShutdownSocket (the interrupter's).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/interrupter.h"
#include "core/status.h"
#include "core/url.h"

struct redisContext;  // hiredis, kept out of this header

namespace sluice::sink::redis {

// Where a redis:// URL points: redis://[user][:password@]host:port[/db].
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string user;      // Redis 6 ACL user; empty: AUTH with the password alone
  std::string password;  // empty: no AUTH
  bool has_password = false;
  uint32_t db = 0;       // SELECT db when not 0

  static Result<RedisEndpoint> FromUrl(const Url& url);
  std::string Describe() const;  // "redis 127.0.0.1:6379/0" (never the password)
};

// One reply, copied out of hiredis.
struct RedisReply {
  enum class Type : uint8_t { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
};

// `name` fit for CLIENT SETNAME, which takes no spaces: each replaced by '_'.
std::string ClientName(std::string name);

// One line of CLIENT LIST.
struct RedisClient {
  std::string id, addr, name;
  uint64_t idle_seconds = 0;
};

// Whether a reply error is the server being temporarily unable (loading its
// data, out of memory, a read-only replica, a failing save, busy with a
// script): worth retrying the same commands later.
bool IsRetryableReplyError(std::string_view message);

class RedisConnection : public Interruptible {
 public:
  // `interrupt` (may be null; outlives the connection): registered with
  // until destroyed, so that Interrupt() makes a blocked call fail at once;
  // a connect in progress then fails saying "interrupted".
  static Result<std::unique_ptr<RedisConnection>> Connect(const RedisEndpoint& endpoint,
                                                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                                          Interrupter* interrupt = nullptr);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Queues a command; it is sent with the next Read.
  void Append(const std::vector<std::string>& argv);
  // The reply to the oldest queued command. An I/O error (connection lost,
  // timeout) is retryable and breaks the connection; a reply error is a
  // reply (is_error()), not a failed Status.
  Result<RedisReply> Read();
  // Append + Read.
  Result<RedisReply> Command(const std::vector<std::string>& argv);
  // Command, with a reply error turned into a failed Status (retryable when
  // IsRetryableReplyError).
  Result<RedisReply> Checked(const std::vector<std::string>& argv);

  // The server's clients (CLIENT LIST); nullopt when this user may not list
  // them (NOPERM, or the command renamed away).
  Result<std::optional<std::vector<RedisClient>>> Clients();

  bool broken() const { return broken_; }
  size_t pending() const { return pending_; }
  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  RedisConnection(RedisEndpoint endpoint, redisContext* c) : endpoint_(std::move(endpoint)), c_(c) {}
  Status IoError(std::string_view what);
  void ShutdownSocket() override;  // with the interrupter's lock held

  RedisEndpoint endpoint_;
  redisContext* c_;  // its socket is the same from Connect to the destructor
  Interrupter* interrupter_ = nullptr;
  bool broken_ = false;
  size_t pending_ = 0;  // commands appended, replies not yet read
};

}  // namespace sluice::sink::redis
