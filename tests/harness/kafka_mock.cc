#include "harness/kafka_mock.h"

#include <algorithm>
#include <chrono>
#include <map>

namespace sluice::testing {
namespace {

struct Handle {
  rd_kafka_t* rk = nullptr;
  ~Handle() {
    if (rk) rd_kafka_destroy(rk);
  }
};

Result<rd_kafka_t*> NewClient(rd_kafka_type_t type, const std::string& bootstraps) {
  char err[512];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  auto set = [&](const char* k, const char* v) {
    return rd_kafka_conf_set(c, k, v, err, sizeof err) == RD_KAFKA_CONF_OK;
  };
  bool ok = (bootstraps.empty() || set("bootstrap.servers", bootstraps.c_str())) && set("log_level", "3");
  if (ok && type == RD_KAFKA_CONSUMER) {
    ok = set("group.id", "sluice-test-reader") && set("enable.auto.commit", "false") &&
         set("enable.partition.eof", "true");
  }
  if (!ok) {
    rd_kafka_conf_destroy(c);
    return Status::Invalid("kafka conf: {}", err);
  }
  rd_kafka_t* rk = rd_kafka_new(type, c, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(c);
    return Status::Invalid("rd_kafka_new: {}", err);
  }
  return rk;
}

}  // namespace

Result<std::unique_ptr<KafkaMock>> KafkaMock::Start(int brokers) {
  std::unique_ptr<KafkaMock> m(new KafkaMock());
  ASSIGN_OR_RETURN(m->host_, NewClient(RD_KAFKA_PRODUCER, ""));
  m->cluster_ = rd_kafka_mock_cluster_new(m->host_, brokers);
  if (m->cluster_ == nullptr) return Status::Error(StatusCode::kIoError, "rd_kafka_mock_cluster_new failed");
  m->bootstraps_ = rd_kafka_mock_cluster_bootstraps(m->cluster_);
  RETURN_IF_ERROR(m->CreateTopic("__sluice_checkpoints", 1));
  return m;
}

KafkaMock::~KafkaMock() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  if (host_) rd_kafka_destroy(host_);
}

Status KafkaMock::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (e) return Status::Error(StatusCode::kServerError, "create topic {}: {}", topic, rd_kafka_err2str(e));
  return Status::Ok();
}

Status KafkaMock::SetBrokerDown(int32_t broker_id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_down(cluster_, broker_id);
  if (e) return Status::Error(StatusCode::kServerError, "broker {} down: {}", broker_id, rd_kafka_err2str(e));
  return Status::Ok();
}

Status KafkaMock::SetBrokerUp(int32_t broker_id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_up(cluster_, broker_id);
  if (e) return Status::Error(StatusCode::kServerError, "broker {} up: {}", broker_id, rd_kafka_err2str(e));
  return Status::Ok();
}

Status KafkaMock::SetBrokerRtt(int32_t broker_id, std::chrono::milliseconds rtt) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(cluster_, broker_id, static_cast<int>(rtt.count()));
  if (e) return Status::Error(StatusCode::kServerError, "broker {} rtt: {}", broker_id, rd_kafka_err2str(e));
  return Status::Ok();
}

void KafkaMock::PushRequestErrors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, api_key, errors.size(), errors.data());
}

Result<std::vector<KafkaMessage>> ReadTopic(const std::string& bootstraps, const std::string& topic) {
  Handle h;
  ASSIGN_OR_RETURN(h.rk, NewClient(RD_KAFKA_CONSUMER, bootstraps));
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(h.rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(h.rk, 0, rkt, &md, 10000);
  rd_kafka_topic_destroy(rkt);
  if (e) return Status::Error(StatusCode::kIoError, "metadata of {}: {}", topic, rd_kafka_err2str(e));
  int partitions = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  std::vector<KafkaMessage> out;
  std::map<int32_t, int64_t> end;  // partition -> high watermark
  rd_kafka_topic_partition_list_t* assign = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    e = rd_kafka_query_watermark_offsets(h.rk, topic.c_str(), p, &lo, &hi, 10000);
    if (e) {
      rd_kafka_topic_partition_list_destroy(assign);
      return Status::Error(StatusCode::kIoError, "watermarks of {} [{}]: {}", topic, p, rd_kafka_err2str(e));
    }
    if (hi > lo) {
      end[p] = hi;
      rd_kafka_topic_partition_list_add(assign, topic.c_str(), p)->offset = lo;
    }
  }
  if (!end.empty()) rd_kafka_assign(h.rk, assign);
  rd_kafka_topic_partition_list_destroy(assign);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!end.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Error(StatusCode::kIoError, "reading {}: {} partitions not read to the end in 60 s", topic,
                           end.size());
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(h.rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      end.erase(m->partition);
    } else if (m->err) {
      Status st = Status::Error(StatusCode::kIoError, "reading {}: {}", topic, rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      return st;
    } else {
      KafkaMessage km;
      km.topic = topic;
      km.partition = m->partition;
      km.offset = m->offset;
      km.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) km.value.emplace(static_cast<const char*>(m->payload), m->len);
      out.push_back(std::move(km));
      auto it = end.find(m->partition);
      if (it != end.end() && m->offset + 1 >= it->second) end.erase(it);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(h.rk);
  std::stable_sort(out.begin(), out.end(), [](const KafkaMessage& a, const KafkaMessage& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return out;
}

Result<std::vector<std::string>> ListTopics(const std::string& bootstraps) {
  Handle h;
  ASSIGN_OR_RETURN(h.rk, NewClient(RD_KAFKA_PRODUCER, bootstraps));
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(h.rk, 1, nullptr, &md, 10000);
  if (e) return Status::Error(StatusCode::kIoError, "metadata: {}", rd_kafka_err2str(e));
  std::vector<std::string> out;
  for (int i = 0; i < md->topic_cnt; ++i) out.emplace_back(md->topics[i].topic);
  rd_kafka_metadata_destroy(md);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sluice::testing
