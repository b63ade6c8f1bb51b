#pragma once
// A pipeline's settings (pipeline/settings.h) kept in ZooKeeper through the
// node's Coordinator, under /sluice/<cluster>/pipelines/<pipeline>/settings:
// every node running the pipeline sees what the last owner recorded (its
// schema history above all: after a takeover the next owner decodes rows
// written before an ALTER with the shape they were written in, not with the
// table as it is now).
//
// Threading: any thread; each call waits for the coordinator thread's
// answer (a retryable error when the session is not connected or no answer
// comes within kWait). Lifetime: the Coordinator outlives it.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/coordinator.h"
#include "pipeline/settings.h"

namespace sluice::cluster {

class SharedSettings : public pipeline::PipelineSettings {
 public:
  static constexpr std::chrono::seconds kWait{30};

  SharedSettings(Coordinator& coordinator, std::string cluster, std::string pipeline)
      : coordinator_(coordinator), cluster_(std::move(cluster)), pipeline_(std::move(pipeline)) {}

  Result<std::optional<std::string>> Get(const std::string& key) override;
  Status Set(const std::string& key, const std::string& value) override;
  Status Delete(const std::string& key) override;
  Result<std::vector<std::pair<std::string, std::string>>> WithPrefix(const std::string& prefix) override;
  std::string Describe() const override;

  // A cluster upgraded from settings kept in each node's store: when
  // ZooKeeper has no table selection recorded for the pipeline and `local`
  // (this node's store) has one, the selection, the tables still to be
  // copied and the schema history are carried over (never a start position
  // or a failover in progress: intents that go stale). Returns how many.
  Result<size_t> SeedFrom(pipeline::PipelineSettings& local);

 private:
  Coordinator& coordinator_;
  std::string cluster_;
  std::string pipeline_;
};

}  // namespace sluice::cluster
