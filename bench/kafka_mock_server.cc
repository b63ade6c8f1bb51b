// A librdkafka mock cluster as a process, for bench/kafka.sh (bash cannot
// host one): prints its bootstrap servers on stdout, runs until SIGTERM/SIGINT.
//   kafka_mock_server [BROKERS [TOPIC PARTITIONS]]
// TOPIC is created with PARTITIONS partitions (the mock keeps about 5 MB
// per partition: more partitions hold more messages for the read-back).

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <unistd.h>

namespace {
volatile std::sig_atomic_t stop = 0;
void OnSignal(int) { stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  int brokers = argc > 1 ? std::atoi(argv[1]) : 3;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (host == nullptr) {
    std::fprintf(stderr, "rd_kafka_new: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(host, brokers);
  if (cluster == nullptr) {
    std::fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    return 1;
  }
  rd_kafka_mock_topic_create(cluster, "__sluice_checkpoints", 1, 1);
  if (argc > 3) rd_kafka_mock_topic_create(cluster, argv[2], std::atoi(argv[3]), 1);
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  while (!stop) ::usleep(100 * 1000);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(host);
  return 0;
}
