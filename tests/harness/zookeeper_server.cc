#include "harness/zookeeper_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "harness/process.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kZkServer[] = "/usr/share/zookeeper/bin/zkServer.sh";
constexpr seconds kStartTimeout{90};

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

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return Status::Error(StatusCode::kIoError, "write {}", path);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ZookeeperEnsemble>> ZookeeperEnsemble::Start(ZookeeperOptions opts) {
  if (opts.servers < 1 || opts.servers % 2 == 0) {
    return Status::Invalid("zookeeper ensemble: {} servers (want 1 or an odd number)", opts.servers);
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/sluice-zookeeper-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Status::Error(StatusCode::kIoError, "mkdtemp {}: {}", pattern, std::strerror(errno));
  }
  std::unique_ptr<ZookeeperEnsemble> zk(new ZookeeperEnsemble(pattern));
  zk->servers_.resize(opts.servers);
  std::set<uint16_t> used;
  for (int i = 0; i < opts.servers; ++i) {
    Server& s = zk->servers_[i];
    s.dir = fmt::format("{}/zk{}", zk->dir_, i + 1);
    s.config = s.dir + "/zoo.cfg";
    s.log = s.dir + "/zookeeper.out";
    for (uint16_t* port : {&s.client_port, &s.peer_port, &s.election_port}) {
      // Ports picked one after another may repeat (each probe socket is
      // closed before the next); a server given one port twice refuses its
      // configuration ("Invalid config"), so every port is distinct.
      do {
        ASSIGN_OR_RETURN(*port, PickPort());
      } while (!used.insert(*port).second);
    }
  }
  RETURN_IF_ERROR(zk->WriteConfigs());
  for (int i = 0; i < opts.servers; ++i) RETURN_IF_ERROR(zk->Launch(i));
  RETURN_IF_ERROR(zk->WaitServing(kStartTimeout));
  return zk;
}

ZookeeperEnsemble::~ZookeeperEnsemble() {
  StopAll();
  if (!KeepDirs()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::vector<uint16_t> ZookeeperEnsemble::client_ports() const {
  std::vector<uint16_t> ports;
  for (const Server& s : servers_) ports.push_back(s.client_port);
  return ports;
}

std::string ZookeeperEnsemble::ConnectString() const {
  std::vector<std::string> hosts;
  for (const Server& s : servers_) hosts.push_back(fmt::format("127.0.0.1:{}", s.client_port));
  return fmt::format("{}", fmt::join(hosts, ","));
}

Status ZookeeperEnsemble::WriteConfigs() {
  for (size_t i = 0; i < servers_.size(); ++i) {
    const Server& s = servers_[i];
    std::error_code ec;
    fs::create_directories(s.dir + "/data", ec);
    if (ec) return Status::Error(StatusCode::kIoError, "mkdir {}/data: {}", s.dir, ec.message());
    // tickTime 200 ms lets sessions be as short as 400 ms; init/sync limits
    // in ticks leave a loaded machine 10 s to form the quorum.
    std::string cfg = fmt::format(
        "tickTime=200\ninitLimit=50\nsyncLimit=25\ndataDir={}/data\nclientPort={}\nclientPortAddress=127.0.0.1\n"
        "minSessionTimeout=400\nmaxSessionTimeout=20000\nadmin.enableServer=false\n"
        "4lw.commands.whitelist=srvr,ruok,mntr,stat,cons\nmaxClientCnxns=0\n",
        s.dir, s.client_port);
    if (servers_.size() > 1) {
      for (size_t j = 0; j < servers_.size(); ++j) {
        cfg += fmt::format("server.{}=127.0.0.1:{}:{}\n", j + 1, servers_[j].peer_port, servers_[j].election_port);
      }
    }
    RETURN_IF_ERROR(WriteFile(s.config, cfg));
    RETURN_IF_ERROR(WriteFile(s.dir + "/data/myid", fmt::format("{}\n", i + 1)));
  }
  return Status::Ok();
}

Status ZookeeperEnsemble::Launch(int i) {
  Server& s = servers_[i];
  // `env` and zkServer.sh exec in turn, so the pid ends up being the JVM's.
  std::vector<std::string> argv = {"env",     "SERVER_JVMFLAGS=-Xmx128m", "JMXDISABLE=true",
                                   kZkServer, "start-foreground",         s.config};
  ASSIGN_OR_RETURN(s.pid, SpawnProcess(argv, s.log));
  return Status::Ok();
}

Result<std::string> ZookeeperEnsemble::FourLetterWord(int i, const std::string& word) const {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(StatusCode::kIoError, "socket: {}", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(servers_[i].client_port);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string out;
  Status st;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::send(fd, word.data(), word.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(word.size())) {
    st = Status::Error(StatusCode::kIoError, "zookeeper {} ({}): {}", i + 1, word, std::strerror(errno));
  } else {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!st.ok()) return st;
  return out;
}

Result<std::string> ZookeeperEnsemble::Mode(int i) const {
  ASSIGN_OR_RETURN(std::string srvr, FourLetterWord(i, "srvr"));
  size_t at = srvr.find("Mode: ");
  if (at == std::string::npos) {
    return Status::Error(StatusCode::kIoError, "zookeeper {} serves no clients: {}", i + 1, srvr);
  }
  size_t end = srvr.find('\n', at);
  return srvr.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
}

Status ZookeeperEnsemble::WaitServing(milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Status last;
    for (int i = 0; i < size() && last.ok(); ++i) {
      if (!running(i)) continue;
      auto exited = WaitForExit(servers_[i].pid, milliseconds(0));
      if (exited.ok() && exited->has_value()) {
        return Status::Error(StatusCode::kIoError, "zookeeper {} exited ({}); output:\n{}", i + 1,
                             DescribeWaitStatus(**exited), TailOfFile(servers_[i].log));
      }
      auto mode = Mode(i);
      if (!mode.ok()) last = mode.status();
    }
    if (last.ok()) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Error(StatusCode::kIoError, "zookeeper ensemble in {} not serving after {} ms: {}", dir_,
                           timeout.count(), last.message());
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
}

Result<int> ZookeeperEnsemble::Leader(milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (int i = 0; i < size(); ++i) {
      if (!running(i)) continue;
      auto mode = Mode(i);
      if (mode.ok() && (*mode == "leader" || *mode == "standalone")) return i;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Error(StatusCode::kIoError, "zookeeper ensemble in {}: no leader after {} ms", dir_,
                           timeout.count());
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
}

Status ZookeeperEnsemble::Kill(int i) {
  Server& s = servers_[i];
  if (s.pid <= 0) return Status::Ok();
  auto st = StopProcess(s.pid, SIGKILL, seconds(30));
  s.pid = -1;
  return st.ok() ? Status::Ok() : st.status();
}

Status ZookeeperEnsemble::StartServer(int i) {
  if (running(i)) return Status::Ok();
  RETURN_IF_ERROR(Launch(i));
  return WaitServing(kStartTimeout);
}

void ZookeeperEnsemble::StopAll() {
  for (Server& s : servers_) {
    if (s.pid <= 0) continue;
    auto st = StopProcess(s.pid, SIGTERM, seconds(20));
    (void)st;
    s.pid = -1;
  }
}

}  // namespace sluice::testing
