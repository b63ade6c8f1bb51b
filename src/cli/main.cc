// sluice: real-time database synchronization. Entry point and subcommand dispatch.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Logs go to stderr: stdout carries data (tail's JSON lines).
  spdlog::set_default_logger(spdlog::stderr_color_mt("sluice"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"sluice: real-time MySQL/MariaDB change capture and synchronization"};
  app.set_version_flag("--version", std::string("sluice 0.1.0"));
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "Log level: trace, debug, info, warn, error, off (before or after the command)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  // Subcommands made from here on pass options they do not know to this
  // app, so `sluice run -c f --log-level debug` works as well as
  // `sluice --log-level debug run -c f`.
  app.fallthrough();

  sluice::cli::CommandRunner tail = sluice::cli::RegisterTail(app);
  sluice::cli::CommandRunner run = sluice::cli::RegisterRun(app);
  sluice::cli::CommandRunner snapshot = sluice::cli::RegisterSnapshot(app);
  sluice::cli::CommandRunner check = sluice::cli::RegisterCheck(app);
  sluice::cli::CommandRunner validate = sluice::cli::RegisterValidate(app);
  sluice::cli::CommandRunner manager = sluice::cli::RegisterManager(app);
  sluice::cli::CommandRunner node = sluice::cli::RegisterNode(app);
  sluice::cli::CommandRunner passwd = sluice::cli::RegisterPasswd(app);
  sluice::cli::CommandRunner audit = sluice::cli::RegisterAudit(app);
  sluice::cli::CommandRunner flashback = sluice::cli::RegisterFlashback(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (app.got_subcommand("tail")) return tail();
  if (app.got_subcommand("run")) return run();
  if (app.got_subcommand("snapshot")) return snapshot();
  if (app.got_subcommand("check")) return check();
  if (app.got_subcommand("validate")) return validate();
  if (app.got_subcommand("manager")) return manager();
  if (app.got_subcommand("node")) return node();
  if (app.got_subcommand("passwd")) return passwd();
  if (app.got_subcommand("audit")) return audit();
  if (app.got_subcommand("flashback")) return flashback();
  return 2;
}
