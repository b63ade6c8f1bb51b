#pragma once
// The `_version` of a row change: a UInt64 that grows in source order and is
// computed from the change's StreamPos alone, so that a replay after a crash
// writes exactly the versions the first attempt wrote (idempotent).
//
//   _version = file_number << 44 | (txn_offset * 4096 + row_index)
//
// file_number is the binlog file's numeric suffix (< 2^20), txn_offset the
// byte offset where the transaction starts (< 2^32, as binlog positions are)
// and row_index the change's ordinal inside its transaction (1, 2, ...).
// The low 44 bits grow with (offset, index): within a transaction with the
// index, across transactions because the next one starts at least one byte
// later, which leaves room for 4096 rows per byte of transaction. A row
// takes at least one byte in a binlog, so this holds for every uncompressed
// transaction (and for MySQL 8 compressed ones up to 4096:1). Two changes to
// one row in one transaction get different versions.
//
// PostgreSQL sources (the position is an LSN):
//
//   _version = commit_lsn << 16 | min(row_index, 65535)
//
// commit_lsn is the LSN of the transaction's commit record (< 2^48: 256 TiB
// of WAL since the cluster was made), which grows in commit order. Rows after
// the 65,535th of one transaction share the last version; ReplacingMergeTree
// keeps the last inserted of equal versions, and sluice inserts in source
// order (a replay too), so the newest change of a row still wins.

#include <cstdint>

#include "core/change_event.h"
#include "core/status.h"

namespace sluice::sink::clickhouse {

inline constexpr int kOffsetBits = 44;
inline constexpr int kIndexBits = 12;
inline constexpr int kLsnIndexBits = 16;

Result<uint64_t> VersionOf(const StreamPos& pos);

}  // namespace sluice::sink::clickhouse
