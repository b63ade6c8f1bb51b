#pragma once
// The manager's configuration revisions (design §10): validation, numbering,
// publishing and history, without ZooKeeper (the manager hands it a
// publisher that calls Coordinator::PublishConfig and waits for the answer).
//
// Rules:
// - A text becomes a revision only once it validates exactly as `sluice run`
//   validates its file (pipeline::ParseConfig, file:line:key messages naming
//   the manager's cluster.yaml).
// - Only the leading manager makes revisions, and a revision exists once it
//   is published: the next number is above every revision recorded here and
//   every one seen published; it is published first, recorded second (a
//   refused publish records nothing). A text equal to the current revision
//   makes none (PUT is idempotent).
// - Every manager records the revisions it sees published (SawPublished),
//   so a follower that takes over continues the numbering and the history.
// - The file the manager was started with becomes a revision when this
//   manager first leads, if it differs from the current revision and either
//   no revision exists yet (the first start) or the file changed since this
//   manager last read it (a note in the store). So a restart with an
//   unchanged file keeps what PUT or rollback made since, and a manager
//   that never read this file before (a second manager, a new store) does
//   not roll the cluster back with an old copy; an edited file is applied.
//
// Thread-safe: one mutex serialises every change (publishing included: a
// publish waits for ZooKeeper's answer, bounded by the publisher).

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/config.h"
#include "store/config_revisions.h"

namespace sluice::cluster {

struct CurrentConfig {
  int64_t revision = 0;  // 0: nothing recorded yet (the parsed file stands in)
  std::string yaml;
  std::shared_ptr<const pipeline::Config> config;  // `yaml` parsed
};

struct ChangeResult {
  store::ConfigRevision revision;  // the current revision after the call (yaml included)
  bool created = false;            // false: the text equalled the current revision
};

class ConfigKeeper {
 public:
  // Publishes (revision, yaml) and returns once ZooKeeper accepted or
  // refused it. A refusal because a newer revision is published is
  // kAborted; an unreachable ensemble a retryable error.
  using Publisher = std::function<Status(int64_t revision, const std::string& yaml)>;

  // `config_path` names the manager's file in messages and anchors relative
  // paths; `file_yaml` is its text as read at start, already validated.
  ConfigKeeper(store::ConfigRevisions& store, std::string config_path, std::string file_yaml, Publisher publish);

  // Refuses texts whose `cluster: {name}` names another cluster (the one
  // this manager serves and publishes into cannot change under it).
  void RequireClusterName(std::string name) { cluster_name_ = std::move(name); }

  const std::string& config_path() const { return config_path_; }

  // Validates `yaml`; Invalid with the loader's message when it does not.
  [[nodiscard]] Result<std::shared_ptr<const pipeline::Config>> Validate(const std::string& yaml) const;

  // Leader only: a new revision with `yaml` (validated), published.
  [[nodiscard]] Result<ChangeResult> Put(const std::string& yaml, const std::string& author, const std::string& comment);
  // Leader only: a new revision with revision `number`'s text. NotFound when
  // this manager has no such revision.
  [[nodiscard]] Result<ChangeResult> Rollback(int64_t number, const std::string& author, const std::string& comment);

  // On becoming the leader: the file rule above, then publishes the current
  // revision when ZooKeeper has an older one (or none). Returns what it did,
  // for the log.
  [[nodiscard]] Result<std::string> TakeOver();

  // A revision seen published in ZooKeeper (any manager may call it; the
  // leader's own publications come back this way too). Records it when new.
  [[nodiscard]] Status SawPublished(int64_t revision, const std::string& yaml);

  // The current revision: the highest recorded; the file's text as revision
  // 0 while none is.
  [[nodiscard]] Result<CurrentConfig> Current();
  int64_t published() const;  // the highest revision known published, 0 when none

  store::ConfigRevisions& store() { return store_; }

 private:
  Result<ChangeResult> Change(const std::string& yaml, std::shared_ptr<const pipeline::Config> parsed,
                              const std::string& author, const std::string& comment);
  Result<CurrentConfig> CurrentLocked();

  store::ConfigRevisions& store_;
  const std::string config_path_;
  const std::string file_yaml_;
  const Publisher publish_;
  std::string cluster_name_;  // "" accepts any
  mutable std::mutex mu_;
  int64_t published_ = 0;  // under mu_
  bool file_checked_ = false;  // under mu_: TakeOver applied the file rule once
  CurrentConfig current_;      // under mu_: cache of CurrentLocked()
};

// The note key holding the text of the file the manager last read.
inline constexpr const char* kFileNoteKey = "file_yaml";

}  // namespace sluice::cluster
