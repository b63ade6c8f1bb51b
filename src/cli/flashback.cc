// `sluice flashback`: the SQL that undoes a range of a binlog's row changes,
// printed or applied (design section 13; the job is jobs/flashback).

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>

#include "cli/commands.h"
#include "jobs/flashback/flashback.h"

namespace sluice::cli {
namespace {

struct FlashbackCliOptions {
  jobs::flashback::Options job;
  bool print = false;
};

int RunFlashback(const FlashbackCliOptions& o) {
  if (spdlog::get_level() == spdlog::level::info) spdlog::set_level(spdlog::level::warn);
  std::signal(SIGPIPE, SIG_IGN);
  jobs::flashback::Report report;
  Status st = jobs::flashback::Run(o.job, stdout, &report);
  for (const std::string& ddl : report.ddl) {
    std::fprintf(stderr, "sluice flashback: warning: DDL inside the range is not undone: %s\n", ddl.c_str());
  }
  for (const std::string& key : report.cascades) {
    std::fprintf(stderr, "sluice flashback: warning: %s\n", key.c_str());
  }
  if (!st.ok()) {
    std::string msg = st.message();
    for (char& c : msg) {
      if (c == '\n') c = ' ';
    }
    std::fprintf(stderr, "sluice flashback: error: %s\n", msg.c_str());
    return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (report.transactions == 0) {
    std::fprintf(stderr, "sluice flashback: no row changes in the range\n");
  } else if (!o.job.apply.empty()) {
    std::fprintf(stderr, "sluice flashback: undid %zu transactions (%zu row changes)\n", report.transactions,
                 report.rows);
  }
  return 0;
}

}  // namespace

CommandRunner RegisterFlashback(CLI::App& app) {
  auto opts = std::make_shared<FlashbackCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "flashback", "Undo a range of row changes (an accidental UPDATE or DELETE), newest first, as SQL or applied");
  jobs::flashback::Options& j = opts->job;
  cmd->add_option("--source,-s", j.source,
                  "Binlog to read: mysql://USER:PASSWORD@HOST:PORT (also mariadb://) or file:///PATH/binlog.000001")
      ->required();
  cmd->add_option("--start", j.start,
                  "Start of the range: FILE:POS (inclusive, at a transaction boundary) or a GTID (exclusive, as "
                  "mariadb-binlog: 0-1-42 or UUID:42)")
      ->required();
  cmd->add_option("--stop", j.stop, "End of the range: FILE:POS (exclusive) or a GTID (inclusive)");
  cmd->add_option("--until", j.until,
                  "End of the range: the last commit time to undo, UTC, inclusive (YYYY-MM-DD HH:MM:SS)");
  cmd->add_option("--tables,-t", j.tables, "Only tables matching DB.TABLE glob patterns ('*', '?'); repeatable");
  auto* print = cmd->add_flag("--print", opts->print, "Print the undo SQL on stdout (the default)");
  cmd->add_option("--apply", j.apply,
                  "Apply the undo to this server (mysql://...), one transaction per source transaction")
      ->excludes(print);
  cmd->add_flag("--force", j.force,
                "Undo even rows that changed again after the range (else refused), and print from binlog files "
                "without that check");
  cmd->add_option("--server-id", j.server_id, "Replica server_id for a mysql:// source (default: random)");
  cmd->add_flag("--no-verify-checksum", [opts](int64_t) { opts->job.verify_checksums = false; },
                "Do not verify binlog event CRC32 checksums");
  return [opts] { return RunFlashback(*opts); };
}

}  // namespace sluice::cli
