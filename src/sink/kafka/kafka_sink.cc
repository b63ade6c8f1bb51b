#include "sink/kafka/kafka_sink.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/json_writer.h"
#include "format/format_util.h"
#include "sink/fence.h"
#include "sink/kafka/checkpoint_reader.h"
#include "sink/kafka/checkpoint_record.h"
#include "sink/kafka/kafka_chunk_target.h"
#include "sink/kafka/topic_template.h"
#include "sink/skip_log.h"

namespace sluice::sink::kafka {
namespace {

constexpr int kTxnTimeoutMs = 15000;
// Waits on the cluster are made in slices this long (transactional calls
// resume where a timed-out one left off), so that a stop while the
// brokers hang or are gone ends them (SinkOptions::interrupt).
constexpr int kWaitSliceMs = 200;
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

// A delivery report's opaque: the batch's seq and the message's index in
// it (kRecordIndex: the batch's position record).
constexpr uint64_t kRecordIndex = 0xffffffffu;
uint64_t Opaque(uint32_t seq, uint64_t index) { return (static_cast<uint64_t>(seq) << 32) | index; }

// Whether a fatal error is the coordinator refusing a producer-epoch bump
// (librdkafka's words for a failed InitProducerId). Inside a transaction
// that is an abort's bump after failed messages (timeouts, a sequence out
// of step), whatever failed them. For a lone sluice a refusal means the
// answer to a first bump was lost and its retry refused; a second producer
// of the id is met first at the produce and EndTxn requests it fences.
bool RefusedEpochBump(const char* fatal) {
  return std::string_view(fatal).find("Failed to acquire transactional PID") != std::string_view::npos;
}

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
  std::string txn_ms = options.url.Param("transaction_ms", "200");
  char* end = nullptr;
  long ms = std::strtol(txn_ms.c_str(), &end, 10);
  if (end == txn_ms.c_str() || *end != '\0' || ms < 0) {
    return Status::Invalid("{}: transaction_ms \"{}\" is not a number of milliseconds", s->Where(), txn_ms);
  }
  s->transaction_time_ = std::chrono::milliseconds(ms);
  // '/' cannot occur in pipeline or target names: one id per target.
  s->transactional_id_ = "sluice/" + options.pipeline + "/" + options.target;
  if (!options.former_targets.empty()) {
    // A target renamed in the configuration: its old name's records, written again under this one.
    ASSIGN_OR_RETURN(auto records, KafkaChunkTarget::Open(options));
    RETURN_IF_ERROR(records->TakeOverRenamedTarget(options.pipeline, options.target, options.former_targets));
  }
  RETURN_IF_ERROR(s->CreateProducer());
  RETURN_IF_ERROR(s->LoadCheckpoint());
  s->checkpoint_ = s->recorded_;
  s->synced_version_ = s->published_version_ = s->recorded_version_;
  s->published_ = s->recorded_;
  s->handed_ = s->published_handed_ = s->recorded_.global;
  s->thread_ = std::thread([p = s.get()] { p->Run(); });
  return s;
}

KafkaSink::~KafkaSink() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stop_thread_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Interrupted (a stop while the cluster does not answer): left open; the
  // next producer of the transactional.id aborts it (init_transactions).
  if (producer_ && in_transaction_ && !Interrupted()) {
    ErrorPtr(rd_kafka_abort_transaction(producer_.get(), 5000));
  }
  for (auto& [name, t] : topics_) rd_kafka_topic_destroy(t);
}

bool KafkaSink::Interrupted() const { return options_.interrupt != nullptr && options_.interrupt->interrupted(); }

rd_kafka_error_t* KafkaSink::TxnCall(rd_kafka_error_t* (*call)(rd_kafka_t*, int), rd_kafka_t* rk) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTxnTimeoutMs);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    rd_kafka_error_t* e = call(rk, static_cast<int>(std::clamp<int64_t>(left.count(), 1, kWaitSliceMs)));
    if (e == nullptr || rd_kafka_error_code(e) != RD_KAFKA_RESP_ERR__TIMED_OUT || !rd_kafka_error_is_retriable(e)) {
      return e;
    }
    if (Interrupted() || std::chrono::steady_clock::now() >= deadline) return e;
    rd_kafka_error_destroy(e);  // resumed by the next call
  }
}

std::string KafkaSink::Where() const {
  return fmt::format("pipeline {} target {}", options_.pipeline, options_.target);
}

Status KafkaSink::CreateProducer() {
  for (auto& [name, t] : topics_) rd_kafka_topic_destroy(t);
  topics_.clear();
  handles_.clear();
  producer_.reset();
  in_transaction_ = false;
  record_in_flight_.reset();
  failures_.clear();
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
    if (rd_kafka_error_t* e = TxnCall(&rd_kafka_init_transactions, rk)) {
      return TxnError("init_transactions", e, "");
    }
  }
  return Status::Ok();
}

Status KafkaSink::LoadCheckpoint() {
  auto value = ReadLastValue(options_.url, checkpoint_topic_, CheckpointKey(options_.pipeline, options_.target),
                             options_.interrupt);
  if (!value.ok()) return value.status().WithContext(Where());
  recorded_ = Checkpoint{};
  ++recorded_version_;
  if (!value->has_value()) return Status::Ok();
  auto cp = DecodeCheckpoint(**value);
  if (!cp.ok()) return cp.status().WithContext(fmt::format("{}: topic {}", Where(), checkpoint_topic_));
  recorded_ = std::move(cp).value();
  spdlog::info("{}: position {} read back from topic {}", Where(), recorded_.global.ToString(), checkpoint_topic_);
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

rd_kafka_topic_t* KafkaSink::Handle(uint32_t topic) {
  if (topic < handles_.size() && handles_[topic] != nullptr) return handles_[topic];
  auto t = Topic(TopicName(topic));
  if (!t.ok()) return nullptr;
  if (handles_.size() <= topic) handles_.resize(topic + 1, nullptr);
  handles_[topic] = *t;
  return *t;
}

uint32_t KafkaSink::TopicIndex(const std::string& name) {
  std::lock_guard lock(topics_mu_);
  auto [it, added] = topic_index_.emplace(name, static_cast<uint32_t>(topic_names_.size()));
  if (added) topic_names_.push_back(name);
  return it->second;
}

std::string KafkaSink::TopicName(uint32_t index) const {
  std::lock_guard lock(topics_mu_);
  return index < topic_names_.size() ? topic_names_[index] : std::string();
}

Result<uint32_t> KafkaSink::TopicFor(const SinkChange& ch) {
  auto it = table_topics_.find(ch.table.get());
  if (it != table_topics_.end()) return it->second.topic;
  const TargetTable& t = *ch.table;
  std::string name = ExpandTopic(options_.topic, options_.pipeline, t.db, t.table);
  RETURN_IF_ERROR(
      CheckTopicName(name).WithContext(fmt::format("{}: table `{}`.`{}` (from {})", Where(), t.db, t.table, t.source)));
  uint32_t topic = TopicIndex(name);
  table_topics_.emplace(ch.table.get(), TopicOf{ch.table, topic});
  return topic;
}

void KafkaSink::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  uint64_t id = reinterpret_cast<uintptr_t>(m->_private);
  uint32_t seq = static_cast<uint32_t>(id >> 32);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) self->failures_.emplace_back(id, m->err);
  if ((id & kRecordIndex) == kRecordIndex) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && self->record_in_flight_ == seq) {
      // Every batch up to this one is recorded.
      size_t n = 0;
      while (n < self->pending_.size() && self->pending_[n].seq != seq) ++n;
      self->Recorded(n + 1);
    }
    if (self->record_in_flight_ == seq) self->record_in_flight_.reset();
    return;
  }
  for (Batch& b : self->pending_) {
    if (b.seq == seq) {
      if (b.unacked > 0) --b.unacked;
      return;
    }
  }
}

void KafkaSink::Recorded(size_t n) {
  n = std::min(n, pending_.size());
  if (n == 0) return;
  for (size_t i = 0; i < n; ++i) recorded_rows_ += pending_[i].rows;
  recorded_ = pending_[n - 1].next;
  ++recorded_version_;
  for (size_t i = 0; i < n; ++i) Recycle(std::move(pending_[i]));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
}

void KafkaSink::Add(Batch& b, uint32_t topic, format::Message& m, int64_t change) {
  Outgoing o;
  o.topic = topic;
  o.change = change;
  o.key_at = b.bytes.size();
  o.key_size = m.key.size();
  b.bytes += m.key;
  if (m.value) {
    o.value_at = b.bytes.size();
    o.value_size = m.value->size();
    b.bytes += *m.value;
  } else {
    o.tombstone = true;
  }
  b.out.push_back(o);
}

KafkaSink::Batch KafkaSink::NewBatch() {
  std::lock_guard lock(spare_mu_);
  if (spare_.empty()) return Batch{};
  Batch b = std::move(spare_.back());
  spare_.pop_back();
  return b;
}

void KafkaSink::Recycle(Batch&& b) {
  {
    std::lock_guard lock(spare_mu_);
    if (spare_.size() >= 4) return;
  }
  b.out.clear();
  b.changes.clear();
  b.bytes.clear();
  b.record.reset();
  b.next = Checkpoint{};
  b.rows = 0;
  b.unacked = 0;
  std::lock_guard lock(spare_mu_);
  spare_.push_back(std::move(b));
}

rd_kafka_resp_err_t KafkaSink::Produce(const Batch& b, const Outgoing& m, rd_kafka_topic_t* topic, uint64_t opaque) {
  while (true) {
    void* value = m.tombstone ? nullptr : const_cast<char*>(b.bytes.data() + m.value_at);
    size_t value_len = m.tombstone ? 0 : m.value_size;
    std::string_view key = KeyOf(b, m);
    rd_kafka_resp_err_t e =
        rd_kafka_producev(producer_.get(), RD_KAFKA_V_RKT(topic), RD_KAFKA_V_KEY(key.data(), key.size()),
                          RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(opaque))), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !Interrupted()) {
      rd_kafka_poll(producer_.get(), 100);  // delivery reports make room
      continue;
    }
    return e;
  }
}

void KafkaSink::ProduceBatch(Batch& b) {
  b.unacked = 0;
  for (size_t i = 0; i < b.out.size(); ++i) {
    const Outgoing& m = b.out[i];
    if (m.change >= 0 && Skipped(b.changes[m.change].pos)) continue;
    rd_kafka_topic_t* topic = Handle(m.topic);
    if (topic == nullptr) {
      failures_.emplace_back(Opaque(b.seq, i), rd_kafka_last_error());
      continue;
    }
    ++b.unacked;  // before producing: a report can come inside a QUEUE_FULL poll
    if (rd_kafka_resp_err_t e = Produce(b, m, topic, Opaque(b.seq, i)); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Refused before sending (too large for message.max.bytes...): a
      // failed report of its own, handled with the others.
      --b.unacked;
      failures_.emplace_back(Opaque(b.seq, i), e);
    }
  }
}

Status KafkaSink::BeginIfNeeded() {
  if (!options_.exactly_once || in_transaction_) return Status::Ok();
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer_.get())) return TxnError("begin_transaction", e, "");
  in_transaction_ = true;
  transaction_began_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status KafkaSink::Send(Batch& b) {
  if (fenced_out_) return FencedOut("produce", "fenced earlier; sending nothing");
  RETURN_IF_ERROR(BeginIfNeeded());
  b.seq = next_seq_++;
  pending_.push_back(std::move(b));
  ProduceBatch(pending_.back());
  return Status::Ok();
}

Status KafkaSink::WaitDelivered() {
  // message.timeout.ms bounds every message; the deadline only guards
  // against a report that never comes.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (rd_kafka_outq_len(producer_.get()) > 0) {
    if (Interrupted()) {
      // Not acknowledged, so not recorded: a restart sends them again.
      return Status::Retryable(StatusCode::kIoError,
                               "{}: interrupted while {} messages wait for Kafka's acknowledgement at {}", Where(),
                               rd_kafka_outq_len(producer_.get()), BootstrapServers(options_.url));
    }
    (void)rd_kafka_flush(producer_.get(), kWaitSliceMs);
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Retryable(StatusCode::kIoError, "{}: Kafka did not confirm delivery within 10 minutes", Where());
    }
  }
  // flush() serves the reports of the messages it waited for; these are
  // the ones that came in between.
  (void)rd_kafka_poll(producer_.get(), 0);
  return Status::Ok();
}

std::string KafkaSink::TopicsOfPending() const {
  std::set<std::string> names;
  for (const Batch& b : pending_) {
    for (const Outgoing& m : b.out) {
      names.insert(TopicName(m.topic));
      if (names.size() > 5) break;
    }
    if (names.size() > 5) break;
  }
  names.insert(checkpoint_topic_);
  return fmt::format("{}", fmt::join(names, ", "));
}

Status KafkaSink::TxnError(const char* step, rd_kafka_error_t* error, const std::string& topics) {
  ErrorPtr e(error);
  rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  if (code == RD_KAFKA_RESP_ERR__FATAL && producer_) {
    // Every call of a fatally failed producer says only "fatal": what
    // failed it, a newer producer of the id, is the producer's own error.
    char fatal[512];
    if (rd_kafka_resp_err_t f = rd_kafka_fatal_error(producer_.get(), fatal, sizeof fatal); IsFencing(f)) code = f;
  }
  std::string where = topics.empty() ? "" : fmt::format(" (topics {})", topics);
  if (IsFencing(code)) return FencedOut(fmt::format("{}{}", step, where), rd_kafka_error_string(error));
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

Status KafkaSink::FencedOut(const std::string& step, const std::string& detail) {
  fenced_out_ = true;
  if (options_.epoch > 0) {
    return FencedError(options_, 0,
                       fmt::format("Kafka {}: transactional.id \"{}\" fenced by a newer producer: {}", step,
                                   transactional_id_, detail));
  }
  return Status::Error(StatusCode::kServerError,
                       "{}: Kafka {} failed: transactional.id \"{}\" was fenced: another producer with this id (a "
                       "second sluice running this pipeline?) took over; this one stops: {}",
                       Where(), step, transactional_id_, detail);
}

Status KafkaSink::BumpRefused(const std::string& detail) {
  bump_refused_ = true;
  Status st = Status::Retryable(StatusCode::kIoError,
                                "{}: Kafka abort_transaction: the coordinator refused the producer-epoch bump after "
                                "failed messages ({}); taken as the answer to a retried bump whose first answer "
                                "was lost, not as another producer: a new producer takes transactional.id \"{}\" "
                                "and what was not committed is sent again",
                                Where(), detail, transactional_id_);
  spdlog::warn("{}", st.message());
  return st;
}

Status KafkaSink::DeliveryError(rd_kafka_resp_err_t err, const std::string& topic) {
  char fatal[512];
  rd_kafka_resp_err_t f = rd_kafka_fatal_error(producer_.get(), fatal, sizeof fatal);
  if (f != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (IsFencing(f)) return FencedOut("produce to topic " + topic, fatal);
    // Not another producer (e.g. a sequence desynchronised by a broker's
    // timeout): this producer cannot go on, a new one can (DoReconnect; with
    // exactly_once its init aborts what this one left open, and what was not
    // committed is sent again).
    return Status::Retryable(StatusCode::kServerError,
                             "{}: Kafka produce to topic {}: {} (fatal for this producer: a new one takes over)",
                             Where(), topic, fatal);
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
  if (rd_kafka_error_t* e = TxnCall(&rd_kafka_abort_transaction, producer_.get())) {
    ErrorPtr owned(e);
    if (rd_kafka_error_is_fatal(e)) {
      char fatal[512];
      if (fenced_out_ || IsFencing(rd_kafka_fatal_error(producer_.get(), fatal, sizeof fatal))) {
        if (!fenced_out_ && RefusedEpochBump(fatal) && options_.epoch == 0) return BumpRefused(fatal);
        return FencedOut("abort_transaction", rd_kafka_error_string(e));
      }
      // Not another producer (a sequence desynchronised by a broker's
      // timeout, say): as for a failed delivery, a new producer takes over
      // (DoReconnect), whose init aborts what this one left open.
      return Status::Retryable(StatusCode::kServerError,
                               "{}: Kafka abort_transaction failed: {} (fatal for this producer: a new one takes over)",
                               Where(), rd_kafka_error_string(e));
    }
    return Status::Retryable(StatusCode::kIoError, "{}: Kafka abort_transaction failed: {}", Where(),
                             rd_kafka_error_string(e));
  }
  in_transaction_ = false;
  return Status::Ok();
}

bool KafkaSink::Skipped(const StreamPos& pos) const {
  if (!any_skipped_.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(skipped_mu_);
  return skipped_.contains(pos);
}

Status KafkaSink::Reject(const SinkChange& ch, const std::string& key, const std::string& why) {
  std::string shown_key = key.size() > 200 ? key.substr(0, 197) + "..." : key;
  std::string msg = fmt::format("{}: table `{}`.`{}` (from {}) key {} @ {}: {}", Where(), ch.table->db, ch.table->table,
                                ch.table->source, shown_key, ch.pos.ToString(), why);
  if (!options_.skip_rejected) return Status::Error(StatusCode::kServerError, "{}", msg);
  std::lock_guard lock(skipped_mu_);  // one line at a time in skip_log, from either thread
  if (!options_.skip_log.empty()) {
    std::string line = SkipRecord(options_.pipeline, options_.target, ch, key, why);
    // Durable before the batch leaving the change out is recorded.
    Status written = AppendDurably(options_.skip_log, line);
    if (!written.ok()) return Status::Error(StatusCode::kIoError, "{}; not skipped: {}", written.message(), msg);
  }
  spdlog::warn("skipped (on_error: skip): {}", msg);
  skipped_.insert(ch.pos);
  any_skipped_.store(true, std::memory_order_release);
  rows_skipped_.fetch_add(1);
  return Status::Ok();
}

Status KafkaSink::HandleFailures() {
  RETURN_IF_ERROR(WaitDelivered());
  std::vector<std::pair<uint64_t, rd_kafka_resp_err_t>> failures = std::move(failures_);
  failures_.clear();
  // Every report is in: what is neither acknowledged nor left out is sent
  // again, from the first batch not recorded on (each later one too, so
  // that the last change of a key stays the last one in its partition).
  resend_ = true;
  record_in_flight_.reset();
  Status error = Status::Ok();
  bool rejected = false;
  for (const auto& [id, err] : failures) {
    uint32_t seq = static_cast<uint32_t>(id >> 32);
    uint64_t index = id & kRecordIndex;
    const Batch* b = nullptr;
    for (const Batch& x : pending_) {
      if (x.seq == seq) b = &x;
    }
    if (b == nullptr) continue;  // recorded since (a report of a batch sent twice)
    if (index != kRecordIndex && index < b->out.size()) {
      const Outgoing& m = b->out[index];
      if (RejectsMessage(err) && m.change >= 0) {
        const SinkChange& ch = b->changes[m.change];
        if (Skipped(ch.pos)) continue;
        size_t bytes = m.key_size + m.value_size;
        std::string why = fmt::format("Kafka refused the message ({} bytes) for topic {}: {}", bytes,
                                      TopicName(m.topic), rd_kafka_err2str(err));
        Status st = Reject(ch, std::string(KeyOf(*b, m)), why);
        if (!st.ok()) {
          (void)AbortIfOpen();  // the rejection is what the user must see
          return st;
        }
        rejected = true;
        continue;
      }
      if (error.ok()) error = DeliveryError(err, TopicName(m.topic));
    } else if (error.ok()) {
      error = DeliveryError(err, checkpoint_topic_);
    }
  }
  if (error.ok() && rejected && !options_.exactly_once) {
    // Only skipped changes failed: every other message is acknowledged.
    resend_ = false;
    for (Batch& b : pending_) b.unacked = 0;
    return Status::Ok();
  }
  // A transaction cannot commit with a failed message in it: aborted, and
  // sent again (without the skipped changes) by Recover.
  Status aborted = AbortIfOpen();
  if (!error.ok()) return error.retryable() && !aborted.ok() ? aborted : error;
  return aborted;
}

Status KafkaSink::Recover() {
  if (pending_commit_) {
    rd_kafka_error_t* e = TxnCall(&rd_kafka_commit_transaction, producer_.get());
    if (e != nullptr) {
      // Not retriable: not committed, the batches are sent again.
      if (!rd_kafka_error_is_retriable(e)) {
        pending_commit_ = false;
        resend_ = true;
      }
      return TxnError("commit_transaction", e, TopicsOfPending());
    }
    in_transaction_ = false;
    pending_commit_ = false;
    Recorded(pending_.size());
  }
  if (!resend_) return Status::Ok();
  RETURN_IF_ERROR(AbortIfOpen());
  // A new producer read the position back: what it covers is there.
  size_t covered = 0;
  while (covered < pending_.size() && pending_[covered].record && !recorded_.global.empty() &&
         pending_[covered].next.global <= recorded_.global) {
    recorded_rows_ += pending_[covered].rows;
    ++covered;
  }
  if (covered > 0) ++recorded_version_;
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(covered));
  if (pending_.empty()) {
    resend_ = false;
    return Status::Ok();
  }
  RETURN_IF_ERROR(BeginIfNeeded());
  resend_ = false;
  for (Batch& b : pending_) ProduceBatch(b);
  return Status::Ok();
}

Status KafkaSink::RecordAcknowledged() {
  if (record_in_flight_) return Status::Ok();
  size_t n = 0;
  while (n < pending_.size() && pending_[n].unacked == 0) ++n;
  if (n == 0) return Status::Ok();
  const Batch& b = pending_[n - 1];
  ASSIGN_OR_RETURN(rd_kafka_topic_t * cp_topic, Topic(checkpoint_topic_));
  std::string key = CheckpointKey(options_.pipeline, options_.target);
  void* value = b.record ? const_cast<char*>(b.record->data()) : nullptr;
  uint64_t opaque = Opaque(b.seq, kRecordIndex);
  rd_kafka_resp_err_t e = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_RKT(cp_topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(value, (b.record ? b.record->size() : 0)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(opaque))), RD_KAFKA_V_END);
  if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) return Status::Ok();  // on a later call
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failures_.emplace_back(opaque, e);
    return Status::Ok();
  }
  if (!options_.exactly_once) record_in_flight_ = b.seq;
  return Status::Ok();
}

Status KafkaSink::Commit() {
  if (!in_transaction_) return Status::Ok();
  if (fenced_out_) return FencedOut("commit_transaction", "fenced earlier; committing nothing");
  // Every message acknowledged first: a refused one is skipped (on_error:
  // skip) by sending the batches again without it, which an open
  // transaction cannot do.
  RETURN_IF_ERROR(WaitDelivered());
  if (!failures_.empty()) return HandleFailures();
  for (Batch& b : pending_) b.unacked = 0;
  RETURN_IF_ERROR(RecordAcknowledged());
  if (!failures_.empty()) return HandleFailures();
  if (rd_kafka_error_t* ce = TxnCall(&rd_kafka_commit_transaction, producer_.get())) {
    if (rd_kafka_error_is_retriable(ce)) {
      // The outcome is unknown: the next call commits again (a retried
      // commit is idempotent) before sending anything.
      pending_commit_ = true;
      return Status::Retryable(StatusCode::kIoError, "{}: Kafka commit_transaction failed (topics {}): {}", Where(),
                               TopicsOfPending(), rd_kafka_error_string(ErrorPtr(ce).get()));
    }
    resend_ = true;
    return TxnError("commit_transaction", ce, TopicsOfPending());
  }
  in_transaction_ = false;
  Recorded(pending_.size());
  return Status::Ok();
}

Status KafkaSink::Settle(bool all) {
  (void)rd_kafka_poll(producer_.get(), 0);
  while (true) {
    if (!failures_.empty()) {
      RETURN_IF_ERROR(HandleFailures());
      RETURN_IF_ERROR(Recover());  // only skipped changes failed: on without them
      continue;
    }
    if (options_.exactly_once) {
      if (all || std::chrono::steady_clock::now() - transaction_began_ >= transaction_time_) {
        RETURN_IF_ERROR(Commit());
        if (!failures_.empty() || resend_) continue;
      }
      return Status::Ok();
    }
    RETURN_IF_ERROR(RecordAcknowledged());
    if (!all || pending_.empty()) {
      if (!failures_.empty()) continue;
      return Status::Ok();
    }
    RETURN_IF_ERROR(WaitDelivered());
    if (failures_.empty() && !record_in_flight_ && pending_.front().unacked > 0) {
      // Every report is in and still one is missing: never wait for it.
      resend_ = true;
      RETURN_IF_ERROR(Recover());
    }
  }
}

// ---- The caller's thread ----

void KafkaSink::SyncLocked() {
  if (synced_version_ != published_version_) {
    checkpoint_ = published_;
    rows_applied_ = published_rows_;
    synced_version_ = published_version_;
  }
  in_flight_ = published_pending_ || busy_ || !queue_.empty();
}

Status KafkaSink::Resume() {
  std::lock_guard lock(mu_);
  SyncLocked();
  if (error_) {
    Status st = std::move(*error_);
    error_.reset();
    return st;
  }
  if (stopped_) {
    // The caller saw the error and calls again: the producer thread goes
    // on (Recover first, as every step), like the call itself would have.
    stopped_ = false;
    cv_.notify_all();
  }
  return Status::Ok();
}

Status KafkaSink::RunOnProducer(std::function<Status()> fn, bool first) {
  auto call = std::make_shared<Call>();
  call->fn = std::move(fn);
  call->first = first;
  std::unique_lock lock(mu_);
  Work w;
  w.call = call;
  if (first) {
    queue_.push_front(std::move(w));
  } else {
    queue_.push_back(std::move(w));
  }
  cv_.notify_all();
  cv_.wait(lock, [&] { return call->done || (error_ && !first); });
  if (!call->done) {
    // A batch before it failed and the thread stopped: that error is this
    // call's, and the call is not made (the thread does not touch a
    // stopped queue but for `first` work).
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->call == call) {
        queue_.erase(it);
        break;
      }
    }
    Status st = std::move(*error_);
    error_.reset();
    SyncLocked();
    return st;
  }
  SyncLocked();
  if (!first) handed_ = published_handed_;  // nothing queued after it: the thread's is the caller's
  return call->result;
}

Status KafkaSink::Poll() { return Resume(); }

Status KafkaSink::Flush() {
  RETURN_IF_ERROR(Resume());
  return RunOnProducer([this] { return DoFlush(); });
}

Status KafkaSink::ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  return Apply(changes, end, nullptr);
}

Status KafkaSink::ApplyBatchTakingOver(std::vector<SinkChange>& changes, const BatchEnd& end) {
  return Apply(changes, end, &changes);
}

Status KafkaSink::Apply(const std::vector<SinkChange>& changes, const BatchEnd& end, std::vector<SinkChange>* take) {
  RETURN_IF_ERROR(Resume());
  const StreamPos done = handed_;
  if (!done.empty() && end.pos <= done) return Status::Ok();  // committed before a crash or a lost answer
  Batch b = NewBatch();
  b.out.reserve(changes.size());
  b.record = EncodeCheckpoint(end);
  b.next.global = end.pos;
  b.next.resume_position = end.resume_position;
  b.next.gtid_state = end.gtid_state;
  std::vector<format::Message>& messages = messages_;
  std::string position;
  const StreamPos* position_of = nullptr;  // the transaction `position` names
  // Changes come in stream order: once one is past `done`, so is the rest
  // (a position comparison per change parses both file names).
  bool maybe_done = !done.empty();
  for (size_t i = 0; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    if (maybe_done) {
      if (ch.pos <= done) continue;
      maybe_done = false;
    }
    if (Skipped(ch.pos)) continue;
    if (position_of == nullptr || position_of->txn_offset != ch.pos.txn_offset || position_of->file != ch.pos.file) {
      // Once per transaction: its rows share it.
      position = ch.pos.file;
      if (!ch.pos.is_lsn()) {  // PostgreSQL: the commit LSN alone
        position += ':';
        format::AppendUInt(position, ch.pos.txn_offset);
      }
      position_of = &ch.pos;
    }
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
    ASSIGN_OR_RETURN(uint32_t topic, TopicFor(ch));
    for (format::Message& m : messages) {
      Add(b, topic, m, static_cast<int64_t>(i));
    }
    ++b.rows;
  }
  std::unique_lock lock(mu_);
  // Room in the queue first: an error that comes meanwhile is this call's,
  // and the caller keeps its batch for the retry.
  cv_.wait(lock, [&] { return queue_.size() < kQueuedBatches || error_; });
  if (error_) {
    Status st = std::move(*error_);
    error_.reset();
    SyncLocked();
    return st;
  }
  if (take != nullptr) {
    b.changes.swap(*take);  // the caller gets a recycled vector back, capacity kept
  } else {
    b.changes = changes;
  }
  Work w;
  w.batch = std::move(b);
  queue_.push_back(std::move(w));
  handed_ = end.pos;
  in_flight_ = true;
  cv_.notify_all();
  return Status::Ok();
}

Status KafkaSink::AdvanceCheckpoint(const BatchEnd& end) {
  RETURN_IF_ERROR(Resume());
  return RunOnProducer([this, &end] { return DoAdvanceCheckpoint(end); });
}

Status KafkaSink::ResetCheckpoint() {
  RETURN_IF_ERROR(Resume());
  return RunOnProducer([this] { return DoResetCheckpoint(); });
}

Status KafkaSink::ApplyDdl(const DdlChange& ddl, const BatchEnd& end) {
  RETURN_IF_ERROR(Resume());
  return RunOnProducer([this, &ddl, &end] { return DoApplyDdl(ddl, end); });
}

Status KafkaSink::Reconnect() {
  {
    // Reconnect answers the error the caller saw; one that came since is
    // what the reconnect itself is for.
    std::lock_guard lock(mu_);
    error_.reset();
  }
  Status st = RunOnProducer([this] { return DoReconnect(); }, /*first=*/true);
  std::lock_guard lock(mu_);
  if (st.ok()) {
    stopped_ = false;  // sends what waited in the queue, after the batches Recover sends again
    cv_.notify_all();
  }
  return st;
}

// ---- The producer thread ----

void KafkaSink::PublishLocked() {
  if (published_version_ != recorded_version_) {
    published_ = recorded_;
    published_rows_ = recorded_rows_;
    published_version_ = recorded_version_;
  }
  published_pending_ = !pending_.empty();
  published_handed_ = HandedOver();
}

void KafkaSink::Run() {
  pthread_setname_np(pthread_self(), "sl-kafka");  // beside the pipeline's sl-target in perf and /proc
  std::unique_lock lock(mu_);
  auto runnable = [&] { return !queue_.empty() && (!stopped_ || (queue_.front().call && queue_.front().call->first)); };
  while (!stop_thread_) {
    if (runnable()) {
      Work w = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      Status st;
      bool taken = true;
      if (w.call) {
        st = w.call->fn();
      } else {
        st = SendQueued(w.batch, &taken);
      }
      lock.lock();
      busy_ = false;
      if (w.call) {
        w.call->result = st;
        w.call->done = true;
        stopped_ = !st.ok();
      } else {
        if (!taken) queue_.push_front(std::move(w));
        if (!st.ok()) {
          error_ = std::move(st);
          stopped_ = true;
        }
      }
      PublishLocked();
      cv_.notify_all();
      continue;
    }
    if (!stopped_ && !pending_.empty()) {
      // Between batches: delivery reports, position records, the
      // transaction's commit once transaction_ms passed.
      lock.unlock();
      Status st = Recover();
      if (st.ok()) st = Settle(false);
      lock.lock();
      if (!st.ok()) {
        error_ = std::move(st);
        stopped_ = true;
      }
      PublishLocked();
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::milliseconds(1), [&] { return stop_thread_ || runnable(); });
      continue;
    }
    cv_.wait(lock, [&] { return stop_thread_ || runnable() || (!stopped_ && !pending_.empty()); });
  }
}

Status KafkaSink::SendQueued(Batch& b, bool* taken) {
  *taken = false;
  RETURN_IF_ERROR(Recover());
  const StreamPos& done = HandedOver();
  if (!done.empty() && b.next.global <= done) {
    // Covered by what a new producer read back: recorded before.
    *taken = true;
    Recycle(std::move(b));
    return Status::Ok();
  }
  RETURN_IF_ERROR(Send(b));
  *taken = true;
  return Settle(false);
}

Status KafkaSink::DoFlush() {
  RETURN_IF_ERROR(Recover());
  return Settle(true);
}

Status KafkaSink::DoAdvanceCheckpoint(const BatchEnd& end) {
  RETURN_IF_ERROR(Recover());
  if (!HandedOver().empty() && end.pos == HandedOver() &&
      end.resume_position == (pending_.empty() ? recorded_ : pending_.back().next).resume_position) {
    return DoFlush();
  }
  Batch b;
  b.record = EncodeCheckpoint(end);
  b.next.global = end.pos;
  b.next.resume_position = end.resume_position;
  b.next.gtid_state = end.gtid_state;
  RETURN_IF_ERROR(Send(b));
  return DoFlush();
}

Status KafkaSink::DoResetCheckpoint() {
  RETURN_IF_ERROR(DoFlush());
  Batch tombstone;  // a tombstone for a record, an empty checkpoint next
  RETURN_IF_ERROR(Send(tombstone));
  RETURN_IF_ERROR(DoFlush());
  std::lock_guard lock(skipped_mu_);
  skipped_.clear();
  any_skipped_.store(false, std::memory_order_release);
  return Status::Ok();
}

Status KafkaSink::DoApplyDdl(const DdlChange& ddl, const BatchEnd& end) {
  RETURN_IF_ERROR(Recover());
  if (!HandedOver().empty() && end.pos <= HandedOver()) return DoFlush();
  std::string position = ddl.pos.TransactionText();
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
  uint32_t topic = TopicIndex(name);
  std::vector<format::Message> messages;
  RETURN_IF_ERROR(
      encoder_->EncodeDdl(ev, messages).WithContext(fmt::format("{}: DDL @ {}", Where(), ddl.pos.ToString())));
  Batch b;
  for (format::Message& m : messages) Add(b, topic, m, -1);
  b.record = EncodeCheckpoint(end);
  b.next.global = end.pos;
  b.next.resume_position = end.resume_position;
  b.next.gtid_state = end.gtid_state;
  RETURN_IF_ERROR(Send(b));
  return DoFlush();
}

Status KafkaSink::DoReconnect() {
  char fatal[512];
  rd_kafka_resp_err_t f =
      producer_ ? rd_kafka_fatal_error(producer_.get(), fatal, sizeof fatal) : RD_KAFKA_RESP_ERR_NO_ERROR;
  // Fenced: a new producer's init_transactions would take the
  // transactional.id back and fence the newer owner's producer in turn. A
  // fenced producer stays fenced, whatever error its caller retries.
  if (options_.exactly_once && (fenced_out_ || IsFencing(f)) && !bump_refused_) {
    return FencedOut("reconnect", fenced_out_ ? "fenced earlier; not making a new producer"
                                              : std::string(fatal) + "; not making a new producer");
  }
  if (producer_ && f == RD_KAFKA_RESP_ERR_NO_ERROR) {
    Status st = Recover();
    if (st.ok() || !st.retryable()) return st;
  }
  // A producer that cannot go on (or a transaction that cannot be ended):
  // a new one. With exactly_once its init aborts what the old one left
  // open, so the position is read again to learn whether a commit whose
  // answer was lost went through; what it covers is not sent again.
  pending_commit_ = false;
  resend_ = !pending_.empty();
  bump_refused_ = false;
  RETURN_IF_ERROR(CreateProducer());
  RETURN_IF_ERROR(LoadCheckpoint());
  return Status::Ok();
}

}  // namespace sluice::sink::kafka
