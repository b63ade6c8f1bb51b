// The pipeline in cluster mode (design §10):
//   - SetInDoubt: while the ownership is in doubt, a target that cannot
//     check the epoch (a file) writes nothing and shows `paused`; once the
//     doubt is resolved it resumes, and every change arrives exactly once;
//   - a fenced target (MySQL) that a newer owner took over stops for good:
//     state `fenced`, the error naming pipeline, target and both epochs;
//   - a Kafka target (fenced by its transactional.id) keeps writing while in
//     doubt, but after an error it does not reconnect until the doubt is
//     resolved: a new transactional producer would fence a successor.
#include <gtest/gtest.h>

#include <fstream>

#include "pipeline/config.h"
#include "pipeline/pipeline.h"
#include "harness/kafka_mock.h"
#include "pipeline/sync_fixture.h"
#include "sink/mysql/mysql_loader.h"
#include "store/sqlite_store.h"

namespace sluice::testing {
namespace {

size_t LineCount(const std::filesystem::path& file) {
  std::ifstream in(file);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

class InDoubtTest : public SyncTest {};

TEST_F(InDoubtTest, UnfencedTargetPausesWhileInDoubtAndResumes) {
  auto src = StartServer(1);
  ASSERT_TRUE(src);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)").ok());
  const std::filesystem::path out = dir_ / "changes.jsonl";
  auto config = pipeline::ParseConfig(fmt::format(R"(store: {dir}/sluice.db
sources:
  src: {{url: "{src}", server_id: 4243, heartbeat_ms: 200}}
targets:
  out: {{url: "file://{out}"}}
pipelines:
  - name: p
    source: src
    targets: [out]
    start: "{start}"
    tables:
      - match: "shop.*"
    batch: {{size: 10, timeout_ms: 50}}
)",
                                                  fmt::arg("dir", dir_.string()), fmt::arg("src", src->Url()),
                                                  fmt::arg("out", out.string()), fmt::arg("start", BinlogEnd(*src))),
                                      (dir_ / "sluice.yaml").string());
  ASSERT_TRUE(config.ok()) << config.status().message();
  config->pipelines[0].epoch = 5;
  auto store = store::SqliteStore::Open(config->store);
  ASSERT_TRUE(store.ok()) << store.status().message();
  pipeline::MetricsRegistry registry;
  pipeline::PipelineMetrics metrics(registry);
  pipeline::Pipeline p(*config, config->pipelines[0], **store, metrics);
  ASSERT_TRUE(p.Start().ok());

  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (1, 1), (2, 2)").ok());
  ASSERT_TRUE(WaitUntil([&] { return LineCount(out) == 2; }, std::chrono::seconds(60))) << LineCount(out);

  p.SetInDoubt(true);
  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (3, 3), (4, 4), (5, 5)").ok());
  // The changes reach the target's thread, which holds them: the target
  // shows paused, and the source was read past them.
  const std::string after = BinlogEnd(*src);
  ASSERT_TRUE(WaitUntil(
      [&] {
        pipeline::PipelineStatus s = p.status();
        return s.state == pipeline::PipelineState::kPaused && s.targets[0].state == pipeline::PipelineState::kPaused;
      },
      std::chrono::seconds(60)))
      << pipeline::PipelineStateName(p.status().state);
  pipeline::PipelineStatus paused = p.status();
  EXPECT_NE(paused.targets[0].last_error.find("ownership in doubt"), std::string::npos) << paused.targets[0].last_error;
  EXPECT_NE(paused.targets[0].last_error.find("epoch 5"), std::string::npos) << paused.targets[0].last_error;
  ASSERT_TRUE(WaitUntil([&] { return p.status().source_position == after; }, std::chrono::seconds(60)))
      << p.status().source_position << " vs " << after;
  // Many batch timeouts later, still nothing written.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(LineCount(out), 2u);

  p.SetInDoubt(false);
  ASSERT_TRUE(WaitUntil([&] { return LineCount(out) == 5; }, std::chrono::seconds(60))) << LineCount(out);
  ASSERT_TRUE(WaitUntil([&] { return p.status().state == pipeline::PipelineState::kRunning; },
                        std::chrono::seconds(60)));
  EXPECT_EQ(p.status().targets[0].last_error, "");
  p.Stop();
  EXPECT_EQ(LineCount(out), 5u);
}

TEST_F(InDoubtTest, TargetTakenOverByANewerEpochStopsAsFenced) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)").ok());
  auto config = pipeline::ParseConfig(fmt::format(R"(store: {dir}/sluice.db
sources:
  src: {{url: "{src}", server_id: 4244, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: p
    source: src
    targets: [dst]
    start: "{start}"
    tables:
      - match: "shop.*"
    batch: {{size: 10, timeout_ms: 50}}
    ddl: apply
)",
                                                  fmt::arg("dir", dir_.string()), fmt::arg("src", src->Url()),
                                                  fmt::arg("dst", dst->Url()), fmt::arg("start", BinlogEnd(*src))),
                                      (dir_ / "sluice.yaml").string());
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_TRUE(dst->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)").ok());
  config->pipelines[0].epoch = 1;
  auto store = store::SqliteStore::Open(config->store);
  ASSERT_TRUE(store.ok()) << store.status().message();
  pipeline::MetricsRegistry registry;
  pipeline::PipelineMetrics metrics(registry);
  pipeline::Pipeline p(*config, config->pipelines[0], **store, metrics);
  ASSERT_TRUE(p.Start().ok());
  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (1, 1), (2, 2)").ok());
  ASSERT_TRUE(Converges(*src, "SELECT * FROM shop.t ORDER BY id", *dst, "SELECT * FROM shop.t ORDER BY id"));

  // Another node owns the pipeline now, with epoch 2, and opened the target.
  sink::mysql::LoaderOptions lo;
  lo.pipeline = "p";
  lo.target = "dst";
  auto url = Url::Parse(dst->Url());
  ASSERT_TRUE(url.ok());
  auto co = mysql::ConnectOptions::FromUrl(*url);
  ASSERT_TRUE(co.ok());
  lo.connect = *co;
  lo.epoch = 2;
  auto successor = sink::mysql::MysqlLoader::Open(lo);
  ASSERT_TRUE(successor.ok()) << successor.status().message();

  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (3, 3)").ok());
  ASSERT_TRUE(WaitUntil([&] { return p.status().state == pipeline::PipelineState::kFenced; },
                        std::chrono::seconds(60)))
      << pipeline::PipelineStateName(p.status().state) << ": " << p.status().last_error;
  pipeline::PipelineStatus s = p.status();
  EXPECT_EQ(s.targets[0].state, pipeline::PipelineState::kFenced);
  EXPECT_NE(s.last_error.find("pipeline p target dst: epoch 1 is fenced off"), std::string::npos) << s.last_error;
  EXPECT_NE(s.last_error.find("epoch 2"), std::string::npos) << s.last_error;
  p.Stop();
  auto ids = dst->QueryValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM shop.t");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, "1,2");
}

TEST_F(InDoubtTest, KafkaTargetDoesNotReconnectWhileInDoubt) {
  auto src = StartServer(1);
  ASSERT_TRUE(src);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)").ok());
  auto kafka = KafkaMock::Start();
  ASSERT_TRUE(kafka.ok()) << kafka.status().message();
  ASSERT_TRUE((*kafka)->CreateTopic("shop.t", 1).ok());
  auto config = pipeline::ParseConfig(fmt::format(R"(store: {dir}/sluice.db
sources:
  src: {{url: "{src}", server_id: 4245, heartbeat_ms: 200}}
targets:
  bus: {{url: "{kafka}?message.timeout.ms=2000", exactly_once: true}}
pipelines:
  - name: p
    source: src
    targets: [bus]
    start: "{start}"
    tables:
      - match: "shop.*"
    batch: {{size: 10, timeout_ms: 50}}
)",
                                                  fmt::arg("dir", dir_.string()), fmt::arg("src", src->Url()),
                                                  fmt::arg("kafka", (*kafka)->Url()), fmt::arg("start", BinlogEnd(*src))),
                                      (dir_ / "sluice.yaml").string());
  ASSERT_TRUE(config.ok()) << config.status().message();
  config->pipelines[0].epoch = 3;
  auto store = store::SqliteStore::Open(config->store);
  ASSERT_TRUE(store.ok()) << store.status().message();
  pipeline::MetricsRegistry registry;
  pipeline::PipelineMetrics metrics(registry);
  pipeline::Pipeline p(*config, config->pipelines[0], **store, metrics);
  ASSERT_TRUE(p.Start().ok());
  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (1, 1), (2, 2)").ok());
  ASSERT_TRUE(WaitUntil([&] { return p.status().targets[0].rows_applied == 2; }, std::chrono::seconds(60)))
      << p.status().targets[0].rows_applied << " " << p.status().last_error;

  // In doubt, the brokers gone: the batch times out (retryable), and the
  // target waits for the doubt to end instead of making a new producer.
  p.SetInDoubt(true);
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE((*kafka)->SetBrokerDown(b).ok());
  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (3, 3), (4, 4), (5, 5)").ok());
  ASSERT_TRUE(WaitUntil([&] { return p.status().targets[0].state == pipeline::PipelineState::kPaused; },
                        std::chrono::seconds(60)))
      << pipeline::PipelineStateName(p.status().targets[0].state) << ": " << p.status().targets[0].last_error;
  EXPECT_NE(p.status().targets[0].last_error.find("would take the fence"), std::string::npos)
      << p.status().targets[0].last_error;
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE((*kafka)->SetBrokerUp(b).ok());
  // Brokers back, still in doubt: still paused, nothing more recorded.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(p.status().targets[0].state, pipeline::PipelineState::kPaused);
  EXPECT_EQ(p.status().targets[0].rows_applied, 2u);

  p.SetInDoubt(false);
  ASSERT_TRUE(WaitUntil([&] { return p.status().targets[0].rows_applied == 5; }, std::chrono::seconds(120)))
      << p.status().targets[0].rows_applied << " " << p.status().targets[0].last_error;
  EXPECT_EQ(p.status().targets[0].state, pipeline::PipelineState::kRunning);
  p.Stop();
}

}  // namespace
}  // namespace sluice::testing
