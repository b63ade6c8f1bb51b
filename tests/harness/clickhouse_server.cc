#include "harness/clickhouse_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "client/clickhouse/http_client.h"
#include "harness/process.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr seconds kStartTimeout{60};  // a loaded machine; it takes ~0.3 s when idle
constexpr seconds kStopGrace{30};

bool CanBind(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A port below the ephemeral range that nothing holds right now.
uint16_t PickPort() {
  thread_local std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> dist(15000, 32000);
  for (int i = 0; i < 500; ++i) {
    auto p = static_cast<uint16_t>(dist(rng));
    if (CanBind(p)) return p;
  }
  return 0;
}

sluice::clickhouse::ClientOptions ClientFor(uint16_t port) {
  sluice::clickhouse::ClientOptions o;
  o.port = port;
  o.connect_timeout_s = 2;
  o.read_timeout_s = 60;
  return o;
}

}  // namespace

Result<std::unique_ptr<ClickhouseServer>> ClickhouseServer::Start(const std::string& extra_config) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/sluice-clickhouse-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Status::Error(StatusCode::kIoError, "mkdtemp {}: {}", pattern, std::strerror(errno));
  }
  std::unique_ptr<ClickhouseServer> server(new ClickhouseServer(pattern));
  server->extra_config_ = extra_config;
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    server->http_port_ = PickPort();
    server->tcp_port_ = PickPort();
    RETURN_IF_ERROR(server->WriteConfig());
    last = server->Launch();
    if (last.ok()) return server;
  }
  return last;
}

ClickhouseServer::~ClickhouseServer() {
  if (pid_ > 0) (void)StopProcess(pid_, SIGTERM, kStopGrace);
  const char* keep = std::getenv("SLUICE_KEEP_TEST_DIRS");
  if (!(keep && *keep && std::string(keep) != "0")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string ClickhouseServer::Url(const std::string& db) const {
  return fmt::format("clickhouse://default@127.0.0.1:{}/{}", http_port_, db);
}

Status ClickhouseServer::WriteConfig() {
  std::error_code ec;
  for (const char* sub : {"data", "tmp", "user_files", "format_schemas"}) fs::create_directories(dir_ + "/" + sub, ec);
  std::ofstream config(dir_ + "/config.xml", std::ios::trunc);
  config << fmt::format(R"(<?xml version="1.0"?>
<yandex>
  <logger><level>information</level><log>{0}/server.log</log><errorlog>{0}/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{1}</http_port>
  <tcp_port>{2}</tcp_port>
  <path>{0}/data/</path>
  <tmp_path>{0}/tmp/</tmp_path>
  <user_files_path>{0}/user_files/</user_files_path>
  <format_schema_path>{0}/format_schemas/</format_schema_path>
  <users_config>{0}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>5368709</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  {3}
</yandex>
)",
                        dir_, http_port_, tcp_port_, extra_config_);
  std::ofstream users(dir_ + "/users.xml", std::ios::trunc);
  users << R"(<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
)";
  if (!config || !users) return Status::Error(StatusCode::kIoError, "write ClickHouse config in {}", dir_);
  return Status::Ok();
}

Status ClickhouseServer::Launch() {
  ASSIGN_OR_RETURN(std::string binary, FindExecutable("clickhouse-server", {"/usr/sbin", "/usr/bin"}));
  const std::string out = dir_ + "/server.out";
  ASSIGN_OR_RETURN(pid_, SpawnProcess({binary, "--config-file=" + dir_ + "/config.xml"}, out));
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto exited = WaitForExit(pid_, milliseconds(0));
    if (exited.ok() && exited->has_value()) {
      pid_ = -1;
      return Status::Error(StatusCode::kIoError, "clickhouse-server in {} {}: {}", dir_, DescribeWaitStatus(**exited),
                           TailOfFile(dir_ + "/error.log") + TailOfFile(out));
    }
    if (Query("SELECT 1").ok()) return Status::Ok();
    std::this_thread::sleep_for(milliseconds(50));
  }
  (void)StopProcess(pid_, SIGKILL, seconds(5));
  pid_ = -1;
  return Status::Error(StatusCode::kIoError, "clickhouse-server in {} did not answer within {} s: {}", dir_,
                       kStartTimeout.count(), TailOfFile(dir_ + "/error.log"));
}

Result<std::string> ClickhouseServer::Query(const std::string& sql) const {
  sluice::clickhouse::ClickhouseClient client(ClientFor(http_port_));
  return client.Query(sql);
}

Result<std::vector<std::vector<std::string>>> ClickhouseServer::Rows(const std::string& sql) const {
  sluice::clickhouse::ClickhouseClient client(ClientFor(http_port_));
  return client.QueryRows(sql);
}

Status ClickhouseServer::Stop() {
  if (pid_ <= 0) return Status::Ok();
  auto st = StopProcess(pid_, SIGTERM, kStopGrace);
  pid_ = -1;
  return st.ok() ? Status::Ok() : st.status();
}

Status ClickhouseServer::Crash() {
  if (pid_ <= 0) return Status::Ok();
  auto st = StopProcess(pid_, SIGKILL, kStopGrace);
  pid_ = -1;
  return st.ok() ? Status::Ok() : st.status();
}

Status ClickhouseServer::BackUp() {
  RETURN_IF_ERROR(Stop());
  std::error_code ec;
  fs::remove_all(dir_ + "/backup", ec);
  fs::copy(dir_ + "/data", dir_ + "/backup", fs::copy_options::recursive, ec);
  if (ec) return Status::Error(StatusCode::kIoError, "back up {}/data: {}", dir_, ec.message());
  return Launch();
}

Status ClickhouseServer::CrashAndRestore() {
  RETURN_IF_ERROR(Crash());
  std::error_code ec;
  fs::remove_all(dir_ + "/data", ec);
  if (!ec) fs::copy(dir_ + "/backup", dir_ + "/data", fs::copy_options::recursive, ec);
  if (ec) return Status::Error(StatusCode::kIoError, "restore {}/backup: {}", dir_, ec.message());
  return Launch();
}

Status ClickhouseServer::Restart() {
  RETURN_IF_ERROR(Stop());
  return Launch();
}

}  // namespace sluice::testing
