#pragma once
// `sluice run` from a private MariaDB into a private Redis: the config, the
// servers, and readers of what Redis holds (rows of hashes as text lines to
// compare with the source).

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "harness/redis_server.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {

using RedisMap = std::map<std::string, std::string>;

struct RedisTargetOptions {
  std::string mode = "hash";
  std::string key;  // empty: the default
  std::string tables = "      - match: \"shop.*\"\n";
  size_t batch_size = 200;
  std::string extra;  // further pipeline keys, each line indented by 4
  bool appendonly = false;
  std::string password;      // the server's requirepass (the URL carries it)
  std::string url_password;  // when set, the URL's password instead (a wrong one)
  std::string user;          // the URL's user with url_password (an ACL user the test makes); empty: none
};

class RedisTargetTest : public SyncTest {
 protected:
  // Source (server id 1) and Redis; `schema` runs on the source first.
  void StartServers(const std::string& schema, const RedisTargetOptions& o = {}) {
    opts_ = o;
    src_ = StartServer(1);
    ASSERT_TRUE(src_);
    RedisServerOptions ro;
    ro.appendonly = o.appendonly;
    ro.password = o.password;
    auto r = RedisServer::Start(ro);
    ASSERT_TRUE(r.ok()) << r.status().message();
    redis_ = std::move(r).value();
    if (!schema.empty()) {
      ASSERT_TRUE(src_->Execute(schema).ok());
    }
    http_port_ = FreePort();
    WriteConfig(Config(dir_, http_port_));
  }
  // The configuration of pipeline "p" with its store in `dir` and its API on `port`.
  std::string Config(const std::filesystem::path& dir, uint16_t port) const {
    const RedisTargetOptions& o = opts_;
    std::string key = o.key.empty() ? "" : fmt::format(", key: \"{}\"", o.key);
    return fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  src: {{url: "{src}", server_id: 4242, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}", mode: {mode}{key}}}
pipelines:
  - name: p
    source: src
    targets: [dst]
    start: earliest
    tables:
{tables}    batch: {{size: {batch}, timeout_ms: 50}}
{extra})",
                       fmt::arg("dir", dir.string()), fmt::arg("port", port), fmt::arg("src", src_->Url()),
                       fmt::arg("dst", o.url_password.empty() ? redis_->Url(0)
                                                              : fmt::format("redis://{}:{}@127.0.0.1:{}/0", o.user,
                                                                            o.url_password, redis_->port())),
                       fmt::arg("mode", o.mode), fmt::arg("key", key), fmt::arg("tables", o.tables),
                       fmt::arg("batch", o.batch_size), fmt::arg("extra", o.extra));
  }
  void Start(const std::string& schema, const RedisTargetOptions& o = {}) {
    ASSERT_NO_FATAL_FAILURE(StartServers(schema, o));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }

  // A fresh connection per call: the server may have been restarted.
  std::unique_ptr<sink::redis::RedisConnection> Redis() {
    auto c = redis_->Connect();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  Result<sink::redis::RedisReply> RedisCommand(const std::vector<std::string>& argv) {
    auto c = Redis();
    if (!c) return Status::Error(StatusCode::kIoError, "cannot connect to redis");
    return c->Command(argv);
  }
  // HGETALL as a map; empty when the key does not exist (or Redis is down).
  RedisMap Hash(const std::string& key) {
    RedisMap out;
    auto r = RedisCommand({"HGETALL", key});
    if (!r.ok()) return out;
    for (size_t i = 0; i + 1 < r->elements.size(); i += 2) out[r->elements[i].str] = r->elements[i + 1].str;
    return out;
  }
  std::vector<std::string> Keys(const std::string& pattern) {
    std::vector<std::string> keys;
    auto r = RedisCommand({"KEYS", pattern});
    if (r.ok()) {
      for (const auto& e : r->elements) keys.push_back(e.str);
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }
  // Waits until Hash(key) equals `want` (empty: the key is gone).
  ::testing::AssertionResult HashBecomes(const std::string& key, const RedisMap& want,
                                         std::chrono::seconds timeout = std::chrono::seconds(60)) {
    RedisMap got;
    if (WaitUntil([&] { return (got = Hash(key)) == want; }, timeout)) return ::testing::AssertionSuccess();
    auto show = [](const RedisMap& m) {
      std::string s;
      for (const auto& [k, v] : m) s += "  " + k + " = " + v + "\n";
      return s;
    };
    return ::testing::AssertionFailure() << "hash " << key << " is\n"
                                         << show(got) << "want\n"
                                         << show(want) << "sluice log:\n"
                                         << sluice_->Log();
  }
  // The rows of the hashes matching `pattern` as "c1|c2|..." lines (a
  // missing field is NULL), ordered by the integer in `columns[0]`.
  std::string HashRows(const std::string& pattern, const std::vector<std::string>& columns) {
    std::vector<std::pair<long long, std::string>> rows;
    for (const std::string& key : Keys(pattern)) {
      RedisMap h = Hash(key);
      std::string line;
      for (size_t i = 0; i < columns.size(); ++i) {
        if (i) line += '|';
        auto it = h.find(columns[i]);
        line += it == h.end() ? "NULL" : it->second;
      }
      rows.emplace_back(std::atoll(h[columns[0]].c_str()), line + "\n");
    }
    std::sort(rows.begin(), rows.end());
    std::string out;
    for (const auto& r : rows) out += r.second;
    return out;
  }
  // Waits until the hashes under `pattern` hold exactly the rows of `query` on the source.
  ::testing::AssertionResult RowsConverge(const std::string& query, const std::string& pattern,
                                          const std::vector<std::string>& columns,
                                          std::chrono::seconds timeout = std::chrono::seconds(90)) {
    std::string want, got;
    bool ok = WaitUntil(
        [&] {
          auto rows = src_->Query(query);
          if (!rows.ok()) return false;
          want = RowsToText(*rows);
          got = HashRows(pattern, columns);
          return want == got;
        },
        timeout);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no convergence for " << pattern << "\n"
                                         << RowsDiff(want, got) << "sluice log:\n"
                                         << sluice_->Log();
  }

  RedisTargetOptions opts_;
  std::unique_ptr<MariadbServer> src_;
  std::unique_ptr<RedisServer> redis_;
};

}  // namespace sluice::testing
