#include "cluster/config_keeper.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::cluster {

ConfigKeeper::ConfigKeeper(store::ConfigRevisions& store, std::string config_path, std::string file_yaml,
                           Publisher publish)
    : store_(store), config_path_(std::move(config_path)), file_yaml_(std::move(file_yaml)),
      publish_(std::move(publish)) {}

Result<std::shared_ptr<const pipeline::Config>> ConfigKeeper::Validate(const std::string& yaml) const {
  ASSIGN_OR_RETURN(pipeline::Config parsed, pipeline::ParseConfig(yaml, config_path_));
  if (!cluster_name_.empty() && parsed.cluster && parsed.cluster->name != cluster_name_) {
    return Status::Invalid("{}", pipeline::FormatConfigError(
                                     parsed.cluster->mark, "cluster.name",
                                     fmt::format("\"{}\" is not the cluster this manager serves (\"{}\"); start "
                                                 "a manager with that cluster's file instead",
                                                 parsed.cluster->name, cluster_name_)));
  }
  return std::shared_ptr<const pipeline::Config>(std::make_shared<pipeline::Config>(std::move(parsed)));
}

int64_t ConfigKeeper::published() const {
  std::lock_guard lock(mu_);
  return published_;
}

Result<CurrentConfig> ConfigKeeper::Current() {
  std::lock_guard lock(mu_);
  return CurrentLocked();
}

Result<CurrentConfig> ConfigKeeper::CurrentLocked() {
  ASSIGN_OR_RETURN(std::optional<store::ConfigRevision> latest, store_.Latest());
  const int64_t revision = latest ? latest->revision : 0;
  if (current_.config && current_.revision == revision) return current_;
  const std::string& yaml = latest ? latest->yaml : file_yaml_;
  Result<std::shared_ptr<const pipeline::Config>> parsed = Validate(yaml);
  if (!parsed.ok()) {
    // A revision another manager published that this one cannot read (a
    // newer sluice, say): keep serving the last one it could.
    if (current_.config) {
      spdlog::error("manager: revision {} does not validate here, serving revision {}: {}", revision,
                    current_.revision, parsed.status().message());
      return current_;
    }
    return parsed.status().WithContext(fmt::format("revision {}", revision));
  }
  current_ = CurrentConfig{revision, yaml, std::move(*parsed)};
  return current_;
}

Result<ChangeResult> ConfigKeeper::Put(const std::string& yaml, const std::string& author,
                                       const std::string& comment) {
  ASSIGN_OR_RETURN(std::shared_ptr<const pipeline::Config> parsed, Validate(yaml));
  std::lock_guard lock(mu_);
  return Change(yaml, std::move(parsed), author, comment);
}

Result<ChangeResult> ConfigKeeper::Rollback(int64_t number, const std::string& author, const std::string& comment) {
  ASSIGN_OR_RETURN(std::optional<store::ConfigRevision> old, store_.Get(number));
  if (!old) return Status::Error(StatusCode::kNotFound, "no configuration revision {}", number);
  // Revalidated: an old revision may name what this sluice no longer accepts.
  ASSIGN_OR_RETURN(std::shared_ptr<const pipeline::Config> parsed, Validate(old->yaml));
  std::lock_guard lock(mu_);
  return Change(old->yaml, std::move(parsed), author,
                comment.empty() ? fmt::format("rollback to revision {}", number) : comment);
}

Result<ChangeResult> ConfigKeeper::Change(const std::string& yaml, std::shared_ptr<const pipeline::Config> parsed,
                                          const std::string& author, const std::string& comment) {
  ASSIGN_OR_RETURN(std::optional<store::ConfigRevision> latest, store_.Latest());
  if (latest && latest->yaml == yaml) return ChangeResult{*latest, false};
  store::ConfigRevision next;
  next.revision = std::max(latest ? latest->revision : 0, published_) + 1;
  next.yaml = yaml;
  next.author = author;
  next.comment = comment;
  // Published first: a revision the ensemble refused must not appear in the
  // history (another manager may publish that number with another text).
  RETURN_IF_ERROR(publish_(next.revision, yaml));
  published_ = std::max(published_, next.revision);
  RETURN_IF_ERROR(store_.Record(next));
  ASSIGN_OR_RETURN(std::optional<store::ConfigRevision> recorded, store_.Get(next.revision));
  current_ = CurrentConfig{next.revision, yaml, std::move(parsed)};
  spdlog::info("manager: configuration revision {} published ({}{}{})", next.revision, author,
               comment.empty() ? "" : ": ", comment);
  return ChangeResult{recorded ? *recorded : next, true};
}

Result<std::string> ConfigKeeper::TakeOver() {
  std::lock_guard lock(mu_);
  std::string done;
  if (!file_checked_) {
    ASSIGN_OR_RETURN(std::optional<store::ConfigRevision> latest, store_.Latest());
    ASSIGN_OR_RETURN(std::optional<std::string> last_read, store_.GetNote(kFileNoteKey));
    const bool differs = !latest || latest->yaml != file_yaml_;
    const bool first = !latest && published_ == 0;
    const bool edited = last_read && *last_read != file_yaml_;
    if (differs && (first || edited)) {
      ASSIGN_OR_RETURN(std::shared_ptr<const pipeline::Config> parsed, Validate(file_yaml_));
      ASSIGN_OR_RETURN(ChangeResult made,
                       Change(file_yaml_, std::move(parsed), "file " + config_path_,
                              first ? "the first configuration" : "the file changed since the manager last read it"));
      done = fmt::format("{} became revision {}", config_path_, made.revision.revision);
    } else if (differs) {
      done = fmt::format("{} differs from revision {} but {}; revision {} stays (edit the file, PUT /api/config or "
                         "roll back to change it)",
                         config_path_, latest ? latest->revision : published_,
                         last_read ? "has not changed since this manager last read it"
                                   : "this manager had not read it before",
                         latest ? latest->revision : published_);
    } else {
      done = fmt::format("{} is revision {}", config_path_, latest->revision);
    }
    RETURN_IF_ERROR(store_.SetNote(kFileNoteKey, file_yaml_));
    file_checked_ = true;
  }
  ASSIGN_OR_RETURN(CurrentConfig current, CurrentLocked());
  if (current.revision > published_) {
    RETURN_IF_ERROR(publish_(current.revision, current.yaml));
    published_ = current.revision;
    done += fmt::format("; published revision {}", current.revision);
  } else if (current.revision > 0) {
    done += fmt::format("; revision {} was published already", current.revision);
  }
  return done;
}

Status ConfigKeeper::SawPublished(int64_t revision, const std::string& yaml) {
  if (revision <= 0) return Status::Ok();
  std::lock_guard lock(mu_);
  published_ = std::max(published_, revision);
  store::ConfigRevision seen;
  seen.revision = revision;
  seen.yaml = yaml;
  seen.author = "published by another manager";
  ASSIGN_OR_RETURN(bool added, store_.Import(seen));
  if (added) spdlog::info("manager: recorded configuration revision {} (published by another manager)", revision);
  return Status::Ok();
}

}  // namespace sluice::cluster
