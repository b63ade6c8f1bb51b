#pragma once
// The range of a flashback (design section 13): where it starts and stops,
// and the ChangeHandler that keeps the source transactions inside it.
//
// Precisely: a FILE:POS start is inclusive at a transaction boundary and a
// FILE:POS stop exclusive (a transaction that starts before it is in); GTID
// positions follow mariadb-binlog (start exclusive: the source starts after
// it; stop inclusive); `until` is a commit time in UTC, inclusive. A range
// may cross binlog rotations. Without a stop reached, the range ends where
// the source's binlog ended when the job started: a MariaDB server's GTID
// position then (`server_end`), else (a FILE:POS start, or a server without
// GTIDs) its first heartbeat, which a server sends once it has nothing more
// to send. (A server also sends heartbeats while it skips to a GTID start,
// which is why a GTID start never ends the range at a heartbeat on MariaDB.)

#include <functional>
#include <map>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/position.h"
#include "core/status.h"
#include "jobs/flashback/undo.h"
#include "source/source.h"

namespace sluice::jobs::flashback {

struct RangeEnd {
  std::optional<BinlogFilePos> stop_pos;     // exclusive
  std::optional<MariadbGtid> stop_mariadb;   // inclusive
  std::optional<std::pair<Uuid, uint64_t>> stop_mysql;  // inclusive: uuid:N
  std::optional<int64_t> until_s;            // commit time, UTC seconds, inclusive

  // --stop: "binlog.000003:1234", "0-1-42" or "UUID:42".
  static Result<RangeEnd> ParseStop(std::string_view text);
};

// "2026-12-04 18:05:00" or "2026-12-04T18:05:00[Z]" (UTC) -> seconds since the epoch.
Result<int64_t> ParseUtcTime(std::string_view text);

// Collects the transactions of the range; sets `done` (the source's stop
// flag) when the range has ended. Capture thread only.
class RangeCollector : public ChangeHandler {
 public:
  // `server_end`: the source server's GTID position when the job started
  // (empty: none known); `seen`: the GTIDs before the range (a GTID start).
  RangeCollector(RangeEnd end, std::atomic<bool>& done, bool stop_at_heartbeat, MariadbGtidList server_end = {},
                 MariadbGtidList seen = {})
      : end_(std::move(end)), done_(done), stop_at_heartbeat_(stop_at_heartbeat), server_end_(std::move(server_end)),
        seen_(std::move(seen)) {}

  // Every domain of `server_end` has been read up to its position.
  bool ReachedServerEnd() const;

  Status OnBegin(const TransactionInfo& info) override;
  Status OnRow(const RowChange& row) override;
  Status OnCommit(const CommitInfo& info) override;
  Status OnDdl(const DdlInfo& info) override;
  Status OnHeartbeat(uint64_t ts_ms) override;

  // Where a binlog without column names (binlog_row_metadata=MINIMAL, e.g.
  // a file:// source) gets them: given a table as the binlog describes it,
  // the same table with names and keys (e.g. from the --apply server).
  // Unset: such a binlog is refused.
  using NameResolver = std::function<Result<TableSchemaPtr>(const TableSchema& binlog)>;
  void SetNameResolver(NameResolver resolve) { resolve_names_ = std::move(resolve); }

  std::vector<SourceTransaction>& transactions() { return txns_; }
  // DDL statements inside the range ("query @ position"): flashback undoes rows only.
  const std::vector<std::string>& ddl() const { return ddl_; }
  uint64_t rows() const { return rows_; }

 private:
  void Finish() { done_.store(true); }
  bool AtOrPastStop(std::string_view file, uint64_t offset) const;

  RangeEnd end_;
  std::atomic<bool>& done_;
  bool stop_at_heartbeat_;
  MariadbGtidList server_end_;
  MariadbGtidList seen_;
  bool finished_ = false;
  bool open_ = false;
  SourceTransaction current_;
  std::vector<SourceTransaction> txns_;
  std::vector<std::string> ddl_;
  uint64_t rows_ = 0;
  NameResolver resolve_names_;
  // Per binlog schema version (kept alive), its named version.
  std::map<const TableSchema*, std::pair<TableSchemaPtr, TableSchemaPtr>> named_;
};

}  // namespace sluice::jobs::flashback
