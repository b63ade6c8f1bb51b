#include "sink/registry.h"

#include <array>

#include <fmt/format.h>

#include "client/mysql/connection.h"
#include "client/mysql/table_reader.h"
#include "sink/chunk_target.h"
#include "sink/clickhouse/clickhouse_sink.h"
#include "sink/file/file_sink.h"
#include "sink/kafka/kafka_chunk_target.h"
#include "sink/kafka/kafka_sink.h"
#include "sink/mysql/chunk_writer.h"
#include "sink/mysql/mysql_loader.h"
#include "sink/postgres/pg_chunk_target.h"
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

// Snapshot and repair connections have bounded reads and writes (a hung
// server is a lost connection, retried per chunk).
Result<std::unique_ptr<ChunkTarget>> OpenMysqlChunks(const SinkOptions& o, sluice::mysql::Interrupter* interrupt) {
  ASSIGN_OR_RETURN(auto co, sluice::mysql::ConnectOptions::FromUrl(o.url));
  ASSIGN_OR_RETURN(auto w, mysql::ChunkWriter::Open(
                               sluice::mysql::WithDefaultTimeouts(co, sluice::mysql::kJobIoTimeoutS), interrupt));
  return std::unique_ptr<ChunkTarget>(std::move(w));
}

Result<std::unique_ptr<ChunkTarget>> OpenPostgresChunks(const SinkOptions& o, sluice::mysql::Interrupter*) {
  ASSIGN_OR_RETURN(auto co, sluice::postgres::ConnectOptions::FromUrl(o.url));
  ASSIGN_OR_RETURN(auto w, postgres::PgChunkTarget::Open(std::move(co)));
  return std::unique_ptr<ChunkTarget>(std::move(w));
}

Result<std::unique_ptr<ChunkTarget>> OpenKafkaChunks(const SinkOptions& o, sluice::mysql::Interrupter*) {
  ASSIGN_OR_RETURN(auto w, kafka::KafkaChunkTarget::Open(o));
  return std::unique_ptr<ChunkTarget>(std::move(w));
}

using OpenChunksFn = Result<std::unique_ptr<ChunkTarget>> (*)(const SinkOptions&, sluice::mysql::Interrupter*);

struct Kind {
  std::string_view scheme;
  Result<std::unique_ptr<Sink>> (*open)(const SinkOptions&);
  OpenChunksFn open_chunks = nullptr;  // null: no snapshot into this kind yet
};

constexpr std::array kKinds{
    Kind{"mysql", &OpenMysql, &OpenMysqlChunks},
    Kind{"mariadb", &OpenMysql, &OpenMysqlChunks},
    Kind{"postgres", &OpenPostgres, &OpenPostgresChunks},
    Kind{"postgresql", &OpenPostgres, &OpenPostgresChunks},
    Kind{"redis", &OpenRedis},
    Kind{"file", &OpenFile},
    Kind{"clickhouse", &OpenClickhouse},
    Kind{"kafka", &OpenKafka, &OpenKafkaChunks},
};

}  // namespace

Result<std::unique_ptr<Sink>> OpenSink(const SinkOptions& options) {
  for (const Kind& k : kKinds) {
    if (k.scheme == options.url.scheme) return k.open(options);
  }
  return Status::Invalid("target {}: no sink for {}:// (supported: {})", options.target, options.url.scheme,
                         SinkSchemes());
}

Result<std::unique_ptr<ChunkTarget>> OpenChunkTarget(const SinkOptions& options,
                                                     sluice::mysql::Interrupter* interrupt) {
  for (const Kind& k : kKinds) {
    if (k.scheme != options.url.scheme) continue;
    if (k.open_chunks == nullptr) {
      return Status::Error(StatusCode::kNotSupported, "target {} is {}://: snapshots and repairs into it are not supported",
                           options.target, options.url.scheme);
    }
    return k.open_chunks(options, interrupt);
  }
  return Status::Invalid("target {}: no sink for {}:// (supported: {})", options.target, options.url.scheme,
                         SinkSchemes());
}

bool SupportsSnapshot(std::string_view scheme) {
  for (const Kind& k : kKinds) {
    if (k.scheme == scheme) return k.open_chunks != nullptr;
  }
  return false;
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
