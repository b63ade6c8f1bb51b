// `sluice check -c FILE [--pipeline NAME] [--repair] [--format text|json]`:
// compares the source and target tables of pipelines (pipeline/check.h) and
// prints every differing key; with --repair, makes the targets equal.
// Exit status: 0 consistent (or repaired), 1 differences found and not
// repaired, 2 error (one line on stderr naming pipeline, target and table).

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "core/json_writer.h"
#include "pipeline/check.h"
#include "pipeline/config.h"

namespace sluice::cli {
namespace {

std::atomic<bool> g_cancel_check{false};
void OnCheckSignal(int) { g_cancel_check.store(true); }

struct CheckArgs {
  std::string config;
  std::string pipeline;
  std::string format = "text";
  bool repair = false;
  double wait_seconds = 30;
  uint32_t parallel = 0;
  uint64_t chunk_rows = 0;
};

struct Outcome {
  const pipeline::PipelineConfig* pipeline;
  pipeline::CheckReport report;
};

std::string TablePrefix(const pipeline::TargetCheckReport& t, const pipeline::TableCheckReport& tb) {
  return fmt::format("pipeline {} target {} table {} -> {}", t.pipeline, t.target, tb.source, tb.target);
}

void PrintText(const std::vector<Outcome>& outcomes, double wait_seconds) {
  uint64_t found = 0, remaining = 0, repaired_rows = 0, not_checked = 0;
  bool repair_ran = false;
  for (const Outcome& o : outcomes) {
    found += o.report.differences();
    remaining += o.report.remaining();
    repaired_rows += o.report.repaired_rows();
    for (const auto& t : o.report.targets) {
      repair_ran |= t.repair_ran;
      for (const auto& tb : t.tables) {
        std::string prefix = TablePrefix(t, tb);
        if (!tb.error.empty()) {
          std::printf("%s: error: %s\n", prefix.c_str(), tb.error.c_str());
          ++not_checked;
          continue;
        }
        if (!tb.note.empty()) std::printf("%s: note: %s\n", prefix.c_str(), tb.note.c_str());
        for (const auto& d : tb.diffs) {
          std::printf("%s: %s %s\n", prefix.c_str(), pipeline::DiffKindName(d.kind), d.key_text.c_str());
        }
        if (tb.keys_truncated) {
          std::printf("%s: ... (%llu differences in all; only the first are listed)\n", prefix.c_str(),
                      static_cast<unsigned long long>(tb.differences()));
        }
        for (const auto& d : tb.remaining_diffs) {
          std::printf("%s: still %s after repair %s\n", prefix.c_str(), pipeline::DiffKindName(d.kind),
                      d.key_text.c_str());
        }
        std::string summary = fmt::format("{}: {} rows in {} chunks, {} missing, {} extra, {} different", prefix,
                                          tb.rows, tb.chunks, tb.missing, tb.extra, tb.different);
        if (t.repair_ran && tb.differences() > 0) {
          summary += fmt::format(", {} rows repaired", tb.repaired_rows);
          if (tb.remaining > 0) summary += fmt::format(", {} differences remain", tb.remaining);
        }
        std::printf("%s\n", summary.c_str());
      }
      if (t.in_flight > 0) {
        std::printf(
            "pipeline %s target %s: %llu differences were changes in flight (gone once the pipeline applied "
            "past %s)\n",
            t.pipeline.c_str(), t.target.c_str(), static_cast<unsigned long long>(t.in_flight),
            t.source_position.c_str());
      }
      if (t.stalled) {
        std::printf(
            "pipeline %s target %s: the pipeline's applied position stood still at %s (source at %s): is `sluice "
            "run` running? Some differences may still be in flight\n",
            t.pipeline.c_str(), t.target.c_str(), t.applied_position.empty() ? "nothing" : t.applied_position.c_str(),
            t.source_position.c_str());
      } else if (!t.caught_up) {
        std::printf(
            "pipeline %s target %s: the pipeline had not caught up with the source after %g s (applied %s, "
            "source at %s): some differences may still be in flight\n",
            t.pipeline.c_str(), t.target.c_str(), wait_seconds,
            t.applied_position.empty() ? "nothing" : t.applied_position.c_str(), t.source_position.c_str());
      }
    }
  }
  if (not_checked > 0) {
    std::printf("%llu differences, %llu tables not checked (errors above)\n", static_cast<unsigned long long>(found),
                static_cast<unsigned long long>(not_checked));
  } else if (found == 0) {
    std::printf("consistent\n");
  } else if (repair_ran && remaining == 0) {
    std::printf("repaired %llu differences\n", static_cast<unsigned long long>(found));
  } else if (repair_ran) {
    std::printf("%llu differences, %llu remain after repair (%llu rows written)\n",
                static_cast<unsigned long long>(found), static_cast<unsigned long long>(remaining),
                static_cast<unsigned long long>(repaired_rows));
  } else {
    std::printf("%llu differences\n", static_cast<unsigned long long>(found));
  }
}

void AppendKeys(std::string& out, const char* name, const std::vector<pipeline::RowDiff>& diffs,
                pipeline::DiffKind kind) {
  out += ",\"";
  out += name;
  out += "\":[";
  bool first = true;
  for (const auto& d : diffs) {
    if (d.kind != kind) continue;
    if (!first) out += ',';
    first = false;
    out += d.key_json;
  }
  out += ']';
}

void PrintJson(const std::vector<Outcome>& outcomes, bool repair_requested) {
  bool consistent = true, repaired = true, any_repair = false;
  uint64_t repaired_rows = 0, found = 0;
  for (const Outcome& o : outcomes) {
    consistent &= o.report.consistent();
    found += o.report.differences();
    repaired_rows += o.report.repaired_rows();
    for (const auto& t : o.report.targets) any_repair |= t.repair_ran;
    if (o.report.differences() > 0 && !o.report.repaired()) repaired = false;
    if (o.report.has_errors()) repaired = false;
  }
  repaired = repaired && any_repair && found > 0;
  std::string out = "{\"consistent\":";
  out += consistent ? "true" : "false";
  out += ",\"repaired\":";
  out += repaired ? "true" : "false";
  if (repair_requested) out += fmt::format(",\"repaired_rows\":{}", repaired_rows);
  out += ",\"pipelines\":[";
  bool first_target = true;
  using pipeline::DiffKind;
  for (const Outcome& o : outcomes) {
    for (const auto& t : o.report.targets) {
      if (!first_target) out += ',';
      first_target = false;
      out += "{\"name\":";
      AppendJsonString(out, t.pipeline);
      out += ",\"target\":";
      AppendJsonString(out, t.target);
      out += ",\"caught_up\":";
      out += t.caught_up ? "true" : "false";
      out += ",\"stalled\":";
      out += t.stalled ? "true" : "false";
      out += fmt::format(",\"in_flight\":{}", t.in_flight);
      out += ",\"tables\":[";
      for (size_t i = 0; i < t.tables.size(); ++i) {
        const auto& tb = t.tables[i];
        if (i) out += ',';
        out += "{\"source\":";
        AppendJsonString(out, tb.source);
        out += ",\"target\":";
        AppendJsonString(out, tb.target);
        out += fmt::format(",\"rows\":{},\"chunks\":{}", tb.rows, tb.chunks);
        AppendKeys(out, "missing", tb.diffs, DiffKind::kMissing);
        AppendKeys(out, "extra", tb.diffs, DiffKind::kExtra);
        AppendKeys(out, "different", tb.diffs, DiffKind::kDifferent);
        out += fmt::format(",\"counts\":{{\"missing\":{},\"extra\":{},\"different\":{}}}", tb.missing, tb.extra,
                           tb.different);
        if (tb.keys_truncated) out += ",\"keys_truncated\":true";
        if (t.repair_ran) {
          out += fmt::format(",\"repaired_rows\":{},\"remaining\":[", tb.repaired_rows);
          for (size_t k = 0; k < tb.remaining_diffs.size(); ++k) {
            if (k) out += ',';
            out += "{\"kind\":\"";
            out += pipeline::DiffKindName(tb.remaining_diffs[k].kind);
            out += "\",\"key\":";
            out += tb.remaining_diffs[k].key_json;
            out += '}';
          }
          out += ']';
        }
        if (!tb.error.empty()) {
          out += ",\"error\":";
          AppendJsonString(out, tb.error);
        }
        if (!tb.note.empty()) {
          out += ",\"note\":";
          AppendJsonString(out, tb.note);
        }
        out += '}';
      }
      out += "]}";
    }
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

// Points file descriptor 1 at stderr for its lifetime.
class StdoutToStderr {
 public:
  StdoutToStderr() {
    std::fflush(stdout);
    saved_ = ::dup(STDOUT_FILENO);
    if (saved_ >= 0) ::dup2(STDERR_FILENO, STDOUT_FILENO);
  }
  ~StdoutToStderr() {
    std::fflush(stdout);
    if (saved_ < 0) return;
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
  }
  StdoutToStderr(const StdoutToStderr&) = delete;
  StdoutToStderr& operator=(const StdoutToStderr&) = delete;

 private:
  int saved_ = -1;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "sluice check: error: %s\n", message.c_str());
  return 2;
}

int RunCheckCommand(const CheckArgs& args) {
  std::signal(SIGINT, OnCheckSignal);
  std::signal(SIGTERM, OnCheckSignal);
  std::signal(SIGPIPE, SIG_IGN);
  auto config = pipeline::LoadConfig(args.config);
  if (!config.ok()) return Fail(config.status().message());
  std::vector<const pipeline::PipelineConfig*> selected;
  if (!args.pipeline.empty()) {
    const pipeline::PipelineConfig* p = config->FindPipeline(args.pipeline);
    if (p == nullptr) {
      std::string names;
      for (const auto& q : config->pipelines) names += (names.empty() ? "" : ", ") + q.name;
      return Fail(fmt::format("{}: no pipeline named \"{}\" (pipelines: {})", args.config, args.pipeline, names));
    }
    selected.push_back(p);
  } else {
    for (const auto& p : config->pipelines) selected.push_back(&p);
  }

  pipeline::CheckOptions options;
  options.repair = args.repair;
  options.wait = std::chrono::milliseconds(static_cast<int64_t>(args.wait_seconds * 1000));
  options.parallel = args.parallel;
  options.chunk_rows = args.chunk_rows;
  std::vector<Outcome> outcomes;
  {
    // The report is all there is on stdout (scripts parse it): anything a
    // library prints there while the check runs goes to stderr instead.
    StdoutToStderr guard;
    for (const pipeline::PipelineConfig* p : selected) {
      // On a thread of its own: a signal then also cuts the connections it
      // may be blocked on (a hung server) instead of waiting out a timeout.
      mysql::Interrupter interrupter;
      options.interrupter = &interrupter;
      std::atomic<bool> done{false};
      Result<pipeline::CheckReport> report = Status::Error(StatusCode::kCancelled, "cancelled");
      std::thread worker([&] {
        report = pipeline::RunCheck(*config, *p, options, &g_cancel_check);
        done = true;
      });
      while (!done) {
        if (g_cancel_check) interrupter.Interrupt();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      worker.join();
      options.interrupter = nullptr;
      if (!report.ok()) return Fail(report.status().message());
      outcomes.push_back({p, std::move(report).value()});
    }
  }

  if (args.format == "json") {
    PrintJson(outcomes, args.repair);
  } else {
    PrintText(outcomes, args.wait_seconds);
  }
  std::fflush(stdout);

  bool errors = false, unresolved = false;
  for (const Outcome& o : outcomes) {
    for (const auto& t : o.report.targets) {
      for (const auto& tb : t.tables) {
        if (tb.error.empty()) continue;
        errors = true;
        std::fprintf(stderr, "sluice check: error: %s: %s\n", TablePrefix(t, tb).c_str(), tb.error.c_str());
      }
    }
    unresolved |= o.report.remaining() > 0;
  }
  if (errors) return 2;
  return unresolved ? 1 : 0;
}

}  // namespace

CommandRunner RegisterCheck(CLI::App& app) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "check", "Compare each pipeline's source tables with its target tables, in chunks; print the differing keys");
  cmd->add_option("-c,--config", args->config, "Configuration file (YAML, see README)")->required();
  cmd->add_option("--pipeline", args->pipeline, "Check only this pipeline (default: every pipeline)");
  cmd->add_flag("--repair", args->repair,
                "Make the targets equal: upsert missing and different rows from the source, delete extra rows");
  cmd->add_option("--format", args->format, "Output: text (one line per difference) or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--wait-seconds", args->wait_seconds,
                  "How long to wait for a running pipeline to apply past the source position before differences "
                  "count")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--parallel", args->parallel, "Workers per target (default: the pipeline's `parallel`)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--chunk-rows", args->chunk_rows, "Rows per checksum chunk (default: the pipeline's `chunk_rows`)")
      ->check(CLI::Range(1, 10'000'000));
  return [args] { return RunCheckCommand(*args); };
}

}  // namespace sluice::cli
