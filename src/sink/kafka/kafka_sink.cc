#include "sink/kafka/kafka_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/json_writer.h"
#include "sink/kafka/checkpoint_reader.h"
#include "sink/kafka/checkpoint_record.h"
#include "sink/kafka/topic_template.h"
#include "sink/skip_log.h"

namespace sluice::sink::kafka {
namespace {

constexpr int kTxnTimeoutMs = 15000;
constexpr const char* kDefaultMessageTimeoutMs = "30000";

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

// What a broker refuses for the message itself: retrying cannot help, so it
// follows on_error like a row the target rejects.
bool RejectsMessage(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || e == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
         e == RD_KAFKA_RESP_ERR_INVALID_RECORD || e == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE;
}

bool IsFencing(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR__FENCED || e == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         e == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

// Errors retrying cannot fix: credentials, permissions, bad requests.
bool IsPermanent(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
         e == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
         e == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED || e == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION ||
         e == RD_KAFKA_RESP_ERR__INVALID_ARG || e == RD_KAFKA_RESP_ERR__FATAL;
}

std::string TxnPosition(const StreamPos& p) { return fmt::format("{}:{}", p.file, p.txn_offset); }

}  // namespace

Result<std::unique_ptr<KafkaSink>> KafkaSink::Open(const SinkOptions& options) {
  std::unique_ptr<KafkaSink> s(new KafkaSink(options));
  format::EncoderOptions eo;
  eo.format = options.format;
  eo.schemas = options.schemas;
  eo.tombstones = options.tombstones;
  eo.debezium_profile = options.debezium_profile;
  auto encoder = format::MakeEncoder(eo);
  if (!encoder.ok()) return encoder.status().WithContext(s->Where());
  s->encoder_ = std::move(encoder).value();
  s->checkpoint_topic_ = options.url.Param("checkpoint_topic", kCheckpointTopic);
  RETURN_IF_ERROR(CheckTopicName(s->checkpoint_topic_).WithContext(s->Where() + ": checkpoint_topic"));
  // '/' cannot occur in pipeline or target names: one id per target.
  s->transactional_id_ = "sluice/" + options.pipeline + "/" + options.target;
  RETURN_IF_ERROR(s->CreateProducer());
  RETURN_IF_ERROR(s->LoadCheckpoint());
  return s;
}

KafkaSink::~KafkaSink() {
  if (producer_ && in_transaction_) {
    ErrorPtr(rd_kafka_abort_transaction(producer_.get(), 5000));
  }
  for (auto& [name, t] : topics_) rd_kafka_topic_destroy(t);
}

std::string KafkaSink::Where() const {
  return fmt::format("pipeline {} target {}", options_.pipeline, options_.target);
}

Status KafkaSink::CreateProducer() {
  for (auto& [name, t] : topics_) rd_kafka_topic_destroy(t);
  topics_.clear();
  table_topics_.clear();
  producer_.reset();
  in_transaction_ = false;
  auto conf = BaseConf(options_.url);
  if (!conf.ok()) return conf.status().WithContext(Where());
  rd_kafka_conf_t* c = conf->get();
  RETURN_IF_ERROR(SetConf(c, "enable.idempotence", "true"));
  // Kafka's Java clients hash keys with murmur2: consumers (and other
  // producers) that partition alike see one key in one partition.
  if (!options_.url.params.contains("partitioner")) RETURN_IF_ERROR(SetConf(c, "partitioner", "murmur2_random"));
  // A broker down longer than this fails the batch retryably (the pipeline
  // shows `retrying`) instead of blocking the target thread for 5 minutes.
  if (!options_.url.params.contains("message.timeout.ms")) {
    RETURN_IF_ERROR(SetConf(c, "message.timeout.ms", kDefaultMessageTimeoutMs));
  }
  if (options_.exactly_once) RETURN_IF_ERROR(SetConf(c, "transactional.id", transactional_id_));
  rd_kafka_conf_set_dr_msg_cb(c, &KafkaSink::OnDelivery);
  rd_kafka_conf_set_opaque(c, this);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (rk == nullptr) return Status::Invalid("{}: Kafka producer: {}", Where(), err);
  (void)conf->release();  // owned by the handle now
  producer_.reset(rk);
  if (options_.exactly_once) {
    // Fences an older producer of this id and aborts what it left open.
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(rk, kTxnTimeoutMs)) {
      return TxnError("init_transactions", e, "");
    }
  }
  return Status::Ok();
}

Status KafkaSink::LoadCheckpoint() {
  auto value = ReadLastValue(options_.url, checkpoint_topic_, CheckpointKey(options_.pipeline, options_.target));
  if (!value.ok()) return value.status().WithContext(Where());
  checkpoint_ = Checkpoint{};
  if (!value->has_value()) return Status::Ok();
  auto cp = DecodeCheckpoint(**value);
  if (!cp.ok()) return cp.status().WithContext(fmt::format("{}: topic {}", Where(), checkpoint_topic_));
  checkpoint_ = std::move(cp).value();
  spdlog::info("{}: position {} read back from topic {}", Where(), checkpoint_.global.ToString(), checkpoint_topic_);
  return Status::Ok();
}

Result<rd_kafka_topic_t*> KafkaSink::Topic(const std::string& name) {
  auto it = topics_.find(name);
  if (it != topics_.end()) return it->second;
  rd_kafka_topic_t* t = rd_kafka_topic_new(producer_.get(), name.c_str(), nullptr);
  if (t == nullptr) {
    return Status::Invalid("{}: topic {}: {}", Where(), name, rd_kafka_err2str(rd_kafka_last_error()));
  }
  topics_.emplace(name, t);
  return t;
}

Result<rd_kafka_topic_t*> KafkaSink::TopicFor(const SinkChange& ch) {
  auto it = table_topics_.find(ch.table.get());
  if (it != table_topics_.end()) return it->second.topic;
  const TargetTable& t = *ch.table;
  std::string name = ExpandTopic(options_.topic, options_.pipeline, t.db, t.table);
  RETURN_IF_ERROR(
      CheckTopicName(name).WithContext(fmt::format("{}: table `{}`.`{}` (from {})", Where(), t.db, t.table, t.source)));
  ASSIGN_OR_RETURN(rd_kafka_topic_t * topic, Topic(name));
  table_topics_.emplace(ch.table.get(), TopicOf{ch.table, topic});
  return topic;
}

void KafkaSink::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* self = static_cast<KafkaSink*>(opaque);
  self->failures_.emplace_back(reinterpret_cast<uintptr_t>(m->_private), m->err);
}

Status KafkaSink::Produce(const Outgoing& m, size_t index) {
  while (true) {
    void* value = m.value ? const_cast<char*>(m.value->data()) : nullptr;
    size_t value_len = m.value ? m.value->size() : 0;
    rd_kafka_resp_err_t e =
        rd_kafka_producev(producer_.get(), RD_KAFKA_V_RKT(m.topic), RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
                          RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(index))), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer_.get(), 100);  // delivery reports make room
      continue;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) failures_.emplace_back(index, e);
    return Status::Ok();
  }
}

Status KafkaSink::WaitDelivered() {
  // message.timeout.ms bounds every message; the deadline only guards
  // against a report that never comes.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (rd_kafka_outq_len(producer_.get()) > 0) {
    (void)rd_kafka_flush(producer_.get(), 1000);
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Retryable(StatusCode::kIoError, "{}: Kafka did not confirm delivery within 10 minutes", Where());
    }
  }
  return Status::Ok();
}

std::string KafkaSink::TopicsOf(const std::vector<Outgoing>& out) const {
  std::set<std::string> names;
  for (const Outgoing& m : out) {
    names.insert(rd_kafka_topic_name(m.topic));
    if (names.size() > 5) break;
  }
  names.insert(checkpoint_topic_);
  return fmt::format("{}", fmt::join(names, ", "));
}

Status KafkaSink::TxnError(const char* step, rd_kafka_error_t* error, const std::string& topics) {
  ErrorPtr e(error);
  rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  std::string where = topics.empty() ? "" : fmt::format(" (topics {})", topics);
  if (IsFencing(code)) {
    return Status::Error(StatusCode::kServerError,
                         "{}: Kafka {} failed{}: transactional.id \"{}\" was fenced: another producer with this id "
                         "(a second sluice running this pipeline?) took over; this one stops: {}",
                         Where(), step, where, transactional_id_, rd_kafka_error_string(error));
  }
  if (rd_kafka_error_is_fatal(error) || IsPermanent(code)) {
    return Status::Error(StatusCode::kServerError, "{}: Kafka {} failed{}: {} (fatal: the producer cannot continue)",
                         Where(), step, where, rd_kafka_error_string(error));
  }
  if (rd_kafka_error_txn_requires_abort(error)) {
    Status aborted = AbortIfOpen();
    if (!aborted.ok() && !aborted.retryable()) return aborted;
  }
  return Status::Retryable(StatusCode::kIoError, "{}: Kafka {} failed{}: {}", Where(), step, where,
                           rd_kafka_error_string(error));
}

Status KafkaSink::DeliveryError(rd_kafka_resp_err_t err, const std::string& topic) {
  char fatal[512];
  rd_kafka_resp_err_t f = rd_kafka_fatal_error(producer_.get(), fatal, sizeof fatal);
  if (f != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (IsFencing(f)) {
      return Status::Error(StatusCode::kServerError,
                           "{}: Kafka produce to topic {}: transactional.id \"{}\" was fenced: another producer with "
                           "this id (a second sluice running this pipeline?) took over; this one stops: {}",
                           Where(), topic, transactional_id_, fatal);
    }
    return Status::Error(StatusCode::kServerError,
                         "{}: Kafka produce to topic {}: {} (fatal: the producer cannot continue)", Where(), topic,
                         fatal);
  }
  if (IsPermanent(err)) {
    return Status::Error(StatusCode::kServerError, "{}: Kafka produce to topic {}: {}", Where(), topic,
                         rd_kafka_err2str(err));
  }
  return Status::Retryable(StatusCode::kIoError, "{}: Kafka produce to topic {} at {}: {}", Where(), topic,
                           BootstrapServers(options_.url), rd_kafka_err2str(err));
}

Status KafkaSink::AbortIfOpen() {
  if (!in_transaction_) return Status::Ok();
  if (rd_kafka_error_t* e = rd_kafka_abort_transaction(producer_.get(), kTxnTimeoutMs)) {
    ErrorPtr owned(e);
    if (rd_kafka_error_is_fatal(e)) {
      return Status::Error(StatusCode::kServerError, "{}: Kafka abort_transaction failed: {} (fatal)", Where(),
                           rd_kafka_error_string(e));
    }
    return Status::Retryable(StatusCode::kIoError, "{}: Kafka abort_transaction failed: {}", Where(),
                             rd_kafka_error_string(e));
  }
  in_transaction_ = false;
  return Status::Ok();
}

Status KafkaSink::FinishPendingCommit() {
  if (!pending_commit_) return AbortIfOpen();
  rd_kafka_error_t* e = rd_kafka_commit_transaction(producer_.get(), kTxnTimeoutMs);
  if (e == nullptr) {
    in_transaction_ = false;
    checkpoint_ = *pending_commit_;
    pending_commit_.reset();
    return Status::Ok();
  }
  if (rd_kafka_error_is_retriable(e)) return TxnError("commit_transaction", e, "");
  // Not committed: the batch is sent again.
  pending_commit_.reset();
  return TxnError("commit_transaction", e, "");
}

Status KafkaSink::Reject(const SinkChange& ch, const std::string& key, const std::string& why) {
  std::string shown_key = key.size() > 200 ? key.substr(0, 197) + "..." : key;
  std::string msg = fmt::format("{}: table `{}`.`{}` (from {}) key {} @ {}: {}", Where(), ch.table->db, ch.table->table,
                                ch.table->source, shown_key, ch.pos.ToString(), why);
  if (!options_.skip_rejected) return Status::Error(StatusCode::kServerError, "{}", msg);
  if (!options_.skip_log.empty()) {
    std::string line = SkipRecord(options_.pipeline, options_.target, ch, key, why);
    // Durable before the batch leaving the change out is recorded.
    Status written = AppendDurably(options_.skip_log, line);
    if (!written.ok()) return Status::Error(StatusCode::kIoError, "{}; not skipped: {}", written.message(), msg);
  }
  spdlog::warn("skipped (on_error: skip): {}", msg);
  skipped_.insert(ch.pos);
  rows_skipped_.fetch_add(1);
  return Status::Ok();
}

Status KafkaSink::DeliverOnce(std::vector<Outgoing>& out, const std::optional<std::string>& position,
                              const Checkpoint& next, const std::vector<SinkChange>* changes, bool* redo) {
  *redo = false;
  failures_.clear();
  if (options_.exactly_once) {
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer_.get())) return TxnError("begin_transaction", e, "");
    in_transaction_ = true;
  }
  for (size_t i = 0; i < out.size(); ++i) RETURN_IF_ERROR(Produce(out[i], i));
  // Every message acknowledged before the position is written: without
  // transactions that is what makes the position safe to resume from.
  RETURN_IF_ERROR(WaitDelivered());
  std::vector<std::pair<size_t, rd_kafka_resp_err_t>> failures = std::move(failures_);
  failures_.clear();
  std::vector<size_t> rejected;
  std::unordered_map<size_t, rd_kafka_resp_err_t> error_of;
  for (const auto& [index, err] : failures) {
    error_of[index] = err;
    const Outgoing& m = out[index];
    if (RejectsMessage(err) && m.change >= 0 && changes != nullptr) {
      rejected.push_back(index);
      continue;
    }
    Status st = DeliveryError(err, rd_kafka_topic_name(m.topic));
    Status aborted = AbortIfOpen();
    if (!st.retryable() || aborted.ok()) return st;
    return aborted;
  }
  for (size_t index : rejected) {
    const Outgoing& m = out[index];
    const SinkChange& ch = (*changes)[m.change];
    size_t bytes = m.key.size() + (m.value ? m.value->size() : 0);
    std::string why = fmt::format("Kafka refused the message ({} bytes) for topic {}: {}", bytes,
                                  rd_kafka_topic_name(m.topic), rd_kafka_err2str(error_of[index]));
    Status st = Reject(ch, m.key, why);
    if (!st.ok()) {
      Status aborted = AbortIfOpen();
      (void)aborted;  // the rejection is what the user must see
      return st;
    }
  }
  if (!rejected.empty() && options_.exactly_once) {
    // The transaction cannot commit with a failed message in it: send the
    // batch again without the skipped changes.
    RETURN_IF_ERROR(AbortIfOpen());
    std::vector<Outgoing> kept;
    for (Outgoing& m : out) {
      if (m.change < 0 || !skipped_.contains((*changes)[m.change].pos)) kept.push_back(std::move(m));
    }
    out = std::move(kept);
    *redo = true;
    return Status::Ok();
  }
  // The position record (a tombstone when position is nullopt: reset).
  rd_kafka_topic_t* cp_topic = nullptr;
  ASSIGN_OR_RETURN(cp_topic, Topic(checkpoint_topic_));
  std::string key = CheckpointKey(options_.pipeline, options_.target);
  void* value = position ? const_cast<char*>(position->data()) : nullptr;
  rd_kafka_resp_err_t e = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_RKT(cp_topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(value, (position ? position->size() : 0)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(out.size()))), RD_KAFKA_V_END);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) failures_.emplace_back(out.size(), e);
  if (options_.exactly_once) {
    if (failures_.empty()) {
      if (rd_kafka_error_t* ce = rd_kafka_commit_transaction(producer_.get(), kTxnTimeoutMs)) {
        if (rd_kafka_error_is_retriable(ce)) {
          // The outcome is unknown: the next call commits again (a retried
          // commit is idempotent) before sending anything.
          pending_commit_ = next;
          return Status::Retryable(StatusCode::kIoError, "{}: Kafka commit_transaction failed (topics {}): {}", Where(),
                                   TopicsOf(out), rd_kafka_error_string(ErrorPtr(ce).get()));
        }
        return TxnError("commit_transaction", ce, TopicsOf(out));
      }
      in_transaction_ = false;
      return Status::Ok();
    }
  } else {
    RETURN_IF_ERROR(WaitDelivered());
  }
  if (!failures_.empty()) {
    Status st = DeliveryError(failures_.front().second, checkpoint_topic_);
    Status aborted = AbortIfOpen();
    return st.retryable() && !aborted.ok() ? aborted : st;
  }
  return Status::Ok();
}

Status KafkaSink::Deliver(std::vector<Outgoing>& out, const std::optional<std::string>& position, const BatchEnd& end,
                          const std::vector<SinkChange>* changes) {
  Checkpoint next;
  if (position) {
    next.global = end.pos;
    next.resume_position = end.resume_position;
    next.gtid_state = end.gtid_state;
  }
  for (bool redo = true; redo;) RETURN_IF_ERROR(DeliverOnce(out, position, next, changes, &redo));
  checkpoint_ = next;
  return Status::Ok();
}

Status KafkaSink::ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  RETURN_IF_ERROR(FinishPendingCommit());
  const StreamPos& done = checkpoint_.global;
  if (!done.empty() && end.pos <= done) return Status::Ok();  // committed before a crash or a lost answer
  std::vector<Outgoing> out;
  out.reserve(changes.size());
  std::vector<format::Message> messages;
  uint64_t produced = 0;
  for (size_t i = 0; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    if ((!done.empty() && ch.pos <= done) || skipped_.contains(ch.pos)) continue;
    std::string position = TxnPosition(ch.pos);
    format::ChangeContext ctx;
    if (ch.origin) ctx.gtid = ch.origin->gtid;
    ctx.position = position;
    ctx.last_in_transaction = i + 1 == changes.size() || changes[i + 1].pos.file != ch.pos.file ||
                              changes[i + 1].pos.txn_offset != ch.pos.txn_offset;
    messages.clear();
    Status st = encoder_->EncodeChange(ch, ctx, messages);
    if (!st.ok()) {
      RETURN_IF_ERROR(Reject(ch, "", st.message()));
      continue;
    }
    ASSIGN_OR_RETURN(rd_kafka_topic_t * topic, TopicFor(ch));
    for (format::Message& m : messages) {
      out.push_back(Outgoing{topic, std::move(m.key), std::move(m.value), static_cast<int64_t>(i)});
    }
    ++produced;
  }
  uint64_t skipped_before = rows_skipped_.load();
  RETURN_IF_ERROR(Deliver(out, EncodeCheckpoint(end), end, &changes));
  rows_applied_ += produced - std::min(produced, rows_skipped_.load() - skipped_before);
  return Status::Ok();
}

Status KafkaSink::AdvanceCheckpoint(const BatchEnd& end) {
  RETURN_IF_ERROR(FinishPendingCommit());
  if (!checkpoint_.global.empty() && end.pos == checkpoint_.global &&
      end.resume_position == checkpoint_.resume_position) {
    return Status::Ok();
  }
  std::vector<Outgoing> none;
  return Deliver(none, EncodeCheckpoint(end), end, nullptr);
}

Status KafkaSink::ResetCheckpoint() {
  RETURN_IF_ERROR(FinishPendingCommit());
  std::vector<Outgoing> none;
  RETURN_IF_ERROR(Deliver(none, std::nullopt, BatchEnd{}, nullptr));
  skipped_.clear();
  return Status::Ok();
}

Status KafkaSink::ApplyDdl(const DdlChange& ddl, const BatchEnd& end) {
  RETURN_IF_ERROR(FinishPendingCommit());
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();
  std::string position = TxnPosition(ddl.pos);
  format::DdlEvent ev;
  ev.db = ddl.target_db.empty() ? ddl.db : ddl.target_db;
  ev.table = ddl.target_table;
  ev.query = ddl.query;
  ev.ts_ms = ddl.ts_ms;
  ev.gtid = ddl.gtid;
  ev.position = position;
  std::string name = ExpandTopic(options_.ddl_topic, options_.pipeline, ev.db, ev.table);
  RETURN_IF_ERROR(
      CheckTopicName(name).WithContext(fmt::format("{}: ddl_topic for DDL @ {}", Where(), ddl.pos.ToString())));
  ASSIGN_OR_RETURN(rd_kafka_topic_t * topic, Topic(name));
  std::vector<format::Message> messages;
  RETURN_IF_ERROR(
      encoder_->EncodeDdl(ev, messages).WithContext(fmt::format("{}: DDL @ {}", Where(), ddl.pos.ToString())));
  std::vector<Outgoing> out;
  for (format::Message& m : messages) out.push_back(Outgoing{topic, std::move(m.key), std::move(m.value), -1});
  return Deliver(out, EncodeCheckpoint(end), end, nullptr);
}

Status KafkaSink::Reconnect() {
  char fatal[512];
  if (producer_ && rd_kafka_fatal_error(producer_.get(), fatal, sizeof fatal) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    Status st = pending_commit_ ? FinishPendingCommit() : AbortIfOpen();
    if (st.ok() || !st.retryable()) return st;
  }
  // A producer that cannot go on (or a transaction that cannot be ended):
  // a new one. With exactly_once its init aborts what the old one left
  // open, so the position is read again to learn whether a commit whose
  // answer was lost went through.
  pending_commit_.reset();
  RETURN_IF_ERROR(CreateProducer());
  return LoadCheckpoint();
}

}  // namespace sluice::sink::kafka
