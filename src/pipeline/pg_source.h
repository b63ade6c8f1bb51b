#pragma once
// What `sluice run` does differently for a PostgreSQL source (design §12):
// the table list comes from the source's catalog rather than
// information_schema, positions are commit LSNs, `latest` and `earliest`
// are the replication slot's position, and targets that speak MySQL get
// their tables created from the catalog (PostgreSQL sends no DDL).

#include <chrono>
#include <string>
#include <vector>

#include "core/position.h"
#include "core/sink_change.h"
#include "core/status.h"
#include "pipeline/config.h"
#include "pipeline/table_set.h"

namespace sluice::postgres {
class PgConnection;
}

namespace sluice::pipeline {

bool IsPostgresSource(const SourceConfig& s);

// The rules' "schema.table" globs, for tables that appear after the start
// (SourceOptions::rule_patterns); empty when a rule is a regex.
std::vector<std::string> PostgresRulePatterns(const PipelineConfig& p);

// The pipeline's own slot when the source URL names none (`slot=`):
// sluice_<pipeline>, lower case, other characters than [a-z0-9_] as '_',
// at most 63 bytes (PostgreSQL's limit).
std::string DefaultSlotName(const PipelineConfig& p);

// The replication slot (`slot=`, else DefaultSlotName) and publication
// (`publication=`, else sluice_<slot>) the pipeline reads through.
std::string SlotOf(const PipelineConfig& p, const SourceConfig& s);
std::string PublicationOf(const PipelineConfig& p, const SourceConfig& s);

// A set-aside target's catch-up (pipeline_set_aside.cc) reads through a copy
// of the pipeline's slot, made when it starts (so it reads from where the
// slot, held for that target, still is) and dropped when it ends. Named
// after the slot: "<slot, at most 50 bytes>_cu<n>".
std::string CatchUpSlotName(const PipelineConfig& p, const SourceConfig& s, size_t n);
Status CopySlotForCatchUp(const PipelineConfig& p, const SourceConfig& s, const std::string& copy);
// Drops the copy once no stream reads it (waits up to `wait` for that).
Status DropCatchUpSlot(const PipelineConfig& p, const SourceConfig& s, const std::string& copy,
                       std::chrono::seconds wait);
// At a pipeline's start: the copies a crash left, which nothing reads, are
// dropped (each would hold the source's WAL for good).
Status DropLeftoverCatchUpSlots(const PipelineConfig& p, const SourceConfig& s);

// Tables of the source the pipeline's rules select (sluice's own `_sluice`
// schema left out), in name order, each with the first rule selecting it.
Result<std::vector<SourceTable>> SelectedPostgresTables(postgres::PgConnection& c, const PipelineConfig& p);

// Before anything runs: every rule selects a table of the source, and each
// rule fits the tables it selects (CheckRuleAgainstTable). Returns the
// selected tables as "schema.table", the source's table patterns.
Result<std::vector<std::string>> ValidatePostgresSource(const PipelineConfig& p, const SourceConfig& s);

// `latest` (the slot's position, the slot created when missing) and
// `earliest` (an existing slot's confirmed position) as an LSN, once. A
// slot is created only after the publication of `tables` (the selected
// ones) exists: pgoutput reads the publication as of each change it
// decodes, and a change made between the two would fail the stream for
// good ("publication ... does not exist").
Result<StartPosition> ResolvePostgresStart(const PipelineConfig& p, const SourceConfig& s, const StartPosition& start,
                                           const std::vector<std::string>& tables);

// On a pipeline that streamed before (its slot exists) through its own
// publication FOR TABLE: those of `tables` ("schema.table") it does not
// publish yet, created since (while the pipeline ran or was stopped). Their
// rows written so far were never streamed. Empty on a first start and for
// publications FOR ALL TABLES or named with publication= (the source checks
// those).
Result<std::vector<std::string>> UnpublishedPostgresTables(const PipelineConfig& p, const SourceConfig& s,
                                                           const std::vector<std::string>& tables);
// Adds what UnpublishedPostgresTables found to the publication.
Status PublishPostgresTables(const PipelineConfig& p, const SourceConfig& s, const std::vector<std::string>& tables);
// Those of `tables` without a primary key or replica identity index.
Result<std::vector<std::string>> KeylessPostgresTables(const PipelineConfig& p, const SourceConfig& s,
                                                       const std::vector<std::string>& tables);

// Creates the selected tables' target tables that are missing on `target`
// (mapped: renames, subsets), from the source's catalog.
Status EnsurePostgresTargetTables(const PipelineConfig& p, const SourceConfig& s, const TargetConfig& target);

// The MySQL statement for the columns a PostgreSQL source table widened
// (DdlInfo::retyped) and gained (DdlInfo::table, from `first_added` on):
// ALTER TABLE `db`.`t` MODIFY COLUMN `c` TYPE [NOT] NULL, ..., ADD COLUMN
// `c` TYPE NULL [DEFAULT the value older rows read], ... with the types of
// the README's mapping. Every target takes DDL in MySQL's dialect.
Result<std::string> PgChangedColumnsDdl(const TableSchema& t, size_t first_added, const std::vector<uint32_t>& widened);

// The same statement for a mapped table (after `to:` renames, subsets and
// column renames): the columns of `target` that `existing` (the target
// table's column names) lacks, and those of `widened` (indexes in `target`)
// it has; empty when there are none.
Result<std::string> PgMissingColumnsSql(const TargetTable& target, const std::vector<std::string>& existing,
                                        const std::vector<uint32_t>& widened = {});

}  // namespace sluice::pipeline
