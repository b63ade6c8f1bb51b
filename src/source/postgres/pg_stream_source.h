#pragma once
// PgStreamSource: a PostgreSQL database's committed row changes, read over a
// logical replication connection with the built-in `pgoutput` plugin
// (protocol version 1), design §12.
//
// Set-up, in Run: the publication (`publication=` of the URL; default
// `sluice_<slot>`) is created FOR TABLE of the tables the patterns match
// when it does not exist, and an existing one must hold every matched table
// (else an error naming ALTER PUBLICATION). The slot (`slot=`; default the
// caller's `default_slot`) is created when missing with `start: latest`;
// with no slot name at all (sluice tail without slot=) a TEMPORARY slot
// lives as long as the connection. A slot that must exist and does not
// (start earliest or an LSN, or after a reconnect) is an error that says
// the changes since then are gone and how to start over.
//
// Positions: rows and commits carry the commit's end LSN; streaming starts
// at the slot's confirmed position (or a later LSN given as start).
// Feedback: a standby status update every `status_interval`, and whenever
// the server asks, confirms (flush) what the consumer has applied:
// `applied()` when given, else every transaction whose OnCommit returned.
// When nothing is pending (everything delivered is applied and no
// transaction is open), it confirms the WAL end the server reported, so an
// idle slot never holds WAL and a fast shutdown of the server is not held up.
//
// Delivery: whole transactions (see PgoutputDecoder), so a reconnect never
// cuts one: it resumes after the last delivered commit. Retryable errors
// (connection lost, server restarting) reconnect until reconnect_timeout;
// a temporary slot cannot survive that and is an error instead.
//
// Threads: Run on the caller's thread; `applied` is called from it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/postgres/connection.h"
#include "client/postgres/replication_stream.h"
#include "core/position.h"
#include "source/postgres/pgoutput_decoder.h"
#include "source/source.h"

namespace sluice::postgres {

class PgStreamSource : public Source {
 public:
  struct Options {
    ConnectOptions connect;
    std::string slot;          // empty: a temporary slot
    std::string publication;   // empty: sluice_<slot>, or sluice_tail for a temporary slot
    StartPosition start;       // latest | earliest | an LSN
    std::vector<std::string> tables;  // "schema.table" globs; empty: every user table
    // "schema.table" globs whose schema changes are taken as they come
    // (PgoutputDecoder: "Schema changes"); the others' added columns are
    // reported, other changes stop the stream.
    std::vector<std::string> unchecked_tables;
    // The rules' globs when `tables` is what they selected at start
    // (SourceOptions::rule_patterns).
    std::vector<std::string> rule_patterns;
    std::chrono::milliseconds status_interval{1000};
    std::chrono::seconds reconnect_timeout{300};
    // The LSN every consumer has applied up to (a commit end LSN, or 0 for
    // nothing yet); null: what OnCommit returned from.
    std::function<uint64_t()> applied;
    std::function<void(const Status&)> on_reconnect;
  };

  explicit PgStreamSource(Options options);
  ~PgStreamSource() override;

  Status Run(ChangeHandler& handler, const std::atomic<bool>& stop) override;

  // Session settings the value conversions rely on (pg_value.h).
  static constexpr const char* kSessionOptions =
      "-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=postgres -c bytea_output=hex -c extra_float_digits=1";

 private:
  // Connects, prepares publication and slot, starts streaming at `from`
  // (0: the slot's confirmed position). On a resume the slot must exist.
  Status Open(bool resume, uint64_t from);
  Status EnsurePublication();
  // Every kNewTableCheck while streaming (with rule_patterns): a table the
  // rules select that the start did not, and that the publication does not
  // publish (so no Relation of it will come), is kSourceChanged.
  Status CheckForNewTables();
  static constexpr std::chrono::seconds kNewTableCheck{5};
  std::chrono::steady_clock::time_point last_table_check_{};
  Status EnsureSlot(bool resume);
  Status Stream(ChangeHandler& handler, const std::atomic<bool>& stop);
  Status SendStatus(bool reply_requested);
  uint64_t Confirmable() const;
  Result<PgTypeRow> LookupType(uint32_t oid);
  Result<std::vector<std::string>> LookupPrimaryKey(uint32_t relid);
  Result<std::vector<PgColumnFacts>> LookupColumnFacts(uint32_t relid);
  // Whether this session's snapshot sees transaction `xid` (the stream's
  // 32-bit id, widened with the snapshot's epoch) committed.
  Result<bool> CatalogSees(uint32_t xid);
  std::string Describe() const;

  Options options_;
  std::string slot_;
  std::string publication_;
  bool temporary_ = false;
  std::unique_ptr<PgConnection> catalog_;
  std::unique_ptr<ReplicationStream> stream_;
  std::unique_ptr<PgoutputDecoder> decoder_;
  uint64_t delivered_ = 0;    // end LSN of the last transaction whose OnCommit returned
  uint64_t server_end_ = 0;   // the WAL end the server last reported
  uint64_t received_ = 0;     // the end of the last XLogData received
  uint64_t confirmed_ = 0;    // what the last status update confirmed
  std::chrono::steady_clock::time_point last_status_{};
};

}  // namespace sluice::postgres
