// Pipeline::SetInDoubt (cluster mode, design §10): while the ownership is in
// doubt, a target that cannot check the epoch (a file) writes nothing and
// shows `paused`; once the doubt is resolved it resumes, and every change
// arrives exactly once.
#include <gtest/gtest.h>

#include <fstream>

#include "pipeline/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/sync_fixture.h"
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

}  // namespace
}  // namespace sluice::testing
