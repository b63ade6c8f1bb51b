#pragma once
// What sluice keeps in ClickHouse, shared by the streaming sink
// (clickhouse_sink.h) and the snapshot's chunk target
// (clickhouse_chunk_target.h), so that both create and read them alike:
//   - a target table: ReplacingMergeTree(_version) ORDER BY (key), the
//     mapped columns plus `_version UInt64` and `_sign Int8`, created when
//     missing and reshaped to follow the source (columns added / dropped);
//   - a row of it in RowBinary: the mapped values, then _version and _sign;
//   - `_sluice`.`checkpoints`: one row per pipeline and target, the highest
//     _version current.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/clickhouse/http_client.h"
#include "core/change_event.h"
#include "core/sink_change.h"
#include "core/status.h"
#include "sink/clickhouse/type_map.h"

namespace sluice::sink::clickhouse {

inline constexpr std::string_view kCheckpointTable = "`_sluice`.`checkpoints`";

// `db`.`table`, quoted.
std::string TableName(const std::string& db, const std::string& table);
// The key of a change as "col=value" (composite keys in parentheses), for messages.
std::string DescribeKey(const SinkChange& c);

// `v` as a literal of the column's mapped type, CAST('text' AS <type>): exact
// for every mapped type. Fails for NULL and for a column ClickHouse cannot map.
Result<std::string> ValueLiteral(const Value& v, const ColumnMeta& column);
// The same for a value's text as ClickHouse prints it.
Result<std::string> TextLiteral(const std::string& text, const ColumnMeta& column);
// "`k1` = lit AND `k2` = lit" for the key values of `c` (keyed tables only).
Result<std::string> KeyCondition(const SinkChange& c);

// Existing columns of db.table as (name, type); empty when the table is missing.
Result<std::vector<std::pair<std::string, std::string>>> DescribeTable(sluice::clickhouse::ClickhouseClient& client,
                                                                       const std::string& db, const std::string& table);

// How the rows of one target table (one source schema version) are written.
struct TableWriter {
  std::vector<ColumnEncoding> encodings;
  std::string insert_sql;  // INSERT INTO db.t (cols..., _version, _sign) FORMAT RowBinary
};
// Creates the table of `t` when missing, else adds the columns it lacks,
// drops those the source dropped and follows type changes ClickHouse can
// convert exactly (column_retype.h). Keyless tables are refused. `where`
// prefixes errors.
Result<TableWriter> EnsureTargetTable(sluice::clickhouse::ClickhouseClient& client, const TargetTable& t,
                                      const std::string& where);

// Appends the RowBinary row of `c` with `version` and `sign` (1 live, -1
// deleted; a deleted row's columns it lacks get defaults). On a value
// ClickHouse cannot hold, `out` is left as it was and the error names the column.
Status AppendRow(std::string& out, const TableWriter& t, const SinkChange& c, uint64_t version, int8_t sign);

// The checkpoint row of a pipeline's target.
struct CheckpointRow {
  std::string global_pos;  // StreamPos text ("" after a reset)
  std::string resume_position;
  std::string gtid_state;
  uint64_t version = 0;
};
Status EnsureCheckpointTable(sluice::clickhouse::ClickhouseClient& client);
// The current row; nullopt when the pipeline never wrote one.
Result<std::optional<CheckpointRow>> ReadCheckpointRow(sluice::clickhouse::ClickhouseClient& client,
                                                       const std::string& pipeline, const std::string& target);
Status WriteCheckpointRow(sluice::clickhouse::ClickhouseClient& client, const std::string& pipeline,
                          const std::string& target, const CheckpointRow& row);
// A target renamed in the configuration takes over the checkpoint (and
// snapshot plan) of its old name, one of `former` (sink/checkpoint_rows.h's
// RenamedFrom decides). No transactions: the plan rows are written under the
// new name first, then the checkpoint row, then the old name's row is reset
// (an empty position, as ResetCheckpoint writes); a crash in between repeats
// or leaves an old row that is no one's. Returns the name taken over.
Result<std::string> TakeOverRenamedTarget(sluice::clickhouse::ClickhouseClient& client, const std::string& pipeline,
                                          const std::string& target, const std::vector<std::string>& former);

}  // namespace sluice::sink::clickhouse
