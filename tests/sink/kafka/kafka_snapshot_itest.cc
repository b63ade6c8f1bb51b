// Snapshots into Kafka (sink/kafka/kafka_chunk_target.h) with a real
// MariaDB source and librdkafka's mock cluster: `snapshot: initial` emits
// one read event per existing row in the target's format, before the
// changes of its key, and streaming follows; a run killed mid-copy resumes
// its plan from the done records in the checkpoint topic.

#include <fmt/format.h>

#include <map>
#include <set>

#include "harness/kafka_mock.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

class KafkaSnapshotTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    src_ = StartServer(1);
    ASSERT_TRUE(src_);
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, ver INT NOT NULL, "
                              "note VARCHAR(40))")
                    .ok());
    auto k = KafkaMock::Start(3);
    ASSERT_TRUE(k.ok()) << k.status().message();
    kafka_ = std::move(k).value();
  }
  void TearDown() override {
    SyncTest::TearDown();  // sluice first, then the cluster it talks to
    kafka_.reset();
  }

  void Configure(const std::string& format, uint32_t parallel, uint64_t chunk_rows) {
    http_port_ = FreePort();
    WriteConfig(fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  src: {{url: "{src}", server_id: 4242, heartbeat_ms: 200}}
targets:
  bus: {{url: "{kafka}", format: {format}}}
pipelines:
  - name: p
    source: src
    targets: [bus]
    start: latest
    snapshot: initial
    chunk_rows: {chunk_rows}
    parallel: {parallel}
    tables:
      - match: "shop.orders"
    batch: {{size: 200, timeout_ms: 50}}
)",
                            fmt::arg("dir", dir_.string()), fmt::arg("port", http_port_), fmt::arg("src", src_->Url()),
                            fmt::arg("kafka", kafka_->Url()), fmt::arg("format", format),
                            fmt::arg("chunk_rows", chunk_rows), fmt::arg("parallel", parallel)));
  }

  std::vector<KafkaMessage> Read(const std::string& topic) {
    auto r = ReadTopic(kafka_->bootstraps(), topic);
    return r.ok() ? *r : std::vector<KafkaMessage>();
  }

  // Debezium messages of shop.orders, per key in partition order: "r:ver",
  // "c:ver", "u:ver", "d".
  std::map<int, std::vector<std::string>> DebeziumHistory() {
    std::map<int, std::vector<std::string>> out;
    for (const KafkaMessage& m : Read("shop.orders")) {
      if (!m.value) continue;  // a tombstone
      Json k = Json::parse(m.key, nullptr, false);
      Json v = Json::parse(*m.value, nullptr, false);
      if (!k.is_object() || !v.is_object()) {
        ADD_FAILURE() << "not a debezium message: " << m.key << " " << *m.value;
        continue;
      }
      std::string op = v["op"].get<std::string>();
      std::string entry = op == "d" ? "d" : op + ":" + std::to_string(v["after"]["ver"].get<int>());
      EXPECT_EQ(v["source"]["snapshot"], op == "r" ? "true" : "false") << *m.value;
      out[k["id"].get<int>()].push_back(entry);
    }
    return out;
  }

  // Done records of the snapshot plan in the checkpoint topic, not yet tombstoned.
  size_t DoneRecords() {
    std::map<std::string, bool> live;
    for (const KafkaMessage& m : Read("__sluice_checkpoints")) {
      if (m.key.find("/snapshot/") == std::string::npos) continue;
      live[m.key] = m.value.has_value();
    }
    size_t n = 0;
    for (const auto& [key, alive] : live) n += alive && std::count(key.begin(), key.end(), '/') == 4;
    return n;
  }
  size_t LivePlanRecords() {
    std::map<std::string, bool> live;
    for (const KafkaMessage& m : Read("__sluice_checkpoints")) {
      if (m.key.find("/snapshot/") != std::string::npos) live[m.key] = m.value.has_value();
    }
    size_t n = 0;
    for (const auto& [key, alive] : live) n += alive;
    return n;
  }

  std::unique_ptr<MariadbServer> src_;
  std::unique_ptr<KafkaMock> kafka_;
};

TEST_F(KafkaSnapshotTest, InitialSnapshotEmitsReadEventsBeforeTheChangesOfEachKey) {
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.orders SELECT seq, 0, 'before' FROM seq_1_to_600").ok());
  Configure("debezium", 2, 100);
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "running", seconds(120))) << sluice_->Log();
  // Changes after the copy: updates of copied rows, a new row, a delete.
  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET ver = 1 WHERE id <= 10; INSERT INTO shop.orders VALUES "
                            "(1000, 0, 'new'); DELETE FROM shop.orders WHERE id = 600")
                  .ok());
  std::map<int, std::vector<std::string>> history;
  ASSERT_TRUE(WaitUntil(
      [&] {
        history = DebeziumHistory();
        return history.count(1000) && history.count(600) && history[600].size() >= 2 && history[1].size() >= 2;
      },
      seconds(120)))
      << sluice_->Log();
  EXPECT_EQ(history.size(), 601u);
  for (int id = 1; id <= 600; ++id) {
    const auto& h = history[id];
    ASSERT_FALSE(h.empty()) << "key " << id;
    EXPECT_EQ(h[0], "r:0") << "key " << id << ": the read first";
    EXPECT_EQ(std::count(h.begin(), h.end(), "r:0"), 1) << "key " << id << ": one read";
  }
  EXPECT_EQ(history[1], (std::vector<std::string>{"r:0", "u:1"}));
  EXPECT_EQ(history[600], (std::vector<std::string>{"r:0", "d"}));
  EXPECT_EQ(history[1000], (std::vector<std::string>{"c:0"}));
  // The plan is removed once the copy is done; the position record stays.
  EXPECT_TRUE(WaitUntil([&] { return LivePlanRecords() == 0; }, seconds(30)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(KafkaSnapshotTest, MaxwellReadsAreBootstrapInserts) {
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.orders SELECT seq, 0, 'before' FROM seq_1_to_50").ok());
  Configure("maxwell", 1, 20);
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "running", seconds(120))) << sluice_->Log();
  std::vector<KafkaMessage> messages;
  ASSERT_TRUE(WaitUntil([&] { return (messages = Read("shop.orders")).size() >= 50; }, seconds(60)));
  std::set<int> ids;
  for (const KafkaMessage& m : messages) {
    Json v = Json::parse(*m.value);
    EXPECT_EQ(v["type"], "bootstrap-insert") << *m.value;
    ids.insert(v["data"]["id"].get<int>());
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(KafkaSnapshotTest, RunKilledMidSnapshotResumesItsPlan) {
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.orders SELECT seq, 0, 'before' FROM seq_1_to_30000").ok());
  Configure("debezium", 1, 250);
  // The copy is held after its 4th chunk (a file never made), so the kill
  // lands mid-snapshot however fast the machine is.
  ::setenv("SLUICE_SYNC_POINTS", ("snapshot.chunk.committed=wait@4:" + (dir_ / "never").string()).c_str(), 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitUntil([&] { return DoneRecords() >= 3; }, seconds(120))) << sluice_->Log();
  sluice_->Kill();
  size_t done_before = DoneRecords();
  ASSERT_LT(done_before, 120u) << "the copy finished before the kill";
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "running", seconds(180))) << sluice_->Log();
  EXPECT_NE(sluice_->Log().find("resuming the snapshot"), std::string::npos) << sluice_->Log();
  std::map<int, std::vector<std::string>> history = DebeziumHistory();
  EXPECT_EQ(history.size(), 30000u);
  // At least once: chunks done before the kill are not copied again, so
  // only the chunk in flight may repeat.
  size_t repeated = 0;
  for (const auto& [id, h] : history) repeated += h.size() > 1;
  EXPECT_LE(repeated, 250u * 2) << "more than the chunks in flight were copied twice";
  EXPECT_TRUE(WaitUntil([&] { return LivePlanRecords() == 0; }, seconds(30)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
