#pragma once
// The streaming replication protocol's CopyData messages (PostgreSQL
// "Streaming Replication Protocol"), all integers big-endian:
//
//   server -> client
//     'w' XLogData        wal_start:8 wal_end:8 send_time:8 data:rest
//     'k' keepalive       wal_end:8 send_time:8 reply_requested:1
//   client -> server
//     'r' status update   written:8 flushed:8 applied:8 client_time:8 reply_requested:1
//
// Times are microseconds since 2000-01-01 00:00:00 UTC.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::postgres {

// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
constexpr int64_t kPgEpochOffsetUs = 946684800LL * 1000000;

inline uint64_t PgTimeToUnixMs(int64_t pg_us) {
  int64_t unix_us = pg_us + kPgEpochOffsetUs;
  return unix_us <= 0 ? 0 : static_cast<uint64_t>(unix_us / 1000);
}

struct ReplicationFrame {
  enum class Kind : uint8_t { kXLogData, kKeepalive };
  Kind kind = Kind::kXLogData;
  uint64_t wal_start = 0;  // XLogData
  uint64_t wal_end = 0;
  int64_t send_time_us = 0;
  bool reply_requested = false;  // keepalive
  std::string_view data;         // XLogData: one pgoutput message (a view into the CopyData)
};

Result<ReplicationFrame> ParseReplicationFrame(std::string_view copy_data);

// A standby status update: `flushed` is what the slot may confirm.
std::string StandbyStatusUpdate(uint64_t written, uint64_t flushed, uint64_t applied, int64_t client_time_us,
                                bool reply_requested = false);

}  // namespace sluice::postgres
