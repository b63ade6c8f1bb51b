// The snapshot's PostgreSQL source (pipeline/snapshot_source.h).
//
// Where copy and stream meet: when the pipeline's replication slot does not
// exist yet, the snapshot creates it with its snapshot exported
// (source/postgres/pg_slot.h) once every plan is recorded, and every worker
// reads inside that snapshot (REPEATABLE READ, SET TRANSACTION SNAPSHOT):
// the chunks hold exactly the transactions before the slot's consistent
// point, which becomes the targets' start position, and the stream sends
// exactly those after it. Nothing is read twice, so keyless tables are
// copied exactly too.
//
// When the slot exists already (a snapshot resumed after a kill, one taken
// while the pipeline streams, or a slot named with slot=), no snapshot can
// be exported from it. Then the start position is the slot's confirmed
// position, which is at or before anything read afterwards, and chunks read
// the rows as they are now (as the MySQL snapshot does): the stream applies
// again, from that position, the changes a chunk already holds, as whole-row
// upserts and deletes by key, so each row ends as its last change left it;
// the horizon is the WAL position after the last chunk. A keyless table has
// no key to make that replay idempotent: it is refused then, naming the
// table (chunks of keyless tables go first, so a resumed snapshot rarely
// meets one not yet copied). The same holds when the exporting connection is
// lost during the copy (a server restart): later reads are not in the
// snapshot, and the horizon says so.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "client/postgres/connection.h"
#include "pipeline/pg_source.h"
#include "pipeline/snapshot_source.h"
#include "source/postgres/pg_catalog.h"
#include "source/postgres/pg_slot.h"
#include "source/postgres/pg_table_reader.h"

namespace sluice::pipeline::detail {
namespace {

using postgres::PgConnection;
using postgres::PgTableReader;

struct PgSession : SourceSession {
  std::unique_ptr<PgConnection> conn;
  bool in_snapshot = false;  // reads see the exported snapshot
};

PgSession& Session(SourceSession& s) { return static_cast<PgSession&>(s); }

class PgChunkReader : public SourceTableReader {
 public:
  PgChunkReader(std::unique_ptr<PgTableReader> r, std::string refusal)
      : reader_(std::move(r)), keyless_refusal_(std::move(refusal)) {}
  bool has_key() const override { return reader_->has_key(); }
  Result<std::vector<KeyTuple>> PlanChunks(SourceSession& s, uint64_t chunk_rows,
                                           const std::function<bool()>& cancelled) const override {
    return reader_->PlanChunks(*Session(s).conn, chunk_rows, cancelled);
  }
  Result<RowBlock> ReadRange(SourceSession& s, const KeyRange& range, std::string* /*read_at*/) const override {
    if (!has_key() && !Session(s).in_snapshot) return Status::Invalid("{}", keyless_refusal_);
    return reader_->ReadRange(*Session(s).conn, range);
  }
  uint64_t EstimateRows(SourceSession& s) const override { return reader_->EstimateRows(*Session(s).conn); }

 private:
  std::unique_ptr<PgTableReader> reader_;
  std::string keyless_refusal_;
};

class PgSnapshotSource : public SnapshotSource {
 public:
  PgSnapshotSource(const PipelineConfig& p, const SourceConfig& s, postgres::ConnectOptions co,
                   sluice::Interrupter* interrupt)
      : p_(p), co_(std::move(co)), interrupt_(interrupt), slot_(SlotOf(p, s)), publication_(PublicationOf(p, s)) {}

  Result<std::unique_ptr<SourceSession>> Connect() override {
    auto session = std::make_unique<PgSession>();
    // A cancelled snapshot cuts the session, even while it connects to a hung source.
    ASSIGN_OR_RETURN(session->conn, PgConnection::Connect(co_, interrupt_));
    std::string snapshot;
    {
      std::lock_guard lock(mu_);
      if (exported_ && !degraded_) snapshot = exported_->snapshot_name();
    }
    if (!snapshot.empty()) {
      Status st = session->conn->Execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " +
                                         postgres::QuoteLiteral(snapshot));
      if (st.ok()) {
        session->in_snapshot = true;
      } else {
        // The exporting connection is gone (a server restart): reads from
        // now on see the rows as they are (see the file comment).
        spdlog::warn("pipeline {}: source {}: the slot's exported snapshot is gone ({}); the rest of the copy reads "
                     "the rows as they are now, and the stream catches up",
                     p_.name, p_.source, st.message());
        std::lock_guard lock(mu_);
        degraded_ = true;
        RETURN_IF_ERROR(session->conn->Execute("ROLLBACK"));
      }
    }
    return std::unique_ptr<SourceSession>(std::move(session));
  }

  Result<std::vector<SourceTable>> SelectedTables(SourceSession& s) override {
    PgConnection& c = *Session(s).conn;
    ASSIGN_OR_RETURN(auto selected, SelectedPostgresTables(c, p_));
    ASSIGN_OR_RETURN(auto slots, c.Query("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
                                         postgres::QuoteLiteral(slot_)));
    slot_existed_ = !slots.empty() && !exported_;
    tables_.clear();
    for (const SourceTable& t : selected) tables_.push_back(t.name());
    return selected;
  }

  Result<TableSchemaPtr> ReadSchema(SourceSession& s, const SourceTable& t) override {
    ASSIGN_OR_RETURN(TableSchema schema, postgres::ReadTableSchema(*Session(s).conn, t.db, t.table));
    return std::make_shared<const TableSchema>(std::move(schema));
  }

  Status EnsureTargetTable(SourceSession&, sink::ChunkTarget& w, const transform::TableMapping& m,
                           const TableSchema&) override {
    return w.EnsureTable(*m.target, "");  // the target maps the PostgreSQL types itself
  }

  Result<std::unique_ptr<SourceTableReader>> Reader(SourceSession& s, const TableSchemaPtr& schema,
                                                    const std::string& shard) override {
    ASSIGN_OR_RETURN(auto r, PgTableReader::Open(*Session(s).conn, schema->db, schema->table, {}, shard));
    SourceTable t{schema->db, schema->table, nullptr};
    return std::unique_ptr<SourceTableReader>(new PgChunkReader(std::move(r), Refusal(t)));
  }

  std::string KeylessRefusal(const SourceTable& t) const override { return slot_existed_ ? Refusal(t) : ""; }

  // Keyless tables or not: the exported snapshot serves every read.
  Result<std::string> StartPosition(SourceSession& s) override {
    PgConnection& c = *Session(s).conn;
    if (exported_) return exported_->consistent_point().ToString();  // planning retried
    const std::string describe = fmt::format("pipeline {}: source {}", p_.name, p_.source);
    // The stream reads through the publication; it must exist before the
    // slot, or decoding from the slot's start would not find it.
    RETURN_IF_ERROR(postgres::EnsurePublication(c, publication_, tables_, describe, PostgresRulePatterns(p_),
                                                publication_ == "sluice_" + slot_));
    ASSIGN_OR_RETURN(auto slots, c.Query("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
                                         postgres::QuoteLiteral(slot_)));
    if (!slots.empty()) {
      auto lsn = postgres::SlotPosition(c, slot_, /*create=*/false);
      if (!lsn.ok()) return lsn.status().WithContext(describe);
      spdlog::info("{}: slot \"{}\" exists: the copy reads the rows as they are and the stream catches up from {}",
                   describe, slot_, lsn->ToString());
      return lsn->ToString();
    }
    auto created = postgres::ExportedSlot::Create(co_, slot_);
    if (!created.ok()) return created.status().WithContext(describe);
    std::lock_guard lock(mu_);
    exported_ = std::move(created).value();
    return exported_->consistent_point().ToString();
  }

  Result<std::string> Horizon(SourceSession& s) override {
    std::lock_guard lock(mu_);
    if (exported_ && !degraded_) {
      std::string at = exported_->consistent_point().ToString();
      exported_.reset();  // every chunk is read: the snapshot may go
      return at;
    }
    exported_.reset();
    ASSIGN_OR_RETURN(auto rows, Session(s).conn->Query("SELECT pg_catalog.pg_current_wal_lsn()"));
    if (rows.empty() || !rows[0][0]) return Status::Invalid("source {}: no WAL position", p_.source);
    return *rows[0][0];
  }

 private:
  std::string Refusal(const SourceTable& t) const {
    return fmt::format(
        "table {} has no primary key, and replication slot \"{}\" existed before this snapshot, so the copy cannot "
        "be read at exactly the slot's position: a keyless table is copied whole, and the stream would insert again "
        "the rows added since. Give the table a primary key, or copy it before the slot exists (drop the slot when "
        "no pipeline streams from it)",
        t.name(), slot_);
  }

  const PipelineConfig& p_;
  postgres::ConnectOptions co_;
  sluice::Interrupter* interrupt_;
  std::string slot_, publication_;
  std::vector<std::string> tables_;  // the selected tables, the publication's
  bool slot_existed_ = false;
  std::mutex mu_;
  std::unique_ptr<postgres::ExportedSlot> exported_;  // guarded by mu_
  bool degraded_ = false;                              // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<SnapshotSource>> OpenPostgresSnapshotSource(const PipelineConfig& p, const SourceConfig& s,
                                                                   sluice::Interrupter* interrupt) {
  ASSIGN_OR_RETURN(auto co, postgres::ConnectOptions::FromUrl(s.endpoint));
  co = postgres::ReadSessionOptions(co, sluice::mysql::kJobIoTimeoutS);
  return std::unique_ptr<SnapshotSource>(new PgSnapshotSource(p, s, std::move(co), interrupt));
}

}  // namespace sluice::pipeline::detail
