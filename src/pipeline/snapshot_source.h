#pragma once
// The source side of a snapshot (pipeline/snapshot.h), internal to
// pipeline/: what Snapshot asks of a MySQL source (snapshot_source.cc,
// client/mysql's TableReader and binlog positions) and of a PostgreSQL one
// (pg_snapshot_source.cc: source/postgres's PgTableReader, the slot's LSNs
// and its exported snapshot), so that planning, resuming, copying and the
// targets' bookkeeping are one algorithm for both.
//
// Threads: the SnapshotSource is created and planned on the snapshot's
// thread; Connect and the readers' reads run on the workers, each with its
// own SourceSession.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/mysql/connection.h"
#include "client/mysql/table_reader.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "pipeline/config.h"
#include "pipeline/table_set.h"
#include "sink/chunk_target.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline::detail {

using sluice::mysql::KeyRange;
using sluice::mysql::KeyTuple;
using sluice::mysql::RowBlock;

// One connection to the source (a worker's, or the planner's).
class SourceSession {
 public:
  virtual ~SourceSession() = default;
};

// One table (or --where shard of it) as the snapshot reads it.
class SourceTableReader {
 public:
  virtual ~SourceTableReader() = default;
  virtual bool has_key() const = 0;
  // Key-ordered chunk bounds (see mysql::TableReader::PlanChunks).
  virtual Result<std::vector<KeyTuple>> PlanChunks(SourceSession& s, uint64_t chunk_rows,
                                                   const std::function<bool()>& cancelled) const = 0;
  // `read_at`: set, for a keyless table, to the source position the read
  // saw the table at (every change before it is in the rows, none after),
  // where the source can tell; left alone otherwise.
  virtual Result<RowBlock> ReadRange(SourceSession& s, const KeyRange& range, std::string* read_at) const = 0;
  virtual uint64_t EstimateRows(SourceSession& s) const = 0;
};

class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;

  // A new connection; `interrupt` cuts MySQL ones on Cancel.
  virtual Result<std::unique_ptr<SourceSession>> Connect() = 0;
  virtual Result<std::vector<SourceTable>> SelectedTables(SourceSession& s) = 0;
  // kNotFound when the table is gone.
  virtual Result<TableSchemaPtr> ReadSchema(SourceSession& s, const SourceTable& t) = 0;
  // The target table of `m` created when missing (from the source's own
  // definition where the target speaks the source's dialect).
  virtual Status EnsureTargetTable(SourceSession& s, sink::ChunkTarget& w, const transform::TableMapping& m,
                                   const TableSchema& schema) = 0;
  // The selected MariaDB sequences, on a target that has sequences: each
  // created when missing (from the source's definition, under the rule's
  // `to:` name) and given the source's state now; the stream then carries
  // every later NEXTVAL and SETVAL. Before any table, whose DEFAULT may
  // take a sequence's NEXTVAL.
  virtual Status CopySequences(SourceSession& /*s*/, sink::ChunkTarget& /*w*/, transform::TableMapper& /*mapper*/) {
    return Status::Ok();
  }
  // `shard`: a SQL condition every read adds ("" for the whole table).
  virtual Result<std::unique_ptr<SourceTableReader>> Reader(SourceSession& s, const TableSchemaPtr& schema,
                                                            const std::string& shard) = 0;
  // Called once every plan is recorded and before any chunk is read: the
  // resume position streaming starts from (P0, see snapshot.h). Sessions
  // connected afterwards read what P0 promises.
  virtual Result<std::string> StartPosition(SourceSession& s) = 0;
  // After the last chunk: the position past every chunk's read (the
  // catch-up horizon). Ends what StartPosition held open.
  virtual Result<std::string> Horizon(SourceSession& s) = 0;
  // A keyless table's copy replaces the target table whole; it is exact
  // when the stream leaves out the changes the copy holds. Either the
  // reader tells the position it read at (ReadRange's `read_at`, recorded
  // on the target: MariaDB), or the copy reads at exactly P0 (a
  // PostgreSQL slot's exported snapshot) and KeylessRefusal says why it
  // cannot when it cannot ("" when it can).
  virtual bool positions_keyless_reads() const { return false; }
  virtual std::string KeylessRefusal(const SourceTable& /*t*/) const { return ""; }
};

// The sequences `p` selects on a MySQL source, on a target that has
// sequences (SnapshotSource::CopySequences): created when missing and given
// the source's state then, or always with `set_existing`.
Status EnsureMysqlTargetSequences(sink::ChunkTarget& w, sluice::mysql::MysqlConnection& source,
                                  const PipelineConfig& p, transform::TableMapper& mapper, bool set_existing);

// The definitions ("`name` type COLLATE c NOT NULL") of the target columns
// `m` maps from a MySQL source table, as information_schema gives them.
Result<std::vector<std::string>> MappedColumnDefinitions(sluice::mysql::MysqlConnection& source,
                                                         const transform::TableMapping& m, const TableSchema& s);
// An existing target table (MySQL targets) lacking columns `m` maps (a rule
// that now keeps more columns, or renames one to a new name) gets them, with
// the source's types, at the end; the names added (none: nothing to do).
Result<std::vector<std::string>> AddMappedColumns(sink::ChunkTarget& w, sluice::mysql::MysqlConnection& source,
                                                  const transform::TableMapping& m, const TableSchema& s);
// Creates the target table when it is missing, from a MySQL source table
// (see snapshot_source.cc).
Status EnsureMysqlTargetTable(sink::ChunkTarget& w, sluice::mysql::MysqlConnection& source,
                              const transform::TableMapping& m, const TableSchema& s);

// The MySQL or PostgreSQL source of pipeline `p`; `interrupt` cuts MySQL
// connections on Cancel (PostgreSQL ones bound their waits with timeouts).
Result<std::unique_ptr<SnapshotSource>> OpenSnapshotSource(const Config& config, const PipelineConfig& p,
                                                           sluice::mysql::Interrupter* interrupt);
Result<std::unique_ptr<SnapshotSource>> OpenPostgresSnapshotSource(const PipelineConfig& p, const SourceConfig& s,
                                                                   sluice::Interrupter* interrupt);

}  // namespace sluice::pipeline::detail
