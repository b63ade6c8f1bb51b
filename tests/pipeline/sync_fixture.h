#pragma once
// Shared pieces of `sluice run` integration tests: private source and target
// servers, a config file, the sluice process (started, killed, restarted),
// and convergence checks that compare target tables with the source through
// the pipeline's rules.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
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
  // Waits until the log shows every pipeline started (signal handlers are
  // installed by then).
  bool WaitStarted(std::chrono::seconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (TailOfFile(log_, log_offset_, 1 << 20).find(": started") != std::string::npos) return true;
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

 private:
  std::string config_, log_;
  uint64_t log_offset_ = 0;  // where this process's lines begin in the shared log
  pid_t pid_ = -1;
};

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-sync-" + std::to_string(::getpid()) + "-" +
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

  void WriteConfig(const std::string& yaml) {
    config_ = (dir_ / "sluice.yaml").string();
    std::ofstream(config_) << yaml;
  }
  void StartSluice() {
    sluice_ = std::make_unique<SluiceProcess>(config_, (dir_ / "sluice.log").string());
    sluice_->Start();
  }

  // Waits until `query` returns the same rows on both servers.
  ::testing::AssertionResult Converges(MariadbServer& src, const std::string& src_query, MariadbServer& dst,
                                       const std::string& dst_query, std::chrono::seconds timeout = std::chrono::seconds(60)) {
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
    return ::testing::AssertionFailure() << "no convergence for " << dst_query << "\nwant:\n"
                                         << want.substr(0, 2000) << "\ngot:\n"
                                         << got.substr(0, 2000) << "\nsluice log:\n"
                                         << (sluice_ ? sluice_->Log() : "");
  }

  std::filesystem::path dir_;
  std::string config_;
  std::unique_ptr<SluiceProcess> sluice_;
};

}  // namespace sluice::testing
