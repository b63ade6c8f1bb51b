#pragma once
// KafkaSink: writes every row change as one message (format::Encoder) to
// its table's topic, keyed as the format keys it, partitioned by a hash of
// the key (murmur2, as Kafka's Java clients do), so that every change of a
// key lands in one partition, in stream order. DDL goes to ddl_topic only.
//
// Delivery: the producer is always idempotent (no duplicates or reordering
// from its own retries). Each batch ends with a position record (key
// "pipeline/target" in the compacted checkpoint topic), produced only after
// every message of the batch was acknowledged:
//   - exactly_once: true: a transactional producer (transactional.id
//     "sluice-<pipeline>-<target>") writes the batch and its position record
//     in one Kafka transaction; read_committed consumers see each change
//     once, and a restart resumes after the last committed record.
//   - otherwise at least once: a restart replays at most the batch whose
//     delivery was not confirmed.
// Open reads the last position record back (checkpoint_reader.h).
//
// Owned and called by one pipeline target thread; librdkafka's delivery
// callbacks run inside this sink's calls (poll/flush), on that thread.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "format/format.h"
#include "sink/kafka/kafka_config.h"
#include "sink/sink.h"

namespace sluice::sink::kafka {

class KafkaSink : public Sink {
 public:
  static Result<std::unique_ptr<KafkaSink>> Open(const SinkOptions& options);
  ~KafkaSink() override;

  Status ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) override;
  Status AdvanceCheckpoint(const BatchEnd& end) override;
  Status ResetCheckpoint() override;
  Status ApplyDdl(const DdlChange& ddl, const BatchEnd& end) override;
  Result<std::vector<std::string>> TargetColumns(const std::string&, const std::string&) override {
    return std::vector<std::string>();
  }
  Status Reconnect() override;

  const std::string& transactional_id() const { return transactional_id_; }

 private:
  // One message to send; `change` indexes the batch (-1: DDL or position).
  struct Outgoing {
    rd_kafka_topic_t* topic = nullptr;
    std::string key;
    std::optional<std::string> value;
    int64_t change = -1;
  };
  struct TopicOf {
    TargetTablePtr pin;  // keeps the map's key alive
    rd_kafka_topic_t* topic = nullptr;
  };

  explicit KafkaSink(const SinkOptions& options) : options_(options) {}
  Status CreateProducer();
  Status LoadCheckpoint();
  Result<rd_kafka_topic_t*> Topic(const std::string& name);
  Result<rd_kafka_topic_t*> TopicFor(const SinkChange& change);
  // Sends `out` and then the position record of `end` (as one transaction
  // with exactly_once). `changes` is the batch `out` came from, for errors.
  Status Deliver(std::vector<Outgoing>& out, const std::optional<std::string>& position, const BatchEnd& end,
                 const std::vector<SinkChange>* changes);
  // One attempt; *redo: rejected changes were skipped out of a transaction
  // that had to be aborted, send `out` (now without them) again.
  Status DeliverOnce(std::vector<Outgoing>& out, const std::optional<std::string>& position, const Checkpoint& next,
                     const std::vector<SinkChange>* changes, bool* redo);
  Status Produce(const Outgoing& m, size_t index);
  // Waits until every message produced so far was acknowledged or failed.
  Status WaitDelivered();
  // A transaction whose commit failed retryably is committed first.
  Status FinishPendingCommit();
  Status AbortIfOpen();
  // An error of the producer (a librdkafka error object, taken over).
  Status TxnError(const char* step, rd_kafka_error_t* error, const std::string& topics);
  Status DeliveryError(rd_kafka_resp_err_t err, const std::string& topic);
  // on_error: skip logs `change` and leaves it out; stop: an error.
  Status Reject(const SinkChange& change, const std::string& key, const std::string& why);
  std::string Where() const;
  std::string TopicsOf(const std::vector<Outgoing>& out) const;

  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  SinkOptions options_;
  std::string transactional_id_;
  std::string checkpoint_topic_;
  std::unique_ptr<format::Encoder> encoder_;
  HandlePtr producer_;
  std::map<std::string, rd_kafka_topic_t*> topics_;
  std::unordered_map<const TargetTable*, TopicOf> table_topics_;
  bool in_transaction_ = false;
  std::optional<Checkpoint> pending_commit_;  // commit outcome unknown (retryable failure)
  // Delivery reports of the messages in flight: index into the batch's
  // outgoing messages and the error.
  std::vector<std::pair<size_t, rd_kafka_resp_err_t>> failures_;
  std::set<StreamPos> skipped_;  // rejected changes on_error: skip left out (kept for retries)
};

}  // namespace sluice::sink::kafka
