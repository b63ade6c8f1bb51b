#pragma once
// KafkaSink: writes every row change as one message (format::Encoder) to
// its table's topic, keyed as the format keys it, partitioned by a hash of
// the key (murmur2, as Kafka's Java clients do), so that every change of a
// key lands in one partition, in stream order. DDL goes to ddl_topic only.
//
// Delivery: the producer is always idempotent (no duplicates or reordering
// from its own retries). Batches overlap: ApplyBatch produces a batch's
// messages and returns without waiting for them (the pipeline polls, see
// Sink::in_flight); the position is recorded only behind acknowledged
// messages, and checkpoint() (what the pipeline reports) moves only then:
//   - exactly_once: true: a transactional producer (transactional.id
//     "sluice/<pipeline>/<target>") writes the batches of up to
//     `transaction_ms` (URL parameter, default 200 ms; or until Flush) and
//     the position record of the last one (key "pipeline/target" in the
//     compacted checkpoint topic) in one Kafka transaction; read_committed
//     consumers see each change once, and a restart resumes after the last
//     committed record.
//   - otherwise at least once: the position record of the longest prefix of
//     batches whose every message was acknowledged is produced then (one
//     record in flight at a time; it names the newest such batch), so a
//     restart replays at most the batches not yet recorded.
// A batch in flight that fails is sent again by the sink, with every batch
// after it and in order (per-key order holds), after Reconnect: the
// pipeline never hands a batch over twice.
// Open reads the last position record back (checkpoint_reader.h).
//
// Owned and called by one pipeline target thread; librdkafka's delivery
// callbacks run inside this sink's calls (poll/flush), on that thread.

#include <chrono>
#include <deque>
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
  Status ApplyBatchTakingOver(std::vector<SinkChange>& changes, const BatchEnd& end) override;
  Status AdvanceCheckpoint(const BatchEnd& end) override;
  Status ResetCheckpoint() override;
  Status ApplyDdl(const DdlChange& ddl, const BatchEnd& end) override;
  Result<std::vector<std::string>> TargetColumns(const std::string&, const std::string&) override {
    return std::vector<std::string>();
  }
  Status Reconnect() override;
  bool in_flight() const override { return !pending_.empty(); }
  Status Poll() override;
  Status Flush() override;

  const std::string& transactional_id() const { return transactional_id_; }
  // Cluster mode: with exactly_once, the successor's init_transactions on
  // the same transactional.id fences this producer inside Kafka (kFenced).
  // Without it nothing in Kafka can refuse a former owner's messages.
  bool fenced() const override { return options_.exactly_once && options_.epoch > 0; }
  bool reconnect_takes_fence() const override { return fenced(); }

 private:
  // One message to send, its key and value in its batch's `bytes`;
  // `change` indexes its batch's changes (-1: DDL).
  struct Outgoing {
    rd_kafka_topic_t* topic = nullptr;
    size_t key_at = 0, key_size = 0;
    size_t value_at = 0, value_size = 0;
    bool tombstone = false;  // a null value
    int64_t change = -1;
  };
  // A batch handed over and not recorded yet.
  struct Batch {
    uint32_t seq = 0;  // in delivery reports' opaque, with the message's index
    std::vector<Outgoing> out;
    // Every message's key and value back to back: one buffer per batch
    // instead of two strings per message held until the batch is recorded
    // (the encoder's strings are freed at once, so malloc reuses them).
    std::string bytes;
    std::vector<SinkChange> changes;  // what `out` came from: a late rejection names it
    std::optional<std::string> record;  // its position record (nullopt: a reset's tombstone)
    Checkpoint next;                    // checkpoint_ once recorded
    uint64_t rows = 0;                  // rows_applied_ once recorded
    size_t unacked = 0;                 // messages without a delivery report
  };
  struct TopicOf {
    TargetTablePtr pin;  // keeps the map's key alive
    rd_kafka_topic_t* topic = nullptr;
  };

  explicit KafkaSink(const SinkOptions& options) : options_(options) {}
  // ApplyBatch; with `take` the batch keeps no copy of the changes until
  // the call ends, and then moves them out of *take if it succeeded.
  Status Apply(const std::vector<SinkChange>& changes, const BatchEnd& end, std::vector<SinkChange>* take);
  // A batch's changes (the caller's, while Apply borrows them).
  const std::vector<SinkChange>& ChangesOf(const Batch& b) const {
    return borrowed_ != nullptr && b.seq == borrowed_seq_ ? *borrowed_ : b.changes;
  }
  Status CreateProducer();
  Status LoadCheckpoint();
  Result<rd_kafka_topic_t*> Topic(const std::string& name);
  Result<rd_kafka_topic_t*> TopicFor(const SinkChange& change);
  // The last position handed over (recorded or in flight).
  const StreamPos& HandedOver() const { return pending_.empty() ? checkpoint_.global : pending_.back().next.global; }
  // Queues `b` and produces its messages.
  Status Send(Batch b);
  // Produces `b`'s messages (but the skipped changes'); one refused at once
  // is a failure like a delivery report's.
  void ProduceBatch(Batch& b);
  rd_kafka_resp_err_t Produce(const Batch& b, const Outgoing& m, uint64_t opaque);
  static std::string_view KeyOf(const Batch& b, const Outgoing& m) { return {b.bytes.data() + m.key_at, m.key_size}; }
  // Appends message `m` (taken from) of `change` to `b`.
  static void Add(Batch& b, rd_kafka_topic_t* topic, format::Message& m, int64_t change);
  // A batch with the buffers of a recorded one (their capacity kept: a
  // batch's vectors and buffer are large, and allocated anew each time
  // they cost page faults and heap consolidation).
  Batch NewBatch();
  void Recycle(Batch&& b);
  // exactly_once: a transaction open.
  Status BeginIfNeeded();
  // What every call does first: a commit whose outcome was unknown is
  // committed again; batches that failed are sent again.
  Status Recover();
  // Serves delivery reports; records what is acknowledged. `all`: waits
  // until every batch handed over is recorded (exactly_once: commits).
  Status Settle(bool all);
  // Without transactions: the position record of the acknowledged prefix.
  Status RecordAcknowledged();
  // exactly_once: the position record of the last batch, and commit.
  Status Commit();
  // The first `n` batches are recorded.
  void Recorded(size_t n);
  // Every message produced so far reported: follows on_error for messages
  // Kafka refused, sets resend_ and returns the error of the others.
  Status HandleFailures();
  // Waits until every message produced so far was acknowledged or failed.
  Status WaitDelivered();
  Status AbortIfOpen();
  // An error of the producer (a librdkafka error object, taken over).
  Status TxnError(const char* step, rd_kafka_error_t* error, const std::string& topics);
  Status DeliveryError(rd_kafka_resp_err_t err, const std::string& topic);
  // Another producer of this transactional.id took over (`step` failed
  // with `detail`): kFenced in cluster mode. Remembered: Reconnect then
  // refuses to make a new producer, whose init would fence the newer one.
  Status FencedOut(const std::string& step, const std::string& detail);
  // on_error: skip logs `change` and leaves it out; stop: an error.
  Status Reject(const SinkChange& change, const std::string& key, const std::string& why);
  std::string Where() const;
  std::string TopicsOfPending() const;

  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  SinkOptions options_;
  std::string transactional_id_;
  std::string checkpoint_topic_;
  std::chrono::milliseconds transaction_time_{200};
  std::unique_ptr<format::Encoder> encoder_;
  HandlePtr producer_;
  std::map<std::string, rd_kafka_topic_t*> topics_;
  std::unordered_map<const TargetTable*, TopicOf> table_topics_;
  bool in_transaction_ = false;
  std::chrono::steady_clock::time_point transaction_began_;
  bool pending_commit_ = false;  // commit outcome unknown (retryable failure): commit again
  bool resend_ = false;          // batches in pending_ failed: send them again
  bool fenced_out_ = false;      // a newer producer of transactional_id_ took over (FencedOut)
  std::deque<Batch> pending_;    // handed over, not recorded, in order
  uint32_t next_seq_ = 0;
  std::optional<uint32_t> record_in_flight_;  // seq of the batch whose position record is unacknowledged
  // Delivery reports that failed: opaque and error.
  std::vector<std::pair<uint64_t, rd_kafka_resp_err_t>> failures_;
  const std::vector<SinkChange>* borrowed_ = nullptr;  // inside Apply with `take`: batch borrowed_seq_'s changes
  uint32_t borrowed_seq_ = 0;
  std::set<StreamPos> skipped_;
  std::vector<Batch> spare_;                // recorded batches' cleared buffers, for NewBatch
  std::vector<format::Message> messages_;  // Apply's scratch  // rejected changes on_error: skip left out (kept for retries)
};

}  // namespace sluice::sink::kafka
