#pragma once
// PipelineSettings: a pipeline's own durable state that is not on its
// targets (the source failover in progress, a start position set through
// the API, the recorded table selection, the schema history), as key/value
// pairs. A single process keeps them in its store (StoreSettings); in
// cluster mode they are the pipeline's wherever it runs, shared through
// ZooKeeper (cluster/shared_settings.h), so that the next owner after a
// takeover finds what the last one recorded.
//
// Threading: each implementation is safe to call from any thread; calls
// may block on I/O (the store, or ZooKeeper within its session timeout).

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/sqlite_store.h"

namespace sluice::pipeline {

// The keys that record the pipeline's state (not one-off intents such as a
// start position set through the API or a failover in progress): the
// table selection last recorded, a PostgreSQL source's tables still to be
// copied, and the schema history's entries (by prefix).
inline constexpr const char* kSelectionKey = "selection";
inline constexpr const char* kUnstreamedKey = "unstreamed_tables";
// The target names the pipeline has run (a JSON array): a target renamed in
// the configuration takes over only a checkpoint left by one of them, never
// one another deployment's pipeline of the same name keeps in that database.
inline constexpr const char* kTargetsKey = "targets";
inline constexpr const char* kSchemaHistoryPrefix = "schema_history/";  // source/mysql/schema_history.h's

class PipelineSettings {
 public:
  virtual ~PipelineSettings() = default;
  virtual Result<std::optional<std::string>> Get(const std::string& key) = 0;
  virtual Status Set(const std::string& key, const std::string& value) = 0;
  virtual Status Delete(const std::string& key) = 0;  // a missing key is fine
  // Every setting whose key starts with `prefix`, by key.
  virtual Result<std::vector<std::pair<std::string, std::string>>> WithPrefix(const std::string& prefix) = 0;
  // Where they are kept, for messages ("store PATH").
  virtual std::string Describe() const = 0;
};

// One pipeline's settings in a store (the single-process case).
class StoreSettings : public PipelineSettings {
 public:
  StoreSettings(store::SqliteStore& store, std::string pipeline) : store_(store), pipeline_(std::move(pipeline)) {}
  Result<std::optional<std::string>> Get(const std::string& key) override { return store_.GetSetting(pipeline_, key); }
  Status Set(const std::string& key, const std::string& value) override {
    return store_.SetSetting(pipeline_, key, value);
  }
  Status Delete(const std::string& key) override { return store_.DeleteSetting(pipeline_, key); }
  Result<std::vector<std::pair<std::string, std::string>>> WithPrefix(const std::string& prefix) override {
    return store_.SettingsWithPrefix(pipeline_, prefix);
  }
  std::string Describe() const override { return "store " + store_.path(); }

 private:
  store::SqliteStore& store_;
  std::string pipeline_;
};

}  // namespace sluice::pipeline
