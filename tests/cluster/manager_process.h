#pragma once
// One `sluice manager` process for cluster integration tests: started with
// a cluster.yaml, its own id and store, its API on a free port (read from
// its log), killed with any signal.

#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "harness/process.h"

namespace sluice::testing {

struct ManagerReply {
  int status = 0;  // 0: no answer
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

inline ManagerReply ManagerHttp(uint16_t port, const std::string& method, const std::string& path,
                                const std::string& body = "", const std::string& type = "application/json") {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(30));
  httplib::Result r = method == "GET"   ? client.Get(path)
                      : method == "PUT" ? client.Put(path, body, type)
                                        : client.Post(path, body, type);
  if (!r) return {};
  return {r->status, r->body};
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class ManagerProcess {
 public:
  ManagerProcess(std::string dir, std::string id, std::string config)
      : dir_(std::move(dir)), id_(std::move(id)), config_(std::move(config)) {}
  ~ManagerProcess() { Kill(SIGKILL); }

  Status Start() {
    static int starts = 0;  // a log per start: a restart must not find the last one's port
    log_ = fmt::format("{}/{}-{}.log", dir_, id_, ++starts);
    port_ = 0;
    std::vector<std::string> argv = {SLUICE_BINARY, "manager", "-c", config_, "--id", id_,
                                     "--http", "127.0.0.1:0", "--store", fmt::format("{}/{}.db", dir_, id_)};
    ASSIGN_OR_RETURN(pid_, SpawnProcess(argv, log_));
    static const std::regex kPort("API on port ([0-9]+)");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (port_ == 0 && Running() && std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string text = ReadWholeFile(log_);
      if (std::regex_search(text, m, kPort)) {
        port_ = static_cast<uint16_t>(std::stoi(m[1]));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    if (port_ == 0) {
      return Status::Error(StatusCode::kIoError, "manager {} did not start: {}", id_, TailOfFile(log_));
    }
    return Status::Ok();
  }
  bool Running() {
    if (pid_ <= 0) return false;
    auto exited = WaitForExit(pid_, std::chrono::milliseconds(0));
    if (exited.ok() && exited->has_value()) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  void Kill(int signal) {
    if (pid_ > 0) (void)StopProcess(pid_, signal, std::chrono::seconds(30));
    pid_ = -1;
  }
  bool Leads() {
    ManagerReply r = ManagerHttp(port_, "GET", "/healthz");
    return r.status == 200 && r.body == "ok: leader";
  }
  uint16_t port() const { return port_; }
  const std::string& id() const { return id_; }
  std::string Log() const { return TailOfFile(log_); }
  const std::string& log_path() const { return log_; }

 private:
  std::string dir_, id_, config_, log_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Two managers of one cluster file, m1 and m2; Start returns once one of
// them leads.
class ManagerPair {
 public:
  ManagerPair(const std::string& dir, const std::string& config) : m1_(dir, "m1", config), m2_(dir, "m2", config) {}
  Status Start(std::chrono::seconds deadline) {
    RETURN_IF_ERROR(m1_.Start());
    RETURN_IF_ERROR(m2_.Start());
    for (auto until = std::chrono::steady_clock::now() + deadline; std::chrono::steady_clock::now() < until;) {
      if (m1_.Leads() || m2_.Leads()) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Status::Error(StatusCode::kIoError, "no manager leads: {}\n{}", m1_.Log(), m2_.Log());
  }
  ManagerProcess& leader() { return m1_.Leads() ? m1_ : m2_; }
  ManagerProcess& follower() { return m1_.Leads() ? m2_ : m1_; }
  ManagerProcess& m1() { return m1_; }
  ManagerProcess& m2() { return m2_; }

 private:
  ManagerProcess m1_, m2_;
};

}  // namespace sluice::testing
