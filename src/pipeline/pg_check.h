#pragma once
// The consistency check of a pipeline whose source is PostgreSQL
// (pipeline/check.h states what a check promises; RunCheck comes here for
// postgres:// sources). Internal to pipeline/.
//
// Targets: PostgreSQL and MySQL/MariaDB. The source is read through
// source/postgres's PgTableReader, each value converted exactly as the
// stream converts it; a PostgreSQL target the same way by its own column
// types (an enum it holds as text, an array as jsonb: same values; JSON
// compared semantically), a MySQL one through client/mysql's TableReader,
// both sides then put in the form the MySQL sink gives them (booleans 1/0,
// char(n) unpadded, decimals and temporals without trailing fractional
// zeros).
//
//   1. Plan: each table is cut into chunks of `chunk_rows` source keys.
//   2. Compare per chunk, `parallel` workers: when every mapped column has
//      the same type on both sides and there is no `where:`, server-side
//      checksums (row count, xor and sum of a 64-bit hash of each row's
//      text) first: an equal chunk transfers no row. Otherwise the chunk's
//      rows are read on both sides, the same key range on each, and matched
//      by key. A row one side's range lacks is looked up by key on the other
//      side before it counts as missing or extra (the two servers' text
//      collations may order keys differently, so a key can sit in another
//      range there): rows are never reported, or repaired, for being in
//      another chunk. A keyless table is compared whole, as a multiset.
//   3. Settle: with a checkpoint on the target, differing chunks are
//      compared again once the pipeline has applied past the source's WAL
//      position taken then (its checkpoint, or its slot's confirmed
//      position, which an idle pipeline moves to the WAL end), up to three
//      times within `wait`.
//   4. Repair: per differing chunk, through the target's sink::ChunkTarget
//      (which holds off the stream's commits: chunk_target.h), the chunk is
//      read again and missing and different rows upserted, extra ones
//      deleted; then compared and settled again.
//
// ClickHouse and Redis targets are checked by keys (check_target.h's
// TargetCheck, reading this source through SourcePlan::pg_reader), values
// put in the form those targets read back (FitPgReadBack); settling there
// waits on the same WAL position and slot. Other kinds (Kafka, files) are
// refused with an error naming the pipeline and target. Key ranges and
// lookups carry PostgreSQL's key text to PostgreSQL targets and the key's
// value as MySQL prints it to MySQL ones (a bytea key as its bytes, a
// boolean as 1/0, a timestamptz in UTC); keys are matched in the form both
// sides share.

#include <atomic>

#include "client/postgres/connection.h"
#include "core/status.h"
#include "pipeline/check.h"
#include "pipeline/config.h"

namespace sluice::pipeline::detail {

// The source's WAL position now; whether the replication slot `slot` has
// confirmed `wanted` (which the pipeline does only for what every target
// applied, or once nothing is pending: an idle pipeline reaches the WAL end).
Result<std::string> PgWalPosition(postgres::PgConnection& c);
Result<bool> PgSlotConfirmed(postgres::PgConnection& c, const std::string& slot, const std::string& wanted);

Result<CheckReport> RunPostgresCheck(const Config& config, const PipelineConfig& p, const SourceConfig& source,
                                     const CheckOptions& options, std::atomic<bool>* cancel);

}  // namespace sluice::pipeline::detail
