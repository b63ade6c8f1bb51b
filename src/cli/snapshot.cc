// `sluice snapshot -c FILE --pipeline NAME [--where EXPR]`: copies the rows
// a pipeline's tables already hold into its targets (pipeline/snapshot.h),
// with a progress bar per table on stderr. Ctrl-C stops after the chunks in
// flight; running the command again resumes.

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "cli/commands.h"
#include "pipeline/config.h"
#include "pipeline/controller.h"
#include "server/http_api.h"
#include "pipeline/metrics.h"
#include "pipeline/pg_source.h"
#include "pipeline/schema_history_start.h"
#include "pipeline/snapshot.h"
#include "store/sqlite_store.h"

namespace sluice::cli {
namespace {

std::atomic<bool> g_stop_snapshot{false};
void OnSnapshotSignal(int) { g_stop_snapshot.store(true); }

std::string Grouped(uint64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string Duration(double seconds) {
  if (seconds < 0) return "--:--";
  auto s = static_cast<uint64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

std::string FormatSnapshotProgressLine(const pipeline::SnapshotTableProgress& t) {
  constexpr int kWidth = 24;
  double fraction = t.chunks_total == 0 ? 1.0
                                        : (t.rows_estimate > 0 ? static_cast<double>(t.rows_copied) / t.rows_estimate
                                                               : static_cast<double>(t.chunks_done) / t.chunks_total);
  if (t.finished) fraction = 1.0;
  fraction = std::min(1.0, std::max(0.0, fraction));
  int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '#');
  bar += std::string(kWidth - filled, '-');
  return fmt::format("{} -> {} [{}] {:3.0f}% {}/{} rows, chunk {}/{}, {} rows/s, ETA {}", t.source, t.target, bar,
                     fraction * 100, Grouped(t.rows_copied), Grouped(t.rows_estimate), t.chunks_done, t.chunks_total,
                     Grouped(static_cast<uint64_t>(t.rows_per_second)), t.finished ? "done" : Duration(t.eta_seconds));
}

namespace {

// `--http ADDR`: the snapshot's progress on the status API and /metrics, in
// the same shape `sluice run` gives a pipeline that snapshots (read-only).
class SnapshotStatusController : public pipeline::PipelineController {
 public:
  SnapshotStatusController(const pipeline::Snapshot& snapshot, std::string name)
      : snapshot_(snapshot), name_(std::move(name)) {}
  std::vector<pipeline::PipelineStatus> ListPipelines() const override { return {Status()}; }
  Result<pipeline::PipelineStatus> GetPipeline(const std::string& name) const override {
    if (name != name_) return sluice::Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\"", name);
    return Status();
  }
  sluice::Status StopPipeline(const std::string&) override { return ReadOnly(); }
  sluice::Status StartPipeline(const std::string&) override { return ReadOnly(); }
  sluice::Status SetPosition(const std::string&, const std::string&) override { return ReadOnly(); }

 private:
  static sluice::Status ReadOnly() {
    return sluice::Status::Error(StatusCode::kNotSupported,
                                 "this is `sluice snapshot` (status only); stop it with Ctrl-C, it resumes");
  }
  pipeline::PipelineStatus Status() const {
    pipeline::PipelineStatus s;
    s.name = name_;
    s.has_snapshot = true;
    s.snapshot = snapshot_.progress();
    const std::string& phase = s.snapshot.phase;
    s.state = phase == "failed"                        ? pipeline::PipelineState::kFailed
              : phase == "done" || phase == "cancelled" ? pipeline::PipelineState::kStopped
                                                        : pipeline::PipelineState::kSnapshotting;
    s.last_error = s.snapshot.error;
    s.rows_applied = s.snapshot.rows_copied;
    return s;
  }
  const pipeline::Snapshot& snapshot_;
  std::string name_;
};

int RunSnapshot(const std::string& config_path, const std::string& pipeline_name, const std::string& where,
                uint32_t parallel, const std::string& progress_mode, const std::string& http_address) {
  std::signal(SIGINT, OnSnapshotSignal);
  std::signal(SIGTERM, OnSnapshotSignal);
  std::signal(SIGPIPE, SIG_IGN);
  auto config = pipeline::LoadConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "sluice snapshot: error: %s\n", config.status().message().c_str());
    return 2;
  }
  const pipeline::PipelineConfig* p = config->FindPipeline(pipeline_name);
  if (p == nullptr) {
    std::string names;
    for (const auto& q : config->pipelines) names += (names.empty() ? "" : ", ") + q.name;
    std::fprintf(stderr, "sluice snapshot: error: no pipeline named \"%s\" in %s (defined: %s)\n",
                 pipeline_name.c_str(), config_path.c_str(), names.c_str());
    return 2;
  }
  pipeline::SnapshotOptions options;
  options.where_sql = where;
  options.parallel = parallel;
  // The stream `sluice run` starts where this copy began decodes rows written
  // before an ALTER made meanwhile with their shape (binlogs without column
  // names): the tables' shapes there go into the pipeline's schema history,
  // as `sluice run`'s own initial snapshot records them.
  std::unique_ptr<store::SqliteStore> store;
  const pipeline::SourceConfig* source = config->FindSource(p->source);
  if (source != nullptr && !pipeline::IsPostgresSource(*source) && source->endpoint.scheme != "file" &&
      config->store.find("://") == std::string::npos) {
    auto opened = store::SqliteStore::Open(config->store);
    if (opened.ok()) {
      store = std::move(*opened);
    } else {
      spdlog::warn("pipeline {}: store {} not opened ({}): the tables' shapes where the copy starts are not "
                   "recorded",
                   p->name, config->store, opened.status().message());
    }
  }
  if (store) {
    options.at_start = [&store, p, source](const std::string& p0) {
      pipeline::StoreSettings settings(*store, p->name);
      Status st = pipeline::RecordTableShapes(settings, *p, *source, p0);
      if (!st.ok()) {
        spdlog::warn("pipeline {}: the tables' shapes at {} were not recorded ({}): the stream reads them when it "
                     "gets there",
                     p->name, p0, st.message());
      }
    };
  }
  pipeline::Snapshot snapshot(*config, *p, options);
  SnapshotStatusController controller(snapshot, p->name);
  pipeline::MetricsRegistry registry;
  server::RegisterStatusMetrics(registry, controller);
  server::HttpApi http(controller, registry);
  if (!http_address.empty()) {
    Status st = http.Start(http_address);
    if (!st.ok()) {
      std::fprintf(stderr, "sluice snapshot: error: %s\n", st.message().c_str());
      return 2;
    }
  }

  Status result = Status::Ok();
  std::atomic<bool> finished{false};
  std::thread worker([&] {
    result = snapshot.Run();
    finished = true;
  });
  bool tty = progress_mode == "bar" || (progress_mode == "auto" && isatty(STDERR_FILENO));
  bool quiet = progress_mode == "none";
  size_t drawn = 0;
  auto last_plain = std::chrono::steady_clock::now();
  auto draw = [&](bool final_draw) {
    pipeline::SnapshotProgress pr = snapshot.progress();
    if (quiet || pr.phase == "planning" || pr.phase == "idle") return;
    if (tty) {
      std::string out;
      if (drawn > 0) out += fmt::format("\x1b[{}A", drawn);
      for (const auto& t : pr.tables) out += "\r\x1b[2K" + FormatSnapshotProgressLine(t) + "\n";
      std::fputs(out.c_str(), stderr);
      drawn = pr.tables.size();
    } else if (final_draw || std::chrono::steady_clock::now() - last_plain > std::chrono::seconds(5)) {
      last_plain = std::chrono::steady_clock::now();
      for (const auto& t : pr.tables) std::fprintf(stderr, "%s\n", FormatSnapshotProgressLine(t).c_str());
    }
  };
  while (!finished) {
    if (g_stop_snapshot) snapshot.Cancel();
    draw(false);
    for (int i = 0; i < 5 && !finished; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  worker.join();
  http.Stop();
  draw(true);
  pipeline::SnapshotProgress pr = snapshot.progress();
  if (result.code() == StatusCode::kCancelled) {
    std::fprintf(stderr, "sluice snapshot: stopped; %s rows copied. Run the same command again to resume.\n",
                 Grouped(pr.rows_copied).c_str());
    return 130;
  }
  if (!result.ok()) {
    std::fprintf(stderr, "sluice snapshot: error: %s\n", result.message().c_str());
    return result.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::fprintf(stderr, "sluice snapshot: pipeline %s: %s rows in %zu table(s) copied; streaming starts at %s\n",
               p->name.c_str(), Grouped(pr.rows_copied).c_str(), pr.tables.size(), pr.start_position.c_str());
  return 0;
}

}  // namespace

CommandRunner RegisterSnapshot(CLI::App& app) {
  struct Args {
    std::string config, pipeline, where, progress = "auto", http;
    uint32_t parallel = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "snapshot", "Copy the rows a pipeline's tables already hold into its targets (online, chunked, resumable)");
  cmd->add_option("-c,--config", args->config, "Configuration file (YAML, see README)")->required();
  cmd->add_option("--pipeline", args->pipeline, "The pipeline whose tables to copy")->required();
  cmd->add_option("--where", args->where,
                  "SQL condition on the source rows (a shard, e.g. \"id >= 0 AND id < 1000000\"); ANDed with each "
                  "table's snapshot_where");
  cmd->add_option("--parallel", args->parallel, "Chunks copied at once (default: the pipeline's parallel)")
      ->check(CLI::Range(1u, 64u));
  cmd->add_option("--progress", args->progress, "Progress display: auto, bar, plain, none")
      ->check(CLI::IsMember({"auto", "bar", "plain", "none"}))
      ->capture_default_str();
  cmd->add_option("--http", args->http,
                  "Serve the progress on the status API and /metrics at this address (e.g. 127.0.0.1:8701) while "
                  "copying");
  return [args] {
    return RunSnapshot(args->config, args->pipeline, args->where, args->parallel, args->progress, args->http);
  };
}

}  // namespace sluice::cli
