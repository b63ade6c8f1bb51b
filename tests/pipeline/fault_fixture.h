#pragma once
// Shared pieces of the `sluice run` fault tests: a one-pipeline config
// (source "src" -> target "dst", pipeline "p"), the shop schema with an
// audit table that makes duplicates visible, and FaultTest, which starts the
// pair and sluice between them. Used by faults_itest.cc and the other
// *_itest.cc files that test a failure of their own.

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>

#include "pipeline/sync_fixture.h"

namespace sluice::testing {

using Json = nlohmann::json;

struct PipelineOptions {
  std::string start = "earliest";
  std::string tables = "      - match: \"shop.*\"\n";
  uint32_t parallel = 2;
  size_t batch_size = 200;
  std::string extra;  // further pipeline keys, each line indented by 4
};

inline std::string FaultConfig(const std::filesystem::path& dir, uint16_t http_port, const std::string& source_url,
                               const std::string& target_url, const PipelineOptions& o = {}) {
  return fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  src: {{url: "{src}", server_id: 4242, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: p
    source: src
    targets: [dst]
    start: "{start}"
    tables:
{tables}    batch: {{size: {batch}, timeout_ms: 50}}
    parallel: {parallel}
{extra})",
                     fmt::arg("dir", dir.string()), fmt::arg("port", http_port), fmt::arg("src", source_url),
                     fmt::arg("dst", target_url), fmt::arg("start", o.start), fmt::arg("tables", o.tables),
                     fmt::arg("batch", o.batch_size), fmt::arg("parallel", o.parallel), fmt::arg("extra", o.extra));
}

inline const char* kSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT NULL, note VARCHAR(40));
CREATE TABLE shop.audit (txn INT NOT NULL, msg VARCHAR(40));
)sql";

inline const char* kOrders = "SELECT id, amount, note FROM shop.orders ORDER BY id";
inline const char* kAudit = "SELECT txn, msg FROM shop.audit ORDER BY txn, msg";

// Source transactions first .. first+n-1: each inserts an order, updates an
// older one and writes its audit row. `pause` between transactions.
inline Status Transactions(MariadbServer& src, int first, int n,
                           std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
  for (int t = first; t < first + n; ++t) {
    RETURN_IF_ERROR(
        src.Execute(fmt::format("BEGIN; INSERT INTO shop.orders VALUES ({0}, {0}, 'order {0}'); "
                                "UPDATE shop.orders SET amount = amount + 1 WHERE id = {1}; "
                                "INSERT INTO shop.audit VALUES ({0}, 'txn {0}'); COMMIT",
                                t, t / 2)));
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  return Status::Ok();
}

// Fields of an answer that may be null (no answer): "" and -1 then.
inline std::string Str(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}
inline int64_t Int(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return -1;
  return j[key].get<int64_t>();
}

inline std::string ErrorText(const Json& status) {
  const Json& e = status.is_object() ? status["last_error"] : Json();
  return e.is_string() ? e.get<std::string>() : "";
}

// Whether the `sluice run` serving `port` shows a target of pipeline "p"
// waiting for another sluice process that applies it (one at a time).
inline bool WaitsForAnotherProcess(uint16_t port) {
  HttpReply r = HttpGet(port, "/api/pipelines/p/status");
  Json status = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (r.status != 200 || !status.is_object()) return false;
  for (const auto& t : status["targets"]) {
    if (t.value("state", "") == "retrying" && ErrorText(t).find("another sluice process") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Waits until `process` has logged `text` since it started.
inline ::testing::AssertionResult LogsWithin(const SluiceProcess& process, const std::string& text,
                                             std::chrono::seconds timeout) {
  if (WaitUntil([&] { return process.FullLog().find(text) != std::string::npos; }, timeout)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no \"" << text << "\" in its log:\n" << process.Log();
}

// A second `sluice run` of the configuration `make_config(dir, http_port)`
// makes, in a directory of its own (its own store and HTTP port, as on
// another host), started beside the test's sluice_.
struct SecondSluice {
  void Start(const std::filesystem::path& dir,
             const std::function<std::string(const std::filesystem::path&, uint16_t)>& make_config) {
    std::filesystem::create_directories(dir);
    port = FreePort();
    const std::string config = (dir / "sluice.yaml").string();
    std::ofstream(config) << make_config(dir, port);
    process = std::make_unique<SluiceProcess>(config, (dir / "sluice.log").string());
    process->Start();
    ASSERT_TRUE(process->WaitStarted()) << process->Log();
  }
  std::unique_ptr<SluiceProcess> process;
  uint16_t port = 0;
};

class FaultTest : public SyncTest {
 protected:
  // A source with kSchema, a target, sluice running pipeline "p" between them.
  // `before_start` runs on the servers before sluice starts.
  void StartPair(const std::function<void()>& before_start = {}) {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    if (before_start) {
      ASSERT_NO_FATAL_FAILURE(before_start());
    }
    http_port_ = FreePort();
    WriteConfig(
        FaultConfig(dir_, http_port_, src_->Url(), target_url_.empty() ? dst_->Url() : target_url_, options_));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }

  ::testing::AssertionResult ConvergesExactly(int transactions) {
    auto orders = Converges(*src_, kOrders, *dst_, kOrders, std::chrono::seconds(30));
    if (!orders) return orders;
    auto audit = Converges(*src_, kAudit, *dst_, kAudit, std::chrono::seconds(30));
    if (!audit) return audit;
    // Same contents, ordered, duplicates included; and the count the test wrote.
    auto n = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
    if (!n.ok()) return ::testing::AssertionFailure() << n.status().message();
    if (*n != std::to_string(transactions)) {
      return ::testing::AssertionFailure() << "audit rows on the target: " << *n << ", want " << transactions;
    }
    return ::testing::AssertionSuccess();
  }

  std::unique_ptr<MariadbServer> src_, dst_;
  std::string target_url_;  // sluice's target URL when not root's
  PipelineOptions options_;  // StartPair's pipeline
};

}  // namespace sluice::testing
