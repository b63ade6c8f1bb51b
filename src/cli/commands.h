#pragma once
// Subcommands of the sluice binary. Each registers its options on the CLI11
// app and returns the callback that runs it with the process exit status.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "pipeline/snapshot.h"

namespace sluice::cli {

using CommandRunner = std::function<int()>;

// `sluice tail`: prints committed row changes as JSON lines.
CommandRunner RegisterTail(CLI::App& app);

// `sluice run -c FILE`: runs the config's pipelines until SIGINT/SIGTERM.
CommandRunner RegisterRun(CLI::App& app);

// `sluice validate -c FILE`: run's checks before running, without running.
CommandRunner RegisterValidate(CLI::App& app);

// `sluice node -c node.yaml`: a cluster node; runs the pipelines it owns.
CommandRunner RegisterNode(CLI::App& app);

// `sluice snapshot -c FILE --pipeline NAME [--where EXPR]`: copies existing rows.
CommandRunner RegisterSnapshot(CLI::App& app);

// `sluice manager -c cluster.yaml`: the cluster's configuration and API (design §10).
CommandRunner RegisterManager(CLI::App& app);

// `sluice passwd`: a password from stdin -> its argon2id hash on stdout.
CommandRunner RegisterPasswd(CLI::App& app);

// `sluice audit verify PATH`: checks the audit trail's chain.
CommandRunner RegisterAudit(CLI::App& app);

// `sluice flashback --source URL --start POS --stop POS|--until TIME [--print|--apply URL]`:
// undoes a range of row changes, newest first (design §13).
CommandRunner RegisterFlashback(CLI::App& app);

// One progress line of a snapshot's table (exposed for tests).
std::string FormatSnapshotProgressLine(const pipeline::SnapshotTableProgress& t);

// `sluice check -c FILE [--pipeline NAME] [--repair] [--format text|json]`:
// compares source and target tables; exit 0 consistent, 1 differences, 2 error.
CommandRunner RegisterCheck(CLI::App& app);

}  // namespace sluice::cli
