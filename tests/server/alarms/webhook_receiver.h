#pragma once
// A webhook receiver for the alarm tests: a real cpp-httplib server on a
// loopback port that keeps every POST to /hooks/sluice (body and
// Authorization header) in order, and answers 500 while told to fail.

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::testing {

class WebhookReceiver {
 public:
  WebhookReceiver() {
    server_.Post("/hooks/sluice", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      authorizations_.push_back(req.get_header_value("Authorization"));
      if (fail_) {
        res.status = 500;
        return;
      }
      bodies_.push_back(nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false));
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // This cpp-httplib has no wait_until_ready(): the socket listens since
    // bind (a client's connection waits in the backlog); is_running() turns
    // true once requests are served.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  }
  ~WebhookReceiver() {
    server_.stop();
    thread_.join();
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  // The receiver's URL with `user:password@` credentials.
  std::string Url(const std::string& user, const std::string& password) const {
    return "http://" + user + ":" + password + "@127.0.0.1:" + std::to_string(port_) + "/hooks/sluice";
  }
  std::vector<nlohmann::json> Bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  // The bodies of `rule`'s notifications, in the order they came.
  std::vector<nlohmann::json> Of(const std::string& rule) {
    std::vector<nlohmann::json> out;
    for (const nlohmann::json& b : Bodies()) {
      if (b.is_object() && b.value("rule", "") == rule) out.push_back(b);
    }
    return out;
  }
  std::vector<std::string> Authorizations() {
    std::lock_guard lock(mu_);
    return authorizations_;
  }
  void Fail(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<nlohmann::json> bodies_;
  std::vector<std::string> authorizations_;
  bool fail_ = false;
};

}  // namespace sluice::testing
