// `sluice run` from a real MariaDB into a file target: every change exactly
// once and in source order, in the chosen format, across kill -9 of sluice
// in mid-stream and across size rotation; DDL written once as well.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A string field of a message, "" when absent or not a string (Maxwell's
// database DDL has "table": null).
std::string Field(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

class FileTargetTest : public SyncTest {
 protected:
  std::string Config(const std::string& format, uint64_t rotate_bytes) {
    return fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  src: {{url: "{src}", server_id: 4242, heartbeat_ms: 200}}
targets:
  out: {{url: "file://{dir}/changes.jsonl", format: {format}{rotate}}}
pipelines:
  - name: p
    source: src
    targets: [out]
    start: earliest
    tables:
      - match: "shop.*"
    batch: {{size: 50, timeout_ms: 50}}
)",
                       fmt::arg("dir", dir_.string()), fmt::arg("port", http_port_), fmt::arg("src", src_->Url()),
                       fmt::arg("format", format),
                       fmt::arg("rotate", rotate_bytes ? fmt::format(", rotate_bytes: {}", rotate_bytes) : ""));
  }

  // Every line of the rotated files (in rotation order) and then of the current one.
  std::vector<Json> AllLines() {
    std::vector<std::filesystem::path> files;
    std::filesystem::path base = dir_ / "changes.jsonl";
    for (int n = 1;; ++n) {
      std::filesystem::path p = fmt::format("{}.{:06}", base.string(), n);
      if (!std::filesystem::exists(p)) break;
      files.push_back(p);
    }
    files.push_back(base);
    std::vector<Json> out;
    for (const auto& f : files) {
      std::ifstream in(f);
      for (std::string line; std::getline(in, line);) {
        Json j = Json::parse(line, nullptr, false);
        // A line still being written when read: stop at it.
        if (j.is_discarded()) return out;
        out.push_back(std::move(j));
      }
    }
    return out;
  }

  // Audit inserts seen, in file order (Maxwell messages).
  std::vector<int> AuditTxns(const std::vector<Json>& lines) {
    std::vector<int> txns;
    for (const Json& j : lines) {
      if (Field(j, "table") == "audit" && Field(j, "type") == "insert") txns.push_back(j["data"]["txn"].get<int>());
    }
    return txns;
  }

  std::unique_ptr<MariadbServer> src_;
  uint16_t http_port_ = 0;
};

TEST_F(FileTargetTest, EveryChangeExactlyOnceInOrderAcrossKillNineAndRotation) {
  src_ = StartServer(1);
  ASSERT_TRUE(src_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  http_port_ = FreePort();
  WriteConfig(Config("maxwell", 16384));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();

  constexpr int kTxns = 400;
  Status written;
  std::thread writer([&] {
    written = Transactions(*src_, 1, kTxns / 2, milliseconds(5));
    if (!written.ok()) return;
    written = src_->Execute("ALTER TABLE shop.orders MODIFY note VARCHAR(60)");
    if (!written.ok()) return;
    written = Transactions(*src_, kTxns / 2 + 1, kTxns / 2, milliseconds(5));
  });
  struct Joiner {
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } joiner{writer};
  // kill -9 twice while changes flow, each time once some more have landed.
  for (int kill = 1; kill <= 2; ++kill) {
    size_t want = static_cast<size_t>(kill * kTxns / 3);
    EXPECT_TRUE(WaitUntil([&] { return AuditTxns(AllLines()).size() >= want; }, seconds(120)))
        << "kill " << kill << ": " << sluice_->Log();
    sluice_->Kill();
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(WaitUntil([&] { return AuditTxns(AllLines()).size() >= static_cast<size_t>(kTxns); }, seconds(120)))
      << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  std::vector<Json> lines = AllLines();
  std::vector<int> want(kTxns);
  for (int i = 0; i < kTxns; ++i) want[i] = i + 1;
  EXPECT_EQ(AuditTxns(lines), want);
  // Order inserts once each, in order; the DDL once, between txn 200 and 201.
  std::vector<int> orders;
  int ddl = 0;
  size_t ddl_at = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Json& j = lines[i];
    if (Field(j, "table") == "orders" && Field(j, "type") == "insert") orders.push_back(j["data"]["id"].get<int>());
    if (Field(j, "type") == "table-alter") {
      ++ddl;
      ddl_at = orders.size();
      EXPECT_EQ(j["sql"], "ALTER TABLE shop.orders MODIFY note VARCHAR(60)");
    }
  }
  EXPECT_EQ(orders, want);
  EXPECT_EQ(ddl, 1);
  EXPECT_EQ(ddl_at, static_cast<size_t>(kTxns / 2));
  // Updates carry the previous amount in "old", as Maxwell writes them.
  int updates = 0;
  for (const Json& j : lines) {
    if (Field(j, "type") != "update") continue;
    ++updates;
    EXPECT_EQ(j["old"]["amount"].get<int>() + 1, j["data"]["amount"].get<int>()) << j.dump();
  }
  EXPECT_EQ(updates, kTxns - 1);  // txn 1 updates id 0, which does not exist
  EXPECT_TRUE(std::filesystem::exists(dir_ / "changes.jsonl.000001")) << "no rotation happened";
}

TEST_F(FileTargetTest, EachFormatWritesItsOwnLines) {
  src_ = StartServer(1);
  ASSERT_TRUE(src_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_TRUE(Transactions(*src_, 1, 3).ok());
  for (const std::string format : {"json", "canal", "debezium"}) {
    std::filesystem::remove(dir_ / "changes.jsonl");
    std::filesystem::remove(dir_ / "changes.jsonl.sluice-pos");
    std::filesystem::remove(dir_ / "sluice.db");
    http_port_ = FreePort();
    WriteConfig(Config(format, 0));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    // CREATE DATABASE, two CREATE TABLEs, then 3 orders + 2 updates + 3 audits.
    EXPECT_TRUE(WaitUntil([&] { return AllLines().size() >= 11; }, seconds(60))) << format << ": " << sluice_->Log();
    EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
    std::vector<Json> lines = AllLines();
    ASSERT_EQ(lines.size(), 11u) << format;
    auto is_ddl = [&](const Json& j) {
      if (format == "json") return j["op"] == "ddl";
      if (format == "canal") return j["isDdl"] == true;
      return j.contains("ddl");
    };
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(is_ddl(lines[i])) << lines[i].dump();
    for (size_t i = 3; i < 11; ++i) EXPECT_FALSE(is_ddl(lines[i])) << lines[i].dump();
    const Json& first = lines[3];
    if (format == "json") {
      EXPECT_EQ(first["op"], "insert") << first.dump();
    }
    if (format == "canal") {
      EXPECT_EQ(first["type"], "INSERT") << first.dump();
      EXPECT_EQ(first["data"][0]["id"], "1") << first.dump();
      EXPECT_EQ(first["mysqlType"]["note"], "varchar(40)") << first.dump();
      EXPECT_EQ(lines[1]["type"], "CREATE") << lines[1].dump();
    }
    if (format == "debezium") {
      EXPECT_EQ(first["op"], "c") << first.dump();
      EXPECT_EQ(first["after"]["id"], 1) << first.dump();
      EXPECT_EQ(first["source"]["name"], "p") << first.dump();
    }
  }
}

}  // namespace
}  // namespace sluice::testing
