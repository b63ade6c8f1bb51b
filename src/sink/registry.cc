#include "sink/registry.h"

#include <array>

#include <fmt/format.h>

#include "client/mysql/connection.h"
#include "client/mysql/table_reader.h"
#include "sink/chunk_target.h"
#include "sink/clickhouse/clickhouse_chunk_target.h"
#include "sink/clickhouse/ch_row_reader.h"
#include "sink/clickhouse/clickhouse_sink.h"
#include "sink/file/file_sink.h"
#include "sink/kafka/kafka_chunk_target.h"
#include "sink/kafka/kafka_sink.h"
#include "sink/mysql/chunk_writer.h"
#include "sink/mysql/mysql_loader.h"
#include "sink/postgres/pg_chunk_target.h"
#include "sink/postgres/pg_row_reader.h"
#include "sink/postgres/pg_sink.h"
#include "sink/redis/redis_chunk_target.h"
#include "sink/redis/redis_row_reader.h"
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
  lo.epoch = o.epoch;
  lo.takeover_after_ms = o.takeover_after_ms;
  lo.conflict_column = o.conflict_column;
  lo.interrupt = o.interrupt;
  lo.former_targets = o.former_targets;
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
  po.takeover_after_ms = o.takeover_after_ms;
  po.parallel = o.parallel;
  po.interrupt = o.interrupt;
  po.former_targets = o.former_targets;
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
  RETURN_IF_ERROR(w->Fence(o));
  return std::unique_ptr<ChunkTarget>(std::move(w));
}

Result<std::unique_ptr<ChunkTarget>> OpenPostgresChunks(const SinkOptions& o, sluice::mysql::Interrupter* interrupt) {
  ASSIGN_OR_RETURN(auto co, sluice::postgres::ConnectOptions::FromUrl(o.url));
  ASSIGN_OR_RETURN(auto w, postgres::PgChunkTarget::Open(std::move(co), interrupt));
  RETURN_IF_ERROR(w->Fence(o));
  return std::unique_ptr<ChunkTarget>(std::move(w));
}

Result<std::unique_ptr<ChunkTarget>> OpenKafkaChunks(const SinkOptions& o, sluice::mysql::Interrupter*) {
  ASSIGN_OR_RETURN(auto w, kafka::KafkaChunkTarget::Open(o));
  return std::unique_ptr<ChunkTarget>(std::move(w));
}

// ClickHouse bounds its waits with the client's timeouts.
Result<std::unique_ptr<ChunkTarget>> OpenClickhouseChunks(const SinkOptions& o, sluice::mysql::Interrupter*) {
  ASSIGN_OR_RETURN(auto t, clickhouse::ClickhouseChunkTarget::Open(o));
  return std::unique_ptr<ChunkTarget>(std::move(t));
}

Result<std::unique_ptr<ChunkTarget>> OpenRedisChunks(const SinkOptions& o, sluice::mysql::Interrupter* interrupt) {
  SinkOptions with = o;
  if (interrupt != nullptr) with.interrupt = interrupt;  // the job's: cut when it is cancelled
  ASSIGN_OR_RETURN(auto t, redis::RedisChunkTarget::Open(with));
  return std::unique_ptr<ChunkTarget>(std::move(t));
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
    Kind{"redis", &OpenRedis, &OpenRedisChunks},
    Kind{"file", &OpenFile},
    Kind{"clickhouse", &OpenClickhouse, &OpenClickhouseChunks},
    Kind{"kafka", &OpenKafka, &OpenKafkaChunks},
};

Result<std::unique_ptr<RowReader>> OpenPostgresRows(const SinkOptions& o) {
  ASSIGN_OR_RETURN(auto co, sluice::postgres::ConnectOptions::FromUrl(o.url));
  ASSIGN_OR_RETURN(auto r, postgres::PgRowReader::Open(co, o.interrupt));
  return std::unique_ptr<RowReader>(std::move(r));
}

Result<std::unique_ptr<RowReader>> OpenClickhouseRows(const SinkOptions& o) {
  ASSIGN_OR_RETURN(auto r, clickhouse::ChRowReader::Open(o));
  return std::unique_ptr<RowReader>(std::move(r));
}

Result<std::unique_ptr<RowReader>> OpenRedisRows(const SinkOptions& o) {
  ASSIGN_OR_RETURN(auto r, redis::RedisRowReader::Open(o));
  return std::unique_ptr<RowReader>(std::move(r));
}

// Kinds whose rows a check reads back (besides MySQL's, read by TableReader).
struct RowKind {
  std::string_view scheme;
  Result<std::unique_ptr<RowReader>> (*open)(const SinkOptions&);
};

constexpr std::array kRowKinds{
    RowKind{"postgres", &OpenPostgresRows},
    RowKind{"postgresql", &OpenPostgresRows},
    RowKind{"clickhouse", &OpenClickhouseRows},
    RowKind{"redis", &OpenRedisRows},
};

}  // namespace

Result<std::unique_ptr<RowReader>> OpenRowReader(const SinkOptions& options) {
  for (const RowKind& k : kRowKinds) {
    if (k.scheme == options.url.scheme) return k.open(options);
  }
  return Status::Error(StatusCode::kNotSupported, "target {} is {}://: its rows cannot be read back for a check",
                       options.target, options.url.scheme);
}

bool SupportsCheck(std::string_view scheme) {
  if (scheme == "mysql" || scheme == "mariadb") return true;
  for (const RowKind& k : kRowKinds) {
    if (k.scheme == scheme) return true;
  }
  return false;
}

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
