#pragma once
// Positions in a MySQL/MariaDB binlog stream: file:offset, MariaDB GTID lists
// and MySQL GTID sets. Types, not strings; each parses and prints its
// canonical text form.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice {

struct BinlogFilePos {
  std::string file;
  uint64_t offset = 0;

  static Result<BinlogFilePos> Parse(std::string_view text);  // "binlog.000003:1234"
  std::string ToString() const;
  bool operator==(const BinlogFilePos&) const = default;
};

// MariaDB GTID: domain-server-sequence.
struct MariadbGtid {
  uint32_t domain = 0;
  uint32_t server = 0;
  uint64_t seq = 0;

  static Result<MariadbGtid> Parse(std::string_view text);
  std::string ToString() const;
  bool operator==(const MariadbGtid&) const = default;
};

// MariaDB GTID position: the last GTID per replication domain.
class MariadbGtidList {
 public:
  static Result<MariadbGtidList> Parse(std::string_view text);  // "0-1-42,1-2-7"; "" is empty
  std::string ToString() const;
  // Records that `gtid` committed: it becomes its domain's position.
  void Update(const MariadbGtid& gtid) { domains_[gtid.domain] = gtid; }
  bool empty() const { return domains_.empty(); }
  const std::map<uint32_t, MariadbGtid>& domains() const { return domains_; }
  bool operator==(const MariadbGtidList&) const = default;

 private:
  std::map<uint32_t, MariadbGtid> domains_;
};

using Uuid = std::array<uint8_t, 16>;

// MySQL GTID set: per source UUID, a list of closed intervals of transaction
// numbers, kept sorted and merged: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7".
class MysqlGtidSet {
 public:
  struct Interval {
    uint64_t first;  // inclusive
    uint64_t last;   // inclusive
    bool operator==(const Interval&) const = default;
  };

  static Result<MysqlGtidSet> Parse(std::string_view text);
  std::string ToString() const;
  void Add(const Uuid& uuid, uint64_t gno) { AddInterval(uuid, {gno, gno}); }
  void AddInterval(const Uuid& uuid, Interval interval);
  bool Contains(const Uuid& uuid, uint64_t gno) const;
  bool empty() const { return sets_.empty(); }
  const std::map<Uuid, std::vector<Interval>>& sets() const { return sets_; }
  // The binary form COM_BINLOG_DUMP_GTID and PREVIOUS_GTIDS use: n_sids:8,
  // then per sid uuid:16 n_intervals:8 {start:8 end_exclusive:8}...
  std::string Encode() const;
  static Result<MysqlGtidSet> Decode(std::string_view bytes);
  bool operator==(const MysqlGtidSet&) const = default;

 private:
  std::map<Uuid, std::vector<Interval>> sets_;
};

std::string UuidToString(const Uuid& uuid);
Result<Uuid> ParseUuid(std::string_view text);

// A PostgreSQL WAL position (log sequence number): printed as two hex
// halves, "0/16B3748", as the server prints pg_lsn.
struct Lsn {
  uint64_t value = 0;

  static Result<Lsn> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const Lsn&) const = default;
};

// Where a stream starts: the latest position, the oldest binlog still on the
// server, a GTID position (MariaDB list or MySQL set), or a file:offset.
struct StartPosition {
  enum class Kind : uint8_t { kLatest, kEarliest, kMariadbGtid, kMysqlGtid, kFilePos, kLsn };
  Kind kind = Kind::kLatest;
  MariadbGtidList mariadb_gtid;
  MysqlGtidSet mysql_gtid;
  BinlogFilePos file_pos;
  Lsn lsn;  // kLsn: a PostgreSQL LSN

  // "latest" | "earliest" | "0-1-42[,...]" | "uuid:1-5[,...]" | "binlog.000003:1234" | "0/16B3748"
  static Result<StartPosition> Parse(std::string_view text);
  std::string ToString() const;
};

}  // namespace sluice
