#include "sink/kafka/checkpoint_reader.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string_view>

#include "sink/kafka/kafka_config.h"

namespace sluice::sink::kafka {
namespace {

constexpr int kTimeoutMs = 10000;
constexpr int kSliceMs = 500;  // how often a wait looks at the interrupter

bool Cut(const Interrupter* interrupt) { return interrupt != nullptr && interrupt->interrupted(); }

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};

// Scans [from, to) of partition 0, handing every record to `seen`.
Status Scan(rd_kafka_t* rk, const std::string& topic, int64_t from, int64_t to,
            const std::function<void(std::string_view key, const rd_kafka_message_t& m)>& seen,
            const Interrupter* interrupt) {
  std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> parts(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), 0)->offset = from;
  if (rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts.get())) {
    return Status::Error(StatusCode::kIoError, "assign {}: {}", topic, rd_kafka_err2str(e));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(6 * kTimeoutMs);
  int64_t next = from;
  while (next < to) {
    if (std::chrono::steady_clock::now() > deadline || Cut(interrupt)) {
      return Status::Retryable(StatusCode::kIoError, "reading {} partition 0 stopped at offset {} of {}{}", topic, next,
                               to, Cut(interrupt) ? " (interrupted)" : "");
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, kSliceMs);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(m);
      break;  // read_committed: the end of what is committed
    }
    if (m->err) {
      Status st = Status::Retryable(StatusCode::kIoError, "reading {}: {}", topic, rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      return st;
    }
    next = m->offset + 1;
    seen(std::string_view(static_cast<const char*>(m->key), m->key ? m->key_len : 0), *m);
    rd_kafka_message_destroy(m);
  }
  (void)rd_kafka_assign(rk, nullptr);
  return Status::Ok();
}

std::optional<std::string> ValueOf(const rd_kafka_message_t& m) {
  if (m.payload == nullptr) return std::nullopt;  // a tombstone
  return std::string(static_cast<const char*>(m.payload), m.len);
}

// A consumer without a group that reads committed records of partition 0.
Result<HandlePtr> OpenReader(const Url& url) {
  ASSIGN_OR_RETURN(ConfPtr conf, BaseConf(url));
  RETURN_IF_ERROR(SetConf(conf.get(), "group.id", "sluice-checkpoint-reader"));  // required; never joined
  RETURN_IF_ERROR(SetConf(conf.get(), "enable.auto.commit", "false"));
  RETURN_IF_ERROR(SetConf(conf.get(), "isolation.level", "read_committed"));
  RETURN_IF_ERROR(SetConf(conf.get(), "enable.partition.eof", "true"));
  char err[512];
  HandlePtr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
  if (!rk) return Status::Invalid("Kafka consumer: {}", err);
  (void)conf.release();  // owned by the handle now
  return rk;
}

// The offsets of partition 0; false when the topic does not exist yet.
Result<bool> Watermarks(rd_kafka_t* rk, const Url& url, const std::string& topic, int64_t* lo, int64_t* hi,
                        const Interrupter* interrupt) {
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
  for (int waited = 0; e == RD_KAFKA_RESP_ERR__TIMED_OUT && waited < kTimeoutMs && !Cut(interrupt);
       waited += kSliceMs) {
    e = rd_kafka_query_watermark_offsets(rk, topic.c_str(), 0, lo, hi, kSliceMs);
  }
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return false;
  if (e) {
    return Status::Retryable(StatusCode::kIoError, "reading topic {} at {}: {}", topic, BootstrapServers(url),
                             rd_kafka_err2str(e));
  }
  return true;
}

}  // namespace

Result<std::optional<std::string>> ReadLastValue(const Url& url, const std::string& topic, const std::string& key,
                                                 const Interrupter* interrupt) {
  ASSIGN_OR_RETURN(HandlePtr rk, OpenReader(url));
  int64_t lo = 0, hi = 0;
  ASSIGN_OR_RETURN(bool exists, Watermarks(rk.get(), url, topic, &lo, &hi, interrupt));
  if (!exists) return std::optional<std::string>();
  // Scan back from the end in growing windows: the record is usually among
  // the last ones (compaction keeps the topic small; the window keeps an
  // uncompacted one cheap too).
  std::optional<std::optional<std::string>> found;
  int64_t to = hi;
  for (int64_t window = 256; to > lo && !found; window *= 4) {
    int64_t from = std::max(lo, to - window);
    auto seen = [&](std::string_view k, const rd_kafka_message_t& m) {
      if (k == key) found.emplace(ValueOf(m));
    };
    RETURN_IF_ERROR(Scan(rk.get(), topic, from, to, seen, interrupt)
                        .WithContext(fmt::format("reading the position from {}", BootstrapServers(url))));
    to = from;
  }
  rd_kafka_consumer_close(rk.get());
  return found ? *found : std::optional<std::string>();
}

Result<std::map<std::string, std::string>> ReadValuesWithPrefix(const Url& url, const std::string& topic,
                                                                const std::string& prefix,
                                                                const Interrupter* interrupt) {
  ASSIGN_OR_RETURN(HandlePtr rk, OpenReader(url));
  int64_t lo = 0, hi = 0;
  std::map<std::string, std::string> values;
  ASSIGN_OR_RETURN(bool exists, Watermarks(rk.get(), url, topic, &lo, &hi, interrupt));
  if (!exists || lo >= hi) return values;
  auto seen = [&](std::string_view k, const rd_kafka_message_t& m) {
    if (!k.starts_with(prefix)) return;
    std::optional<std::string> v = ValueOf(m);
    if (v) {
      values[std::string(k)] = std::move(*v);
    } else {
      values.erase(std::string(k));
    }
  };
  RETURN_IF_ERROR(Scan(rk.get(), topic, lo, hi, seen, interrupt)
                      .WithContext(fmt::format("reading topic {} at {}", topic, BootstrapServers(url))));
  rd_kafka_consumer_close(rk.get());
  return values;
}

}  // namespace sluice::sink::kafka
