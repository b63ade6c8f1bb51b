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
// Threads: the pipeline's target thread calls the sink; ApplyBatch encodes
// the batch there and hands it to the sink's own producer thread, which
// produces it, serves librdkafka's delivery reports and records positions,
// so that encoding and producing overlap. Every other call (Flush, DDL,
// Reconnect...) runs on the producer thread after the batches handed over
// before it, and waits for it. The delivery state (pending_, failures_,
// transactions, the producer) belongs to the producer thread alone; what
// the caller sees (checkpoint(), rows_applied(), in_flight()) is copied
// over at each call. An error of a batch in the producer thread stops it
// until the caller's next call, which returns the error (a later call:
// see sink.h "In flight").

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
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
  bool in_flight() const override { return in_flight_; }
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
  // `change` indexes its batch's changes (-1: DDL). `topic` indexes
  // topic_names_ (a name, not a handle: handles die with their producer).
  struct Outgoing {
    uint32_t topic = 0;
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
    std::vector<SinkChange> changes;    // what `out` came from: a late rejection names it
    std::optional<std::string> record;  // its position record (nullopt: a reset's tombstone)
    Checkpoint next;                    // recorded_ once recorded
    uint64_t rows = 0;                  // recorded_rows_ once recorded
    size_t unacked = 0;                 // messages without a delivery report
  };
  struct TopicOf {
    TargetTablePtr pin;  // keeps the map's key alive
    uint32_t topic = 0;
  };
  // A call the caller waits for, run on the producer thread in turn.
  struct Call {
    std::function<Status()> fn;
    bool first = false;  // runs before the queue, even while stopped by an error (Reconnect)
    bool done = false;
    Status result;
  };
  // What the producer thread is given: a batch to send, or a call.
  struct Work {
    Batch batch;
    std::shared_ptr<Call> call;
  };
  // Batches waiting for the producer thread beyond the one it sends: enough
  // to keep it busy while the next is encoded, little memory held.
  static constexpr size_t kQueuedBatches = 2;

  explicit KafkaSink(const SinkOptions& options) : options_(options) {}

  // --- the caller's thread (the pipeline's target thread) ---
  // Encodes a batch and hands it to the producer thread; with `take` the
  // changes are moved in (swapped with a recycled vector), only on success.
  Status Apply(const std::vector<SinkChange>& changes, const BatchEnd& end, std::vector<SinkChange>* take);
  // What every call does first: returns the producer thread's error (once),
  // or lets a thread stopped by an error the caller saw go on.
  Status Resume();
  // Runs `fn` on the producer thread after the work queued before it (or
  // before it: `first`) and waits; an earlier batch's error is returned
  // instead (fn not run).
  Status RunOnProducer(std::function<Status()> fn, bool first = false);
  // Copies what the producer thread published into checkpoint_,
  // rows_applied_, in_flight_ (mu_ held).
  void SyncLocked();
  Result<uint32_t> TopicFor(const SinkChange& change);
  uint32_t TopicIndex(const std::string& name);
  std::string TopicName(uint32_t index) const;
  // A batch with the buffers of a recorded one (their capacity kept: a
  // batch's vectors and buffer are large, and allocated anew each time
  // they cost page faults and heap consolidation).
  Batch NewBatch();

  // --- the producer thread ---
  void Run();
  // One batch from the queue: false in *taken if it was not (the thread
  // keeps it at the head and sends it after the caller's next call).
  Status SendQueued(Batch& b, bool* taken);
  void PublishLocked();
  void Recycle(Batch&& b);
  Status CreateProducer();
  Status LoadCheckpoint();
  Result<rd_kafka_topic_t*> Topic(const std::string& name);
  rd_kafka_topic_t* Handle(uint32_t topic);
  // The last position handed over (recorded or in flight).
  const StreamPos& HandedOver() const { return pending_.empty() ? recorded_.global : pending_.back().next.global; }
  // Queues `b` and produces its messages; `b` stays the caller's if this fails.
  Status Send(Batch& b);
  // Produces `b`'s messages (but the skipped changes'); one refused at once
  // is a failure like a delivery report's.
  void ProduceBatch(Batch& b);
  rd_kafka_resp_err_t Produce(const Batch& b, const Outgoing& m, rd_kafka_topic_t* topic, uint64_t opaque);
  static std::string_view KeyOf(const Batch& b, const Outgoing& m) { return {b.bytes.data() + m.key_at, m.key_size}; }
  // Appends message `m` (taken from) of `change` to `b`.
  static void Add(Batch& b, uint32_t topic, format::Message& m, int64_t change);
  // exactly_once: a transaction open.
  Status BeginIfNeeded();
  // What every step does first: a commit whose outcome was unknown is
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
  Status DoAdvanceCheckpoint(const BatchEnd& end);
  Status DoResetCheckpoint();
  Status DoApplyDdl(const DdlChange& ddl, const BatchEnd& end);
  Status DoReconnect();
  Status DoFlush();
  // Whether the pipeline stopping cut the sink's waits (SinkOptions::interrupt).
  bool Interrupted() const;
  // A transactional call (init, commit, abort) waited for in slices up to
  // kTxnTimeoutMs; once Interrupted, its timeout error is returned at once.
  rd_kafka_error_t* TxnCall(rd_kafka_error_t* (*call)(rd_kafka_t*, int), rd_kafka_t* rk) const;
  // An error of the producer (a librdkafka error object, taken over).
  Status TxnError(const char* step, rd_kafka_error_t* error, const std::string& topics);
  Status DeliveryError(rd_kafka_resp_err_t err, const std::string& topic);
  // Another producer of this transactional.id took over (`step` failed
  // with `detail`): kFenced in cluster mode. Remembered: Reconnect then
  // refuses to make a new producer, whose init would fence the newer one.
  Status FencedOut(const std::string& step, const std::string& detail);
  // A fence answered to the epoch bump that follows timed-out messages,
  // outside cluster mode: taken as the refusal of a retried bump whose first
  // answer was lost (the coordinator bumped already), not as another
  // producer; retryable, and the next Reconnect makes a new producer.
  Status BumpRefused(const std::string& detail);
  std::string TopicsOfPending() const;

  // --- either thread ---
  // on_error: skip logs `change` and leaves it out; stop: an error.
  Status Reject(const SinkChange& change, const std::string& key, const std::string& why);
  bool Skipped(const StreamPos& pos) const;
  std::string Where() const;

  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  const SinkOptions options_;
  std::string transactional_id_;
  std::string checkpoint_topic_;
  std::chrono::milliseconds transaction_time_{200};
  std::unique_ptr<format::Encoder> encoder_;  // the caller's thread (DDL: the producer's, while the caller waits)

  // The caller's thread.
  bool in_flight_ = false;
  StreamPos handed_;  // the last batch's end handed to the producer thread
  std::unordered_map<const TargetTable*, TopicOf> table_topics_;
  std::vector<format::Message> messages_;  // Apply's scratch
  uint64_t synced_version_ = 0;

  // Shared, under mu_: the queue, the producer thread's state as published.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> queue_;
  bool busy_ = false;            // the producer thread has taken work from the queue
  bool stopped_ = false;         // by an error: until the caller's next call
  std::optional<Status> error_;  // a batch's (or a step's) error, for the caller's next call
  bool stop_thread_ = false;
  Checkpoint published_;  // recorded_, as of published_version_
  uint64_t published_rows_ = 0;
  uint64_t published_version_ = 0;
  bool published_pending_ = false;
  StreamPos published_handed_;

  // Topic names by index, either thread.
  mutable std::mutex topics_mu_;
  std::deque<std::string> topic_names_;
  std::unordered_map<std::string, uint32_t> topic_index_;

  // Rejected changes on_error: skip left out (kept for retries), either thread.
  mutable std::mutex skipped_mu_;
  std::set<StreamPos> skipped_;
  std::atomic<bool> any_skipped_{false};

  // Recorded batches' cleared buffers, for NewBatch.
  std::mutex spare_mu_;
  std::vector<Batch> spare_;

  // The producer thread (and Open, before it starts).
  HandlePtr producer_;
  std::map<std::string, rd_kafka_topic_t*> topics_;
  std::vector<rd_kafka_topic_t*> handles_;  // by topic index, of producer_
  Checkpoint recorded_;                     // what Kafka holds: the caller's checkpoint_ at its next call
  uint64_t recorded_rows_ = 0;
  uint64_t recorded_version_ = 0;  // bumped when recorded_ changes
  bool in_transaction_ = false;
  std::chrono::steady_clock::time_point transaction_began_;
  bool pending_commit_ = false;  // commit outcome unknown (retryable failure): commit again
  bool resend_ = false;          // batches in pending_ failed: send them again
  bool fenced_out_ = false;      // a newer producer of transactional_id_ took over (FencedOut)
  bool bump_refused_ = false;  // BumpRefused: the next Reconnect makes a new producer
  std::deque<Batch> pending_;    // handed over, not recorded, in order
  uint32_t next_seq_ = 0;
  std::optional<uint32_t> record_in_flight_;  // seq of the batch whose position record is unacknowledged
  // Delivery reports that failed: opaque and error.
  std::vector<std::pair<uint64_t, rd_kafka_resp_err_t>> failures_;

  std::thread thread_;  // last: started once everything above is made
};

}  // namespace sluice::sink::kafka
