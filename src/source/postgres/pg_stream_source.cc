#include "source/postgres/pg_stream_source.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "core/sync_point.h"
#include "source/postgres/pg_catalog.h"
#include "source/postgres/pg_slot.h"
#include "source/postgres/replication_frame.h"

namespace sluice::postgres {
namespace {

int64_t NowPgMicros() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch());
  return us.count() - kPgEpochOffsetUs;
}

void SleepUnlessStopped(std::chrono::milliseconds d, const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
  }
}

}  // namespace

PgStreamSource::PgStreamSource(Options options) : options_(std::move(options)) {
  slot_ = options_.slot;
  temporary_ = slot_.empty();
  if (temporary_) slot_ = "sluice_tail_" + std::to_string(::getpid());
  publication_ = options_.publication;
  if (publication_.empty()) publication_ = temporary_ ? "sluice_tail" : "sluice_" + options_.slot;
  options_.connect.session_options = kSessionOptions;
}

PgStreamSource::~PgStreamSource() = default;

std::string PgStreamSource::Describe() const {
  return fmt::format("postgres {} slot \"{}\"", options_.connect.Describe(), slot_);
}

Result<PgTypeRow> PgStreamSource::LookupType(uint32_t oid) { return postgres::LookupType(*catalog_, oid); }

Result<std::vector<std::string>> PgStreamSource::LookupPrimaryKey(uint32_t relid) {
  ASSIGN_OR_RETURN(auto rows,
                   catalog_->Query(fmt::format(
                       "SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
                       "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                       "WHERE i.indrelid = {} AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
                       relid)));
  std::vector<std::string> names;
  for (const auto& r : rows) {
    if (r[0]) names.push_back(*r[0]);
  }
  return names;
}

Result<std::vector<PgColumnFacts>> PgStreamSource::LookupColumnFacts(uint32_t relid) {
  return ReadColumnFacts(*catalog_, relid);
}

Result<bool> PgStreamSource::CatalogSees(uint32_t xid) {
  // The 64-bit id of `xid`: the epoch of the snapshot's xmax, moved by one
  // epoch when that puts it more than 2^31 away (xids are compared modulo
  // 2^32). txid_* rather than pg_* functions: PostgreSQL 10 to 12 have only those.
  ASSIGN_OR_RETURN(auto rows, catalog_->Query(fmt::format(
                                  "SELECT txid_visible_in_snapshot(GREATEST(CASE WHEN f > x + 2147483648 THEN f - "
                                  "4294967296 WHEN f < x - 2147483648 THEN f + 4294967296 ELSE f END, 0), s) FROM "
                                  "(SELECT s, txid_snapshot_xmax(s) AS x, (txid_snapshot_xmax(s) >> 32 << 32) | {} "
                                  "AS f FROM txid_current_snapshot() s) t",
                                  xid)));
  if (rows.empty() || !rows[0][0]) return Status::Corruption("txid_visible_in_snapshot gave no answer");
  return *rows[0][0] == "t";
}

Status PgStreamSource::EnsurePublication() {
  return postgres::EnsurePublication(*catalog_, publication_, options_.tables, Describe(), options_.rule_patterns,
                                     !temporary_ && options_.publication.empty());
}

Status PgStreamSource::EnsureSlot(bool resume) {
  ASSIGN_OR_RETURN(auto rows, catalog_->Query("SELECT plugin, slot_type, database, confirmed_flush_lsn FROM "
                                              "pg_catalog.pg_replication_slots WHERE slot_name = " +
                                              QuoteLiteral(slot_)));
  if (!rows.empty()) {
    const auto& r = rows[0];
    if (!r[1] || *r[1] != "logical" || !r[0] || *r[0] != "pgoutput" || !r[2] ||
        *r[2] != options_.connect.database) {
      return Status::Invalid("{}: slot \"{}\" exists but is not a logical pgoutput slot of database \"{}\" (plugin {}, "
                             "database {}): name another slot with slot=",
                             Describe(), slot_, options_.connect.database, r[0].value_or("none"),
                             r[2].value_or("none"));
    }
    return Status::Ok();
  }
  const bool must_exist = resume || (!temporary_ && options_.start.kind != StartPosition::Kind::kLatest);
  if (must_exist) {
    return Status::Error(
        StatusCode::kNotFound,
        "{}: replication slot \"{}\" does not exist (dropped?): the changes since {} are gone. Copy the tables again "
        "(sluice snapshot) and start with start: latest, which creates the slot",
        Describe(), slot_, delivered_ ? Lsn{delivered_}.ToString() : std::string("its last confirmed position"));
  }
  std::string sql = "CREATE_REPLICATION_SLOT " + QuoteIdent(slot_) + (temporary_ ? " TEMPORARY" : "") +
                    " LOGICAL pgoutput (SNAPSHOT 'nothing')";
  ASSIGN_OR_RETURN(auto created, stream_->sql().Query(sql));
  spdlog::info("{}: created {}replication slot at {}", Describe(), temporary_ ? "temporary " : "",
               created.empty() || !created[0][1] ? "?" : *created[0][1]);
  return Status::Ok();
}

Status PgStreamSource::Open(bool resume, uint64_t from) {
  stream_.reset();
  catalog_.reset();
  ConnectOptions co = options_.connect;
  ASSIGN_OR_RETURN(catalog_, PgConnection::Connect(co));
  ASSIGN_OR_RETURN(stream_, ReplicationStream::Connect(co));
  RETURN_IF_ERROR(EnsurePublication());
  RETURN_IF_ERROR(EnsureSlot(resume));
  std::string lsn = "0/0";
  if (from != 0) {
    lsn = Lsn{from}.ToString();
  } else if (options_.start.kind == StartPosition::Kind::kLsn) {
    lsn = options_.start.lsn.ToString();
  }
  // PostgreSQL 14+ streams transactions still in progress once they
  // outgrow logical_decoding_work_mem (protocol 2): the server's memory and
  // the lag of a large transaction stay bounded, the decoder holds it.
  const uint32_t proto = catalog_->server_version() >= 140000 ? 2 : 1;
  std::string plugin = fmt::format("proto_version '{}', publication_names {}{}", proto,
                                   QuoteLiteral(QuoteIdent(publication_)), proto >= 2 ? ", streaming 'on'" : "");
  Status st = stream_->StartLogical(slot_, lsn, plugin);
  if (!st.ok()) {
    return st.WithContext(Describe() + ": START_REPLICATION");
  }
  // The server answered: streaming (the slot shows active a little before).
  SLUICE_SYNC_POINT("pg.stream.started");
  PgoutputDecoder::Options dopts;
  dopts.tables = options_.tables;
  dopts.type_lookup = [this](uint32_t oid) { return LookupType(oid); };
  dopts.primary_key = [this](uint32_t relid) { return LookupPrimaryKey(relid); };
  dopts.column_facts = [this](uint32_t relid) { return LookupColumnFacts(relid); };
  dopts.catalog_sees = [this](uint32_t xid) { return CatalogSees(xid); };
  dopts.unchecked_tables = options_.unchecked_tables;
  dopts.rule_patterns = options_.rule_patterns;
  dopts.proto_version = proto;
  if (!decoder_ || decoder_->proto_version() != proto) decoder_ = std::make_unique<PgoutputDecoder>(std::move(dopts));
  decoder_->AbandonTransaction();
  // A fresh decoder per connection would drop nothing (the server resends
  // Relation messages); keeping it keeps schema pointers stable.
  last_status_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

uint64_t PgStreamSource::Confirmable() const {
  uint64_t applied = options_.applied ? std::min(options_.applied(), delivered_) : delivered_;
  // Nothing pending: everything up to the server's WAL end has been seen.
  if (applied == delivered_ && !decoder_->in_transaction()) applied = std::max(applied, server_end_);
  return applied;
}

Status PgStreamSource::SendStatus(bool reply_requested) {
  if (!stream_ || !decoder_) return Status::Ok();
  uint64_t lsn = std::max(Confirmable(), confirmed_);
  RETURN_IF_ERROR(stream_->Send(StandbyStatusUpdate(std::max(lsn, received_), lsn, lsn, NowPgMicros(), reply_requested)));
  confirmed_ = lsn;
  last_status_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

// Notes each delivered commit before passing it on.
class CommitTracker : public ChangeHandler {
 public:
  CommitTracker(ChangeHandler& inner, uint64_t& delivered) : inner_(inner), delivered_(delivered) {}
  Status OnBegin(const TransactionInfo& t) override { return inner_.OnBegin(t); }
  Status OnRow(const RowChange& row) override { return inner_.OnRow(row); }
  Status OnDdl(const DdlInfo& d) override { return inner_.OnDdl(d); }
  Status OnHeartbeat(uint64_t ts) override { return inner_.OnHeartbeat(ts); }
  Status OnCommit(const CommitInfo& c) override {
    RETURN_IF_ERROR(inner_.OnCommit(c));
    delivered_ = c.next_offset;
    return Status::Ok();
  }

 private:
  ChangeHandler& inner_;
  uint64_t& delivered_;
};

Status PgStreamSource::Stream(ChangeHandler& handler, const std::atomic<bool>& stop) {
  CommitTracker tracker(handler, delivered_);
  while (!stop.load()) {
    auto until_status = options_.status_interval - (std::chrono::steady_clock::now() - last_status_);
    auto wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(until_status),
                           std::chrono::milliseconds(0), std::chrono::milliseconds(100));
    ASSIGN_OR_RETURN(auto msg, stream_->Read(wait));
    if (msg) {
      ASSIGN_OR_RETURN(ReplicationFrame f, ParseReplicationFrame(*msg));
      if (f.kind == ReplicationFrame::Kind::kXLogData) {
        received_ = std::max(received_, f.wal_start);
        server_end_ = std::max(server_end_, f.wal_end);
        Status st = decoder_->Feed(f.data, tracker);
        if (!st.ok()) return st;
      } else {
        server_end_ = std::max(server_end_, f.wal_end);
        if (!decoder_->in_transaction()) RETURN_IF_ERROR(handler.OnHeartbeat(PgTimeToUnixMs(f.send_time_us)));
        if (f.reply_requested) RETURN_IF_ERROR(SendStatus(false));
      }
    }
    if (std::chrono::steady_clock::now() - last_status_ >= options_.status_interval) {
      RETURN_IF_ERROR(SendStatus(false));
    }
    if (!options_.rule_patterns.empty() && !decoder_->in_transaction() &&
        std::chrono::steady_clock::now() - last_table_check_ >= kNewTableCheck) {
      last_table_check_ = std::chrono::steady_clock::now();
      RETURN_IF_ERROR(CheckForNewTables());
    }
  }
  // A last confirmation on the way out, best effort.
  (void)SendStatus(false);
  return Status::Ok();
}

Status PgStreamSource::CheckForNewTables() {
  ASSIGN_OR_RETURN(auto tables, ListTables(*catalog_));
  for (const auto& [schema, table] : tables) {
    if (schema == "_sluice" || MatchesTables(options_.tables, schema, table) ||
        !MatchesTables(options_.rule_patterns, schema, table)) {
      continue;
    }
    ASSIGN_OR_RETURN(auto published,
                     catalog_->Query(fmt::format("SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = {} AND "
                                                 "schemaname = {} AND tablename = {}",
                                                 QuoteLiteral(publication_), QuoteLiteral(schema), QuoteLiteral(table))));
    if (!published.empty()) continue;  // its Relation comes with its first rows (PgoutputDecoder)
    return Status::Error(StatusCode::kSourceChanged,
                         "{}: table \"{}\".\"{}\" is new to the pipeline (created since it started) and its rules "
                         "select it, but publication \"{}\" does not publish it",
                         Describe(), schema, table, publication_);
  }
  return Status::Ok();
}

Status PgStreamSource::Run(ChangeHandler& handler, const std::atomic<bool>& stop) {
  RETURN_IF_ERROR(Open(/*resume=*/false, 0));
  // Streaming: what the caller shows as "running".
  if (options_.on_reconnect) options_.on_reconnect(Status::Ok());
  auto backoff = std::chrono::milliseconds(100);
  while (true) {
    Status st = Stream(handler, stop);
    if (st.ok() || stop.load()) return st;
    if (!st.retryable()) {
      // The consumer refused (tail's --limit) or the stream is bad: confirm
      // what was delivered whole, best effort.
      (void)SendStatus(false);
      if (st.message().find("publication") != std::string::npos &&
          st.message().find("does not exist") != std::string::npos) {
        // pgoutput reads the publication as of each change: one made while
        // it did not exist (dropped, or created after the slot) cannot be
        // decoded, however often the stream starts again.
        return st.WithSuffix(fmt::format(
            "(publication \"{0}\" did not exist when that change was made, and the slot cannot be read past it: "
            "drop the slot, SELECT pg_drop_replication_slot('{1}'), and start the pipeline again with start: latest "
            "and snapshot: initial to copy the tables, or `sluice snapshot`)",
            publication_, slot_));
      }
      return st;
    }
    if (temporary_) {
      return Status::Error(st.code(), "{} (a temporary slot does not survive a lost connection: name one with "
                           "slot= to resume)",
                           st.message());
    }
    if (options_.on_reconnect) options_.on_reconnect(st);
    spdlog::warn("{}: {}; reconnecting after {}", Describe(), st.message(),
                 delivered_ ? Lsn{delivered_}.ToString() : std::string("the slot's position"));
    auto deadline = std::chrono::steady_clock::now() + options_.reconnect_timeout;
    while (true) {
      SleepUnlessStopped(backoff, stop);
      if (stop.load()) return Status::Ok();
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      Status open = Open(/*resume=*/true, delivered_);
      if (open.ok()) {
        backoff = std::chrono::milliseconds(100);
        if (options_.on_reconnect) options_.on_reconnect(Status::Ok());
        break;
      }
      if (options_.on_reconnect) options_.on_reconnect(open);
      if (!open.retryable() || std::chrono::steady_clock::now() > deadline) return open;
    }
  }
}

}  // namespace sluice::postgres
