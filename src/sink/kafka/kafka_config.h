#pragma once
// librdkafka configuration of a Kafka target from its URL:
// kafka://[user:password@]host1:9092,host2:9092[?property=value&...].
// URL parameters with a '.' are librdkafka properties (message.timeout.ms,
// security.protocol, sasl.mechanisms, ...), passed through as given;
// `checkpoint_topic` names the topic of the position records.

#include <memory>
#include <string>

#include <librdkafka/rdkafka.h>

#include "core/status.h"
#include "core/url.h"

namespace sluice::sink::kafka {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

// "host1:9092,host2:9092" (Url keeps all but the last port in host).
std::string BootstrapServers(const Url& url);

// The settings every client of the target shares: brokers, credentials and
// the URL's librdkafka properties.
Result<ConfPtr> BaseConf(const Url& url);

// Sets one property; the error names it (never its value: it may be a secret).
Status SetConf(rd_kafka_conf_t* conf, const std::string& name, const std::string& value);

}  // namespace sluice::sink::kafka
