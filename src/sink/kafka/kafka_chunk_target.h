#pragma once
// KafkaChunkTarget: a snapshot into a Kafka target (sink/chunk_target.h)
// emits every copied row as a read event in the target's format (Debezium
// op "r" with source.snapshot "true", Maxwell "bootstrap-insert", Canal and
// json inserts), to its table's topic, keyed and partitioned like the
// stream's messages, so a consumer sees a key's read before its later changes.
//
// Delivery: at least once. A chunk's messages are acknowledged before its
// done record is written to the checkpoint topic (partition 0, key
// "pipeline/target/snapshot/<table>#<shard>/<chunk>"), so a stopped snapshot
// re-emits at most the chunks in flight; the plan is a record per table
// shard beside them, removed (tombstones) when the snapshot finishes. A
// duplicated read event carries the same row image: consumers that keep the
// latest image per key are unaffected.
//
// Order against the stream: `snapshot: initial` copies before the pipeline
// streams, and streaming then starts at the snapshot's start, so every
// change made during the copy follows the reads of its key. A `sluice
// snapshot` beside a pipeline that already streams into the same topics
// gives no such order (Kafka has no lock to hold the stream back): the
// snapshot warns.
//
// One producer, used by one job thread; librdkafka's delivery callbacks run
// inside this object's calls.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "format/format.h"
#include "sink/chunk_target.h"
#include "sink/kafka/kafka_config.h"
#include "sink/sink.h"

namespace sluice::sink::kafka {

class KafkaChunkTarget : public ChunkTarget {
 public:
  static Result<std::unique_ptr<KafkaChunkTarget>> Open(const SinkOptions& options);
  ~KafkaChunkTarget() override;

  Status EnsureTables() override { return Status::Ok(); }
  Status EnsureTable(const TargetTable& t, const std::string& mysql_create_sql) override;
  Result<std::string> EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                          const std::string& resume_position) override;
  Status RaiseCatchUpHorizon(const std::string&, const std::string&, const std::string&) override {
    return Status::Ok();  // a log: nothing to reconcile
  }
  // The position record and snapshot plan records of the old name (one of
  // `former`; sink/checkpoint_rows.h's RenamedFrom decides) written again
  // under the new name, then tombstoned; with exactly_once the old
  // transactional.id is initialised first, which aborts what it left open
  // (read_committed consumers would wait for it until it timed out).
  Status TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                               const std::vector<std::string>& former) override;
  Result<std::string> AppliedPosition(const std::string& pipeline, const std::string& target) override;
  Status BeginChunk(const std::string& pipeline, const std::string& target) override;
  Status Write(const std::vector<SinkChange>& changes) override;
  Status Truncate(const TargetTable&) override { return Status::Ok(); }  // a log keeps what it has
  Status MarkChunkDone(const ChunkRecord& chunk, uint64_t rows) override;
  Status Commit() override;
  void Rollback() override;
  Result<std::vector<ChunkRecord>> LoadPlan(const std::string& pipeline, const std::string& target,
                                            const std::string& table, const std::string& shard) override;
  Result<bool> HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                 const std::vector<std::string>& shards) override;
  Status SavePlan(const std::vector<ChunkRecord>& plan) override;
  Status DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                  const std::string& shard) override;

 private:
  explicit KafkaChunkTarget(const SinkOptions& options) : options_(options) {}
  std::string Where() const;
  Result<rd_kafka_topic_t*> Topic(const std::string& name);
  // Queues one message (copied); partition -1: by the partitioner.
  Status Produce(rd_kafka_topic_t* topic, int32_t partition, const std::string& key,
                 const std::optional<std::string>& value);
  // Waits until every queued message is acknowledged; the first failure.
  Status Flush();
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);

  SinkOptions options_;
  std::string checkpoint_topic_;
  std::unique_ptr<format::Encoder> encoder_;
  HandlePtr producer_;
  std::map<std::string, rd_kafka_topic_t*> topics_;
  std::vector<ChunkRecord> done_;  // marked in this chunk, written at Commit
  rd_kafka_resp_err_t failure_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string failed_topic_;
};

}  // namespace sluice::sink::kafka
