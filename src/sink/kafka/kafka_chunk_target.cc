#include "sink/kafka/kafka_chunk_target.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

#include "core/resume_position.h"
#include "core/position.h"
#include "sink/checkpoint_rows.h"
#include "sink/kafka/checkpoint_reader.h"
#include "sink/kafka/checkpoint_record.h"
#include "sink/kafka/topic_template.h"

namespace sluice::sink::kafka {
namespace {

constexpr const char* kMessageTimeoutMs = "30000";

std::string Hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string SnapshotPrefix(const std::string& pipeline, const std::string& target) {
  return CheckpointKey(pipeline, target) + "/snapshot/";
}

// The plan record's key: the table and shard hex-encoded, so that no name
// can make one key a prefix of another's done records.
std::string PlanKey(const std::string& pipeline, const std::string& target, const std::string& table,
                    const std::string& shard) {
  return SnapshotPrefix(pipeline, target) + Hex(table + '\0' + ShardKey(shard));
}

std::string DoneKey(const std::string& plan_key, uint32_t chunk) { return plan_key + "/" + std::to_string(chunk); }

bool Transient(rd_kafka_resp_err_t e) {
  return e != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && e != RD_KAFKA_RESP_ERR_INVALID_MSG &&
         e != RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED && e != RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION;
}

}  // namespace

Result<std::unique_ptr<KafkaChunkTarget>> KafkaChunkTarget::Open(const SinkOptions& options) {
  std::unique_ptr<KafkaChunkTarget> t(new KafkaChunkTarget(options));
  format::EncoderOptions eo;
  eo.format = options.format;
  eo.schemas = options.schemas;
  eo.tombstones = options.tombstones;
  eo.debezium_profile = options.debezium_profile;
  ASSIGN_OR_RETURN(t->encoder_, format::MakeEncoder(eo));
  t->checkpoint_topic_ = options.url.Param("checkpoint_topic", kCheckpointTopic);
  RETURN_IF_ERROR(CheckTopicName(t->checkpoint_topic_).WithContext(t->Where() + ": checkpoint_topic"));
  auto conf = BaseConf(options.url);
  if (!conf.ok()) return conf.status().WithContext(t->Where());
  rd_kafka_conf_t* c = conf->get();
  RETURN_IF_ERROR(SetConf(c, "enable.idempotence", "true"));
  // As the stream's producer partitions (KafkaSink): one key, one partition.
  if (!options.url.params.contains("partitioner")) RETURN_IF_ERROR(SetConf(c, "partitioner", "murmur2_random"));
  if (!options.url.params.contains("message.timeout.ms")) {
    RETURN_IF_ERROR(SetConf(c, "message.timeout.ms", kMessageTimeoutMs));
  }
  rd_kafka_conf_set_dr_msg_cb(c, &KafkaChunkTarget::OnDelivery);
  rd_kafka_conf_set_opaque(c, t.get());
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (rk == nullptr) return Status::Invalid("{}: Kafka producer: {}", t->Where(), err);
  (void)conf->release();  // owned by the handle now
  t->producer_.reset(rk);
  return t;
}

KafkaChunkTarget::~KafkaChunkTarget() {
  for (auto& [name, topic] : topics_) rd_kafka_topic_destroy(topic);
}

std::string KafkaChunkTarget::Where() const {
  return fmt::format("pipeline {} target {}", options_.pipeline, options_.target);
}

void KafkaChunkTarget::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<KafkaChunkTarget*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR || self->failure_ != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  self->failure_ = m->err;
  self->failed_topic_ = rd_kafka_topic_name(m->rkt);
}

Result<rd_kafka_topic_t*> KafkaChunkTarget::Topic(const std::string& name) {
  auto it = topics_.find(name);
  if (it != topics_.end()) return it->second;
  rd_kafka_topic_t* t = rd_kafka_topic_new(producer_.get(), name.c_str(), nullptr);
  if (t == nullptr) return Status::Invalid("{}: topic {}: {}", Where(), name, rd_kafka_err2str(rd_kafka_last_error()));
  topics_.emplace(name, t);
  return t;
}

Status KafkaChunkTarget::Produce(rd_kafka_topic_t* topic, int32_t partition, const std::string& key,
                                 const std::optional<std::string>& value) {
  for (;;) {
    void* payload = value ? const_cast<char*>(value->data()) : nullptr;
    size_t payload_len = value ? value->size() : 0;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(payload, payload_len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer_.get(), 100);  // delivery reports make room
      continue;
    }
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    return Status::Error(StatusCode::kIoError, "{}: topic {}: {}", Where(), rd_kafka_topic_name(topic),
                         rd_kafka_err2str(e));
  }
}

Status KafkaChunkTarget::Flush() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (rd_kafka_outq_len(producer_.get()) > 0) {
    (void)rd_kafka_flush(producer_.get(), 1000);
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Retryable(StatusCode::kIoError, "{}: Kafka did not confirm delivery within 10 minutes", Where());
    }
  }
  if (failure_ == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  rd_kafka_resp_err_t e = failure_;
  failure_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string msg = fmt::format("{}: topic {}: {}", Where(), failed_topic_, rd_kafka_err2str(e));
  if (Transient(e)) return Status::Retryable(StatusCode::kIoError, "{}", msg);
  return Status::Error(StatusCode::kServerError, "{}", msg);
}

Status KafkaChunkTarget::EnsureTable(const TargetTable& t, const std::string& /*mysql_create_sql*/) {
  return CheckTopicName(ExpandTopic(options_.topic, options_.pipeline, t.db, t.table))
      .WithContext(fmt::format("{}: table `{}`.`{}` (from {})", Where(), t.db, t.table, t.source));
}

Status KafkaChunkTarget::TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                                               const std::vector<std::string>& former) {
  if (former.empty()) return Status::Ok();
  std::vector<std::string> present;
  for (const std::string& name : former) {
    ASSIGN_OR_RETURN(auto value, ReadLastValue(options_.url, checkpoint_topic_, CheckpointKey(pipeline, name),
                                               options_.interrupt));
    if (value.has_value()) present.push_back(name);
  }
  ASSIGN_OR_RETURN(auto own, ReadLastValue(options_.url, checkpoint_topic_, CheckpointKey(pipeline, target),
                                           options_.interrupt));
  if (own.has_value()) return Status::Ok();
  ASSIGN_OR_RETURN(const std::string old,
                   RenamedFrom(present, pipeline, target, former,
                               fmt::format("a record with key {} and no value in topic {}",
                                           CheckpointKey(pipeline, "NAME"), checkpoint_topic_)));
  if (old.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto own_plan, ReadValuesWithPrefix(options_.url, checkpoint_topic_,
                                                       SnapshotPrefix(pipeline, target), options_.interrupt));
  if (!own_plan.empty()) return Status::Ok();  // a copy begun under the new name goes on
  if (options_.exactly_once) {
    // Whatever the old name's producer left open is aborted now, not when it times out.
    auto conf = BaseConf(options_.url);
    if (!conf.ok()) return conf.status().WithContext(Where());
    RETURN_IF_ERROR(SetConf(conf->get(), "transactional.id", "sluice/" + pipeline + "/" + old));
    char err[512];
    std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> fencer(
        rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err), &rd_kafka_destroy);
    if (!fencer) return Status::Invalid("{}: Kafka producer: {}", Where(), err);
    (void)conf->release();
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(fencer.get(), 60000)) {
      Status st = Status::Retryable(StatusCode::kIoError, "{}: init_transactions of target {}'s id: {}", Where(), old,
                                    rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
      return st;
    }
  }
  ASSIGN_OR_RETURN(auto plan, ReadValuesWithPrefix(options_.url, checkpoint_topic_, SnapshotPrefix(pipeline, old),
                                                   options_.interrupt));
  ASSIGN_OR_RETURN(auto position, ReadLastValue(options_.url, checkpoint_topic_, CheckpointKey(pipeline, old),
                                                options_.interrupt));
  if (!position.has_value()) return Status::Ok();  // taken over meanwhile
  ASSIGN_OR_RETURN(rd_kafka_topic_t * topic, Topic(checkpoint_topic_));
  const std::string old_prefix = SnapshotPrefix(pipeline, old);
  // The new name's records first, then the old name's tombstones: a crash in
  // between leaves both, and the next start finds its own.
  for (const auto& [key, value] : plan) {
    RETURN_IF_ERROR(Produce(topic, 0, SnapshotPrefix(pipeline, target) + key.substr(old_prefix.size()), value));
  }
  RETURN_IF_ERROR(Produce(topic, 0, CheckpointKey(pipeline, target), *position));
  RETURN_IF_ERROR(Flush());
  for (const auto& [key, value] : plan) RETURN_IF_ERROR(Produce(topic, 0, key, std::nullopt));
  RETURN_IF_ERROR(Produce(topic, 0, CheckpointKey(pipeline, old), std::nullopt));
  RETURN_IF_ERROR(Flush());
  LogTakenOver(pipeline, target, old);
  return Status::Ok();
}

Result<std::string> KafkaChunkTarget::AppliedPosition(const std::string& pipeline, const std::string& target) {
  ASSIGN_OR_RETURN(auto value, ReadLastValue(options_.url, checkpoint_topic_, CheckpointKey(pipeline, target)));
  if (!value) return std::string();
  ASSIGN_OR_RETURN(Checkpoint cp, DecodeCheckpoint(*value));
  return cp.resume_position;
}

Result<std::string> KafkaChunkTarget::EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                                          const std::string& resume_position) {
  ASSIGN_OR_RETURN(std::string applied, AppliedPosition(pipeline, target));
  if (!applied.empty()) {
    spdlog::warn(
        "{}: the pipeline already streams into Kafka from {}: read events of this snapshot may follow newer changes "
        "of the same keys (Kafka cannot hold the stream back); copy with the pipeline stopped, or with snapshot: "
        "initial, to keep every key's reads before its changes",
        Where(), applied);
    return applied;
  }
  BatchEnd start;
  ASSIGN_OR_RETURN(start.pos, StreamPosAtResume(resume_position));
  start.resume_position = resume_position;
  ASSIGN_OR_RETURN(rd_kafka_topic_t * topic, Topic(checkpoint_topic_));
  RETURN_IF_ERROR(Produce(topic, 0, CheckpointKey(pipeline, target), EncodeCheckpoint(start)));
  RETURN_IF_ERROR(Flush());
  return resume_position;
}

Status KafkaChunkTarget::BeginChunk(const std::string&, const std::string&) {
  done_.clear();
  return Status::Ok();
}

Status KafkaChunkTarget::Write(const std::vector<SinkChange>& changes) {
  std::vector<format::Message> messages;
  format::ChangeContext ctx;
  for (const SinkChange& ch : changes) {
    const TargetTable& t = *ch.table;
    messages.clear();
    Status st = encoder_->EncodeChange(ch, ctx, messages);
    if (!st.ok()) return st.WithContext(fmt::format("{}: table `{}`.`{}` (from {})", Where(), t.db, t.table, t.source));
    ASSIGN_OR_RETURN(rd_kafka_topic_t * topic, Topic(ExpandTopic(options_.topic, options_.pipeline, t.db, t.table)));
    for (const format::Message& m : messages) RETURN_IF_ERROR(Produce(topic, RD_KAFKA_PARTITION_UA, m.key, m.value));
  }
  return Status::Ok();
}

Status KafkaChunkTarget::MarkChunkDone(const ChunkRecord& chunk, uint64_t rows) {
  ChunkRecord c = chunk;
  c.rows = rows;
  c.done = true;
  done_.push_back(std::move(c));
  return Status::Ok();
}

Status KafkaChunkTarget::Commit() {
  // The chunk's read events first, acknowledged; only then its done marks.
  RETURN_IF_ERROR(Flush());
  ASSIGN_OR_RETURN(rd_kafka_topic_t * topic, Topic(checkpoint_topic_));
  for (const ChunkRecord& c : done_) {
    nlohmann::json v = {{"rows", c.rows}};
    RETURN_IF_ERROR(Produce(topic, 0, DoneKey(PlanKey(c.pipeline, c.target, c.table, c.shard), c.chunk), v.dump()));
  }
  done_.clear();
  return Flush();
}

void KafkaChunkTarget::Rollback() {
  done_.clear();
  // Messages not sent yet are dropped; those in flight may still land (at
  // least once: the chunk is emitted again).
  (void)rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE);
  (void)rd_kafka_flush(producer_.get(), 5000);
  failure_ = RD_KAFKA_RESP_ERR_NO_ERROR;
}

Result<std::vector<ChunkRecord>> KafkaChunkTarget::LoadPlan(const std::string& pipeline, const std::string& target,
                                                            const std::string& table, const std::string& shard) {
  const std::string key = PlanKey(pipeline, target, table, shard);
  ASSIGN_OR_RETURN(auto values, ReadValuesWithPrefix(options_.url, checkpoint_topic_, key));
  std::vector<ChunkRecord> plan;
  auto it = values.find(key);
  if (it == values.end()) return plan;
  auto j = nlohmann::json::parse(it->second, nullptr, false);
  if (!j.is_object() || !j.contains("chunks") || !j["chunks"].is_array()) {
    return Status::Corruption("{}: bad snapshot plan record {} in topic {}", Where(), key, checkpoint_topic_);
  }
  uint32_t n = 0;
  for (const auto& chunk : j["chunks"]) {
    ChunkRecord c;
    c.pipeline = pipeline;
    c.target = target;
    c.table = table;
    c.shard = shard;
    c.chunk = n++;
    c.after = chunk.value("after", "");
    c.upto = chunk.value("upto", "");
    auto done = values.find(DoneKey(key, c.chunk));
    if (done != values.end()) {
      c.done = true;
      auto d = nlohmann::json::parse(done->second, nullptr, false);
      if (d.is_object()) c.rows = d.value("rows", uint64_t{0});
    }
    plan.push_back(std::move(c));
  }
  return plan;
}

Result<bool> KafkaChunkTarget::HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                                 const std::vector<std::string>& shards) {
  std::set<std::string> wanted;
  for (const std::string& s : shards) wanted.insert(ShardKey(s));
  ASSIGN_OR_RETURN(auto values, ReadValuesWithPrefix(options_.url, checkpoint_topic_, SnapshotPrefix(pipeline, target)));
  for (const auto& [key, value] : values) {
    auto j = nlohmann::json::parse(value, nullptr, false);
    if (!j.is_object() || !j.contains("chunks") || !j.contains("shard")) continue;  // a done mark
    if (!wanted.count(j.value("shard", ""))) continue;
    for (size_t i = 0; i < j["chunks"].size(); ++i) {
      if (!values.count(DoneKey(key, static_cast<uint32_t>(i)))) return true;
    }
  }
  return false;
}

Status KafkaChunkTarget::SavePlan(const std::vector<ChunkRecord>& plan) {
  if (plan.empty()) return Status::Ok();
  const ChunkRecord& first = plan.front();
  RETURN_IF_ERROR(DropPlan(first.pipeline, first.target, first.table, first.shard));
  nlohmann::json chunks = nlohmann::json::array();
  for (const ChunkRecord& c : plan) chunks.push_back({{"after", c.after}, {"upto", c.upto}});
  nlohmann::json v = {{"table", first.table}, {"shard", ShardKey(first.shard)}, {"chunks", chunks}};
  ASSIGN_OR_RETURN(rd_kafka_topic_t * topic, Topic(checkpoint_topic_));
  RETURN_IF_ERROR(Produce(topic, 0, PlanKey(first.pipeline, first.target, first.table, first.shard), v.dump()));
  return Flush();
}

Status KafkaChunkTarget::DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                                  const std::string& shard) {
  const std::string key = PlanKey(pipeline, target, table, shard);
  ASSIGN_OR_RETURN(auto values, ReadValuesWithPrefix(options_.url, checkpoint_topic_, key));
  if (values.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(rd_kafka_topic_t * topic, Topic(checkpoint_topic_));
  for (const auto& [k, v] : values) RETURN_IF_ERROR(Produce(topic, 0, k, std::nullopt));  // tombstones
  return Flush();
}

}  // namespace sluice::sink::kafka
