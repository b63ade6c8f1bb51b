#include "harness/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness/process.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr seconds kStartTimeout{30};
constexpr int kMaxPortAttempts = 8;

Result<uint16_t> PickPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::Error(StatusCode::kIoError, "socket: {}", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    Status st = Status::Error(StatusCode::kIoError, "bind: {}", std::strerror(errno));
    ::close(fd);
    return st;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool KeepDirs() {
  const char* keep = std::getenv("SLUICE_KEEP_TEST_DIRS");
  return keep != nullptr && *keep != '\0' && std::string_view(keep) != "0";
}

}  // namespace

Result<std::unique_ptr<RedisServer>> RedisServer::Start(RedisServerOptions opts) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/sluice-redis-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Status::Error(StatusCode::kIoError, "mkdtemp {}: {}", pattern, std::strerror(errno));
  }
  std::unique_ptr<RedisServer> server(new RedisServer(std::move(opts), pattern));
  server->log_ = server->dir_ + "/redis.out";
  Status last;
  for (int attempt = 0; attempt < kMaxPortAttempts; ++attempt) {
    ASSIGN_OR_RETURN(server->port_, PickPort());
    bool port_taken = false;
    last = server->Launch(&port_taken);
    if (last.ok()) return server;
    if (!port_taken) break;
  }
  return last;
}

RedisServer::~RedisServer() {
  (void)Stop();
  if (!KeepDirs()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string RedisServer::Url(uint32_t db) const {
  std::string auth = opts_.password.empty() ? "" : ":" + opts_.password + "@";  // tests use URL-safe passwords
  return fmt::format("redis://{}127.0.0.1:{}/{}", auth, port_, db);
}

Result<std::unique_ptr<sink::redis::RedisConnection>> RedisServer::Connect(uint32_t db) const {
  sink::redis::RedisEndpoint e;
  e.port = port_;
  e.password = opts_.password;
  e.has_password = !opts_.password.empty();
  e.db = db;
  return sink::redis::RedisConnection::Connect(e, seconds(30));
}

std::vector<std::string> RedisServer::CommandLine() const {
  std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--save", "", "--dir", dir_, "--daemonize", "no", "--protected-mode", "no",
                                   "--logfile", ""};
  if (opts_.appendonly) args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
  if (!opts_.password.empty()) args.insert(args.end(), {"--requirepass", opts_.password});
  args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  return args;
}

Status RedisServer::Launch(bool* port_taken) {
  *port_taken = false;
  uint64_t offset = FileSize(log_);
  ASSIGN_OR_RETURN(pid_, SpawnProcess(CommandLine(), log_));
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  Status last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto exited = WaitForExit(pid_, milliseconds(0));
    if (exited.ok() && exited->has_value()) {
      pid_ = -1;
      std::string out = TailOfFile(log_, offset);
      *port_taken = out.find("Address already in use") != std::string::npos;
      return Status::Error(StatusCode::kIoError, "redis-server exited at start ({})\ncommand: {}\noutput:\n{}",
                           DescribeWaitStatus(**exited), JoinArgv(CommandLine()), out);
    }
    auto c = Connect();
    if (c.ok()) {
      auto pong = (*c)->Command({"PING"});
      if (pong.ok() && !pong->is_error()) return Status::Ok();
      last = pong.ok() ? Status::Error(StatusCode::kServerError, "PING: {}", pong->str) : pong.status();
    } else {
      last = c.status();
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  (void)Stop();
  return Status::Error(StatusCode::kIoError, "redis-server on port {} did not answer within {} s: {}\noutput:\n{}",
                       port_, kStartTimeout.count(), last.message(), TailOfFile(log_, offset));
}

Status RedisServer::Stop() {
  if (pid_ <= 0) return Status::Ok();
  ::kill(pid_, SIGCONT);  // a hung server would not see the SIGTERM
  auto st = StopProcess(pid_, SIGTERM, seconds(30));
  pid_ = -1;
  return st.ok() ? Status::Ok() : st.status();
}

Status RedisServer::Crash() {
  if (pid_ <= 0) return Status::Ok();
  ::kill(pid_, SIGKILL);
  auto st = WaitForExit(pid_, seconds(30));
  pid_ = -1;
  return st.ok() ? Status::Ok() : st.status();
}

Status RedisServer::Hang() {
  if (pid_ <= 0) return Status::Error(StatusCode::kIoError, "redis-server on port {} is not running", port_);
  ::kill(pid_, SIGSTOP);
  return Status::Ok();
}

Status RedisServer::Resume() {
  if (pid_ <= 0) return Status::Error(StatusCode::kIoError, "redis-server on port {} is not running", port_);
  ::kill(pid_, SIGCONT);
  return Status::Ok();
}

size_t RedisServer::UnreadBytes() const {
  // Lines: "sl local_address rem_address st tx_queue:rx_queue ...", in hex;
  // the server's own sockets have its port as the local one (state 01:
  // established).
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the header
  size_t unread = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    auto colon = local.find(':');
    if (state != "01" || colon == std::string::npos || queues.find(':') == std::string::npos) continue;
    if (std::stoul(local.substr(colon + 1), nullptr, 16) != port_) continue;
    unread += std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16);
  }
  return unread;
}

Status RedisServer::Restart() {
  RETURN_IF_ERROR(Stop());
  bool port_taken = false;
  return Launch(&port_taken);
}

}  // namespace sluice::testing
