#pragma once
// A Kafka cluster for integration tests: librdkafka's mock cluster (real
// librdkafka brokers in this process, on loopback ports that other
// processes such as `sluice run` and kcat reach too). It lives as long as
// the KafkaMock, so it survives kill -9 and restarts of a sluice process.
// What it does not do (field-notes.md): write transaction markers, so a
// read_committed consumer sees aborted messages too; fence an older
// producer of a transactional.id; answer CreateTopics.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::testing {

// Kafka protocol API keys (librdkafka keeps its RD_KAFKAP_* private).
namespace kafka_api {
inline constexpr int16_t kProduce = 0;
inline constexpr int16_t kFindCoordinator = 10;
inline constexpr int16_t kInitProducerId = 22;
inline constexpr int16_t kAddPartitionsToTxn = 24;
inline constexpr int16_t kEndTxn = 26;
}  // namespace kafka_api

class KafkaMock {
 public:
  // `brokers` brokers with ids 1..brokers; topics are created on first use
  // with 4 partitions. `__sluice_checkpoints` is created with 1 (the mock
  // cannot answer sluice's CreateTopics).
  static Result<std::unique_ptr<KafkaMock>> Start(int brokers = 3);
  ~KafkaMock();

  // "127.0.0.1:port1,127.0.0.1:port2,..."
  const std::string& bootstraps() const { return bootstraps_; }
  // kafka://127.0.0.1:port1,... for a sluice config.
  std::string Url() const { return "kafka://" + bootstraps_; }
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }

  Status CreateTopic(const std::string& topic, int partitions);
  Status SetBrokerDown(int32_t broker_id);
  Status SetBrokerUp(int32_t broker_id);
  // Delays every answer of the broker by `rtt` (0: none again): a broker
  // that hangs with its connections open.
  Status SetBrokerRtt(int32_t broker_id, std::chrono::milliseconds rtt);
  // The next requests of kind `api_key` (kafka_api::kProduce, kEndTxn, ...) fail with these errors, one each, in order.
  void PushRequestErrors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);

 private:
  KafkaMock() = default;
  rd_kafka_t* host_ = nullptr;  // the handle the mock cluster runs in
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

struct KafkaMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
};

// Every message of `topic` now in the cluster (all partitions, up to their
// high watermarks), ordered by partition, then offset. A topic that does not
// exist yet is empty (and created by the look-up).
Result<std::vector<KafkaMessage>> ReadTopic(const std::string& bootstraps, const std::string& topic);

// The cluster's topics (names only), sorted.
Result<std::vector<std::string>> ListTopics(const std::string& bootstraps);

}  // namespace sluice::testing
