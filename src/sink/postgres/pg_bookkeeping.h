#pragma once
// sluice's own tables in a PostgreSQL target, in schema `_sluice`:
//   checkpoints      one row per pipeline, target and part: where the
//                    pipeline's applied changes end (part -1: the global
//                    position; -2: a snapshot's catch-up horizon), with
//                    room for the cluster epoch;
//   keyless_copies   per keyless table a snapshot copied whole, where it
//                    read it (the stream leaves out its changes before);
//   snapshot_chunks  the plans of snapshots, one row per chunk.
// Created when missing; two pipelines creating them at once is fine.

#include <string>
#include <vector>

#include "client/postgres/connection.h"
#include "core/status.h"

namespace sluice::sink::postgres {

inline constexpr int kGlobalPart = -1;
inline constexpr int kHorizonPart = -2;

Status EnsureCheckpointTable(sluice::postgres::PgConnection& conn);
// `_sluice.pending_retypes`: tables whose column types are re-derived from
// their next rows (a MySQL source's MODIFY, whose new types only the rows
// carry), written with the statement's checkpoint so that a restart before
// those rows keeps the intent.
Status EnsurePendingRetypesTable(sluice::postgres::PgConnection& conn);
Status EnsureSnapshotChunksTable(sluice::postgres::PgConnection& conn);

// A target renamed in the configuration takes over the checkpoint its old
// name left here, as sink/mysql/renamed_target.h says (with its snapshot
// plan, keyless copy records and pending retypes). Returns the name taken
// over, "" when nothing was.
Result<std::string> TakeOverRenamedTarget(sluice::postgres::PgConnection& conn, const std::string& pipeline,
                                          const std::string& target, const std::vector<std::string>& former);

}  // namespace sluice::sink::postgres
