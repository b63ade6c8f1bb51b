#include "sink/kafka/kafka_config.h"

namespace sluice::sink::kafka {

std::string BootstrapServers(const Url& url) {
  std::string s = url.host;
  if (url.port != 0) s += ":" + std::to_string(url.port);
  return s;
}

Status SetConf(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    return Status::Invalid("Kafka property {}: {}", name, err);
  }
  return Status::Ok();
}

Result<ConfPtr> BaseConf(const Url& url) {
  ConfPtr conf(rd_kafka_conf_new());
  RETURN_IF_ERROR(SetConf(conf.get(), "bootstrap.servers", BootstrapServers(url)));
  if (!url.user.empty()) {
    RETURN_IF_ERROR(SetConf(conf.get(), "sasl.username", url.user));
    RETURN_IF_ERROR(SetConf(conf.get(), "sasl.password", url.password));
  }
  // librdkafka's own logging goes to stderr; sluice reports what matters
  // through its errors (the connection-level chatter of a broker going down
  // would drown the log).
  RETURN_IF_ERROR(SetConf(conf.get(), "log_level", "3"));
  for (const auto& [key, value] : url.params) {
    if (key.find('.') == std::string::npos) continue;  // sluice's own parameters
    RETURN_IF_ERROR(SetConf(conf.get(), key, value));
  }
  return conf;
}

}  // namespace sluice::sink::kafka
