#pragma once
// Shared pieces of `sluice run` integration tests: private source and target
// servers, a config file, the sluice process (started, killed, restarted),
// and convergence checks that compare target tables with the source through
// the pipeline's rules.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "harness/mariadb_server.h"
#include "harness/process.h"

namespace sluice::testing {

// A loopback port nothing listens on right now.
inline uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One HTTP request to the API of a `sluice run` on 127.0.0.1:port. status is 0
// (and error says why) when no answer came.
struct HttpReply {
  int status = 0;
  std::string body;
  std::string error;
};
inline HttpReply HttpCall(uint16_t port, const std::string& method, const std::string& path,
                          const std::string& body = "") {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(30, 0);  // a POST stop waits for the pipeline's threads
  httplib::Result r = method == "POST" ? client.Post(path, body, "application/json") : client.Get(path);
  if (!r) return {0, "", httplib::to_string(r.error())};
  return {r->status, r->body, ""};
}
inline HttpReply HttpGet(uint16_t port, const std::string& path) { return HttpCall(port, "GET", path); }

inline HttpReply HttpPost(uint16_t port, const std::string& path, const std::string& body = "") {
  return HttpCall(port, "POST", path, body);
}

// The value of the first sample of `family` whose labels include every one
// of `labels` ("name=\"value\""), from a Prometheus text page; -1 if none.
inline double MetricValue(const std::string& page, const std::string& family,
                          std::initializer_list<std::string> labels) {
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(family + "{")) continue;
    bool all = true;
    for (const auto& l : labels) all &= line.find(l) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// Connections to `port` this machine holds open from the client's side
// (ESTABLISHED in /proc/net/tcp; a stopped server still accepts them into
// its backlog, and never answers).
inline int ConnectionsTo(uint16_t port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // header
  int n = 0;
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state == "01" && remote.size() > 5 && std::stoul(remote.substr(remote.size() - 4), nullptr, 16) == port) ++n;
  }
  return n;
}

// Polls `done` every 50 ms until it holds or `timeout` passes.
template <class Pred>
bool WaitUntil(Pred done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// The source's binlog end as a "file:offset" start position: a pipeline
// started there sees exactly what is written afterwards, however late its
// capture connects (unlike `latest`).
inline std::string BinlogEnd(MariadbServer& server) {
  auto rows = server.Query("SHOW MASTER STATUS");
  if (!rows.ok() || rows->empty() || (*rows)[0].size() < 2) return "";
  return (*rows)[0][0].value_or("") + ":" + (*rows)[0][1].value_or("");
}

inline std::string RowsToText(const MariadbServer::Rows& rows) {
  std::string s;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (i) s += '|';
      s += r[i].value_or("NULL");
    }
    s += '\n';
  }
  return s;
}

// The rows (lines) only `want` has and only `got` has, at most 20 of each,
// with the line counts: what a failed convergence needs to show.
inline std::string RowsDiff(const std::string& want, const std::string& got) {
  auto lines = [](const std::string& text) {
    std::multiset<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.insert(line);
    return out;
  };
  std::multiset<std::string> w = lines(want), g = lines(got);
  std::vector<std::string> missing, extra;
  std::set_difference(w.begin(), w.end(), g.begin(), g.end(), std::back_inserter(missing));
  std::set_difference(g.begin(), g.end(), w.begin(), w.end(), std::back_inserter(extra));
  std::string out = "want " + std::to_string(w.size()) + " rows, got " + std::to_string(g.size()) + "\n";
  auto list = [&](const char* title, const std::vector<std::string>& rows) {
    out += std::string(title) + " (" + std::to_string(rows.size()) + "):\n";
    for (size_t i = 0; i < rows.size() && i < 20; ++i) out += "  " + rows[i] + "\n";
  };
  list("only on the source", missing);
  list("only on the target", extra);
  if (missing.empty() && extra.empty() && want != got) out += "same rows, different order\n";
  return out;
}

class SluiceProcess {
 public:
  SluiceProcess(std::string config, std::string log) : config_(std::move(config)), log_(std::move(log)) {}
  ~SluiceProcess() { Kill(); }
  void Start() {
    log_offset_ = FileSize(log_);
    auto pid = SpawnProcess({SLUICE_BINARY, "run", "-c", config_}, log_);
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    pid_ = *pid;
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    (void)WaitForExit(pid_, std::chrono::seconds(10));
    pid_ = -1;
  }
  // Waits until the log shows a pipeline started, or left stopped because it
  // was stopped through the API (signal handlers are installed by then).
  bool WaitStarted(std::chrono::seconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string log = TailOfFile(log_, log_offset_, 1 << 20);
      if (log.find(": started") != std::string::npos || log.find(": left stopped") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  int Stop() {
    if (pid_ <= 0) return -1;
    WaitStarted();
    auto st = StopProcess(pid_, SIGTERM, std::chrono::seconds(20));
    pid_ = -1;
    return st.ok() ? *st : -1;
  }
  // SIGSTOP / SIGCONT: frozen with its connections open, as on a host that
  // died or a virtual machine paused.
  void Freeze() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void Thaw() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }
  // SIGHUP: reload the configuration.
  void Hangup() {
    if (pid_ > 0) ::kill(pid_, SIGHUP);
  }
  bool Running() {
    if (pid_ <= 0) return false;
    auto st = WaitForExit(pid_, std::chrono::milliseconds(0));
    if (st.ok() && st->has_value()) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  std::string Log() const { return TailOfFile(log_, 0, 6000); }
  // Everything this process wrote to the log so far.
  std::string FullLog() const { return TailOfFile(log_, log_offset_, 1 << 24); }

 private:
  std::string config_, log_;
  uint64_t log_offset_ = 0;  // where this process's lines begin in the shared log
  pid_t pid_ = -1;
};

// Rotates the binlog and purges every earlier one (waiting until no dump
// thread reads them and the binlog checkpoint moved on: PURGE silently keeps
// a binlog still in use).
inline ::testing::AssertionResult PurgeBinlogs(MariadbServer& server) {
  if (!server.Execute("FLUSH BINARY LOGS").ok()) return ::testing::AssertionFailure() << "FLUSH BINARY LOGS failed";
  auto last = server.Query("SHOW MASTER STATUS");
  if (!last.ok() || last->empty()) return ::testing::AssertionFailure() << "SHOW MASTER STATUS failed";
  std::string current = (*last)[0][0].value_or("");
  bool done = WaitUntil(
      [&] {
        auto dumps =
            server.QueryValue("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
        if (!dumps.ok() || *dumps != "0") return false;
        if (!server.Execute(fmt::format("PURGE BINARY LOGS TO '{}'", current)).ok()) return false;
        auto first = server.Query("SHOW BINARY LOGS");
        return first.ok() && !first->empty() && (*first)[0][0].value_or("") == current;
      },
      std::chrono::seconds(20));
  if (!done) return ::testing::AssertionFailure() << "binlogs before " << current << " not purged";
  return ::testing::AssertionSuccess();
}

// One pipeline `copy` from `earliest`, every table of `shop` 1:1 to `dst`.
inline std::string OneToOneConfig(const std::string& dir, const MariadbServer& src, const MariadbServer& dst) {
  return fmt::format(R"(store: {dir}/sluice.db
sources:
  main: {{url: "{src}", server_id: 5151, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: copy
    source: main
    targets: [dst]
    start: earliest
    tables:
      - match: "shop.*"
    batch: {{size: 100, timeout_ms: 50}}
)",
                     fmt::arg("dir", dir), fmt::arg("src", src.Url()), fmt::arg("dst", dst.Url()));
}

// One pipeline `copy` (every table of `shop`, 1:1, to `dst_url`) with the
// HTTP API on `http_port`, from `start`, with `snapshot`.
inline std::string HttpPipelineConfig(const std::string& dir, int http_port, const MariadbServer& src,
                                      const std::string& dst_url, const std::string& snapshot,
                                      const std::string& start) {
  return fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  main: {{url: "{src}", server_id: 5151, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: copy
    source: main
    targets: [dst]
    snapshot: {snapshot}
    start: {start}
    tables:
      - match: "shop.*"
)",
                     fmt::arg("dir", dir), fmt::arg("port", http_port), fmt::arg("src", src.Url()),
                     fmt::arg("dst", dst_url), fmt::arg("snapshot", snapshot), fmt::arg("start", start));
}

// OneToOneConfig's pipeline with a second target `out`: JSON lines
// appended to the file at `path`.
inline std::string WithFileTarget(std::string cfg, const std::string& path) {
  cfg.replace(cfg.find("  dst: {"), 0, fmt::format("  out: {{url: \"file://{}\"}}\n", path));
  cfg.replace(cfg.find("targets: [dst]"), 14, "targets: [dst, out]");
  return cfg;
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-sync-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    sluice_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<MariadbServer> StartServer(uint32_t id) {
    MariadbServerOptions o;
    o.server_id = id;
    auto s = MariadbServer::Start(o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // A replica of `primary` (server id 3, log_slave_updates unless
  // `logs_what_it_applies` is false, GTID), for source failovers.
  // `own_names`: its binlog files named apart from the primary's (as
  // servers named after their hosts have), so that the primary's file:offset
  // names nothing there; otherwise the same names, other contents.
  std::unique_ptr<MariadbServer> StartReplicaOf(MariadbServer& primary, bool own_names = true,
                                                bool logs_what_it_applies = true) {
    MariadbServerOptions o;
    o.server_id = 3;
    if (logs_what_it_applies) o.extra_args = {"--log-slave-updates"};
    if (own_names) o.extra_args.push_back("--log-bin=replica-bin");
    auto s = MariadbServer::Start(o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (!s.ok()) return nullptr;
    // A write of its own first (in a domain of its own, as monitoring
    // tables and local jobs do): its binlog offsets differ from the primary's.
    Status local = (*s)->Execute("SET SESSION gtid_domain_id = 9; CREATE DATABASE replica_local");
    EXPECT_TRUE(local.ok()) << local.message();
    Status st = (*s)->Execute(fmt::format(
        "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'root', "
        "MASTER_USE_GTID = slave_pos; START SLAVE",
        primary.port()));
    EXPECT_TRUE(st.ok()) << st.message();
    return std::move(s).value();
  }
  ::testing::AssertionResult CaughtUp(MariadbServer& replica, MariadbServer& primary) {
    auto pos = primary.QueryValue("SELECT @@gtid_binlog_pos");
    if (!pos.ok()) return ::testing::AssertionFailure() << pos.status().message();
    auto waited = replica.QueryValue(fmt::format("SELECT MASTER_GTID_WAIT('{}', 30)", *pos));
    if (!waited.ok() || *waited != "0") return ::testing::AssertionFailure() << "replica did not catch up";
    return ::testing::AssertionSuccess();
  }
  void WriteConfig(const std::string& yaml) {
    config_ = (dir_ / "sluice.yaml").string();
    std::ofstream(config_) << yaml;
  }
  // The configuration written last, with its one-line target `from` (and
  // the pipeline's `targets: [from]`) renamed to `to`.
  void RenameTargetInConfig(const std::string& from, const std::string& to) {
    std::stringstream text;
    text << std::ifstream(config_).rdbuf();
    std::string yaml = text.str();
    const std::string entry = "  " + from + ": {", list = "targets: [" + from + "]";
    ASSERT_NE(yaml.find(entry), std::string::npos) << yaml;
    ASSERT_NE(yaml.find(list), std::string::npos) << yaml;
    yaml.replace(yaml.find(entry), entry.size(), "  " + to + ": {");
    yaml.replace(yaml.find(list), list.size(), "targets: [" + to + "]");
    WriteConfig(yaml);
  }
  void StartSluice() {
    sluice_ = std::make_unique<SluiceProcess>(config_, (dir_ / "sluice.log").string());
    sluice_->Start();
  }
  // StartSluice with SLUICE_SYNC_POINTS (core/sync_point.h) for that process.
  void StartSluiceWithSyncPoints(const std::string& sync_points) {
    ::setenv("SLUICE_SYNC_POINTS", sync_points.c_str(), 1);
    StartSluice();
    ::unsetenv("SLUICE_SYNC_POINTS");
  }
  // Waits until sluice's log holds `text`; on failure shows the log.
  ::testing::AssertionResult LogShows(const std::string& text,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    if (WaitUntil([&] { return sluice_ && sluice_->Log().find(text) != std::string::npos; }, timeout)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "not logged: \"" << text << "\"\nsluice log:\n"
                                         << (sluice_ ? sluice_->Log() : "");
  }

  // Waits until `query` returns the same rows on both servers.
  ::testing::AssertionResult Converges(MariadbServer& src, const std::string& src_query, MariadbServer& dst,
                                       const std::string& dst_query,
                                       std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::string want, got;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto a = src.Query(src_query);
      auto b = dst.Query(dst_query);
      if (a.ok() && b.ok()) {
        want = RowsToText(*a);
        got = RowsToText(*b);
        if (want == got) return ::testing::AssertionSuccess();
      } else if (!a.ok()) {
        got = "source query failed: " + a.status().message();
      } else {
        got = "target query failed: " + b.status().message();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return ::testing::AssertionFailure() << "no convergence for " << dst_query << "\n"
                                         << RowsDiff(want, got) << "sluice log:\n"
                                         << (sluice_ ? sluice_->Log() : "");
  }

  // The status of pipeline `name` from GET /api/pipelines/NAME/status on
  // http_port_; a null json when there is no answer.
  nlohmann::json PipelineStatus(const std::string& name) {
    HttpReply r = HttpGet(http_port_, "/api/pipelines/" + name + "/status");
    if (r.status != 200) return nullptr;
    return nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  }
  // Waits until the pipeline's (or, with `target`, that target's) state is
  // `state`; on failure says what it was instead.
  ::testing::AssertionResult WaitForState(const std::string& name, const std::string& state,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(20),
                                          const std::string& target = "") {
    nlohmann::json last;
    bool ok = WaitUntil(
        [&] {
          last = PipelineStatus(name);
          if (!last.is_object()) return false;
          if (target.empty()) return last.value("state", "") == state;
          for (const auto& t : last["targets"]) {
            if (t.value("name", "") == target) return t.value("state", "") == state;
          }
          return false;
        },
        timeout);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "pipeline " << name << (target.empty() ? "" : " target " + target)
                                         << " never reached state \"" << state << "\"; last status: " << last.dump()
                                         << "\nsluice log:\n"
                                         << (sluice_ ? sluice_->Log() : "");
  }

  std::filesystem::path dir_;
  std::string config_;
  uint16_t http_port_ = 0;  // the `http:` port of configs that set one
  std::unique_ptr<SluiceProcess> sluice_;
};

}  // namespace sluice::testing
