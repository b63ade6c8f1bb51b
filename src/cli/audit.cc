// `sluice audit verify PATH`: checks the SHA-256 chain of an audit trail
// (design §11): a directory of daily files or one file. Exit 0 intact,
// 1 broken (naming the first broken line), 2 when PATH cannot be read.

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "server/audit/audit_verify.h"

namespace sluice::cli {
namespace {

int Verify(const std::string& path) {
  Result<server::AuditVerifyReport> report = server::VerifyAudit(path);
  if (!report.ok()) {
    std::fprintf(stderr, "sluice audit verify: error: %s\n", report.status().message().c_str());
    return 2;
  }
  if (!report->ok) {
    std::fprintf(stderr, "sluice audit verify: %s: broken: %s\n", path.c_str(), report->broken.c_str());
    return 1;
  }
  std::printf("%s: intact (%zu line%s in %zu file%s)\n", path.c_str(), report->lines, report->lines == 1 ? "" : "s",
              report->files, report->files == 1 ? "" : "s");
  return 0;
}

}  // namespace

CommandRunner RegisterAudit(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* audit = app.add_subcommand("audit", "The audit trail (audit: path in the configuration)");
  audit->require_subcommand(1);
  CLI::App* verify = audit->add_subcommand(
      "verify", "Check the audit trail's SHA-256 chain; exit 0 intact, 1 naming the first broken line");
  verify->add_option("PATH", *path, "The audit directory, or one audit-YYYY-MM-DD.jsonl file")->required();
  return [path] { return Verify(*path); };
}

}  // namespace sluice::cli
