#include "sink/registry.h"

#include <array>

#include <fmt/format.h>

#include "client/mysql/connection.h"
#include "sink/clickhouse/clickhouse_sink.h"
#include "sink/file/file_sink.h"
#include "sink/kafka/kafka_sink.h"
#include "sink/mysql/mysql_loader.h"
#include "sink/postgres/pg_sink.h"
#include "sink/redis/redis_sink.h"

namespace sluice::sink {
namespace {

Result<std::unique_ptr<Sink>> OpenMysql(const SinkOptions& o) {
  mysql::LoaderOptions lo;
  lo.pipeline = o.pipeline;
  lo.target = o.target;
  ASSIGN_OR_RETURN(lo.connect, sluice::mysql::ConnectOptions::FromUrl(o.url));
  lo.parallel = o.parallel;
  lo.skip_rejected = o.skip_rejected;
  lo.skip_log = o.skip_log;
  ASSIGN_OR_RETURN(auto loader, mysql::MysqlLoader::Open(std::move(lo)));
  return std::unique_ptr<Sink>(std::move(loader));
}

Result<std::unique_ptr<Sink>> OpenPostgres(const SinkOptions& o) {
  postgres::PgSinkOptions po;
  po.pipeline = o.pipeline;
  po.target = o.target;
  ASSIGN_OR_RETURN(po.connect, sluice::postgres::ConnectOptions::FromUrl(o.url));
  po.skip_rejected = o.skip_rejected;
  po.skip_log = o.skip_log;
  po.epoch = o.epoch;
  po.parallel = o.parallel;
  ASSIGN_OR_RETURN(auto sink, postgres::PgSink::Open(std::move(po)));
  return std::unique_ptr<Sink>(std::move(sink));
}

Result<std::unique_ptr<Sink>> OpenRedis(const SinkOptions& o) {
  ASSIGN_OR_RETURN(auto sink, redis::RedisSink::Open(o));
  return std::unique_ptr<Sink>(std::move(sink));
}

Result<std::unique_ptr<Sink>> OpenFile(const SinkOptions& o) {
  ASSIGN_OR_RETURN(auto sink, file::FileSink::Open(o));
  return std::unique_ptr<Sink>(std::move(sink));
}

Result<std::unique_ptr<Sink>> OpenClickhouse(const SinkOptions& o) {
  ASSIGN_OR_RETURN(auto sink, clickhouse::ClickhouseSink::Open(o));
  return std::unique_ptr<Sink>(std::move(sink));
}

Result<std::unique_ptr<Sink>> OpenKafka(const SinkOptions& o) {
  ASSIGN_OR_RETURN(auto sink, kafka::KafkaSink::Open(o));
  return std::unique_ptr<Sink>(std::move(sink));
}

struct Kind {
  std::string_view scheme;
  Result<std::unique_ptr<Sink>> (*open)(const SinkOptions&);
};

constexpr std::array kKinds{
    Kind{"mysql", &OpenMysql},
    Kind{"mariadb", &OpenMysql},
    Kind{"postgres", &OpenPostgres},
    Kind{"postgresql", &OpenPostgres},
    Kind{"redis", &OpenRedis},
    Kind{"file", &OpenFile},
    Kind{"clickhouse", &OpenClickhouse},
    Kind{"kafka", &OpenKafka},
};

}  // namespace

Result<std::unique_ptr<Sink>> OpenSink(const SinkOptions& options) {
  for (const Kind& k : kKinds) {
    if (k.scheme == options.url.scheme) return k.open(options);
  }
  return Status::Invalid("target {}: no sink for {}:// (supported: {})", options.target, options.url.scheme,
                         SinkSchemes());
}

bool IsSinkScheme(std::string_view scheme) {
  for (const Kind& k : kKinds) {
    if (k.scheme == scheme) return true;
  }
  return false;
}

std::string SinkSchemes() {
  std::string out;
  for (const Kind& k : kKinds) out += fmt::format("{}{}://", out.empty() ? "" : ", ", k.scheme);
  return out;
}

}  // namespace sluice::sink
