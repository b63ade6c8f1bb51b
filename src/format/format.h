#pragma once
// Encoders of change events into the message formats consumers read
// (design sections 4 and 9): `json` (sluice's own, section 4), `canal`
// (Canal's flat message), `maxwell`, `debezium` (the MySQL connector's
// envelope). Used by the Kafka and file sinks and by `sluice tail --format`.
//
// An Encoder is made once per sink (or tail) and used from one thread; it
// may keep per-table caches (e.g. Debezium schema blocks per table version).
// Encoding never alters a value: what a format cannot carry exactly is an
// error naming the table, column and position.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sink_change.h"
#include "core/status.h"

namespace sluice::format {

struct EncoderOptions {
  std::string format = "json";            // json | canal | maxwell | debezium
  bool schemas = false;                    // debezium: add the schema block (schemas.enable=true)
  bool tombstones = true;                  // debezium: a null-valued message after each delete
  std::string debezium_profile = "flink";  // flink | native (Debezium's own defaults)
  std::string server_name = "sluice";      // debezium: source.name / topic prefix
  uint64_t now_ms = 0;                     // the clock for canal's "ts" (0: the wall clock; tests fix it)
};

// One message: a key and a value. A tombstone has no value (Kafka null).
struct Message {
  std::string key;
  std::optional<std::string> value;
};

// Where a change comes from, beyond what SinkChange carries.
struct ChangeContext {
  std::string_view gtid;      // empty where the server has none
  std::string_view position;  // "binlog.000003:1234" (the transaction's start)
  uint64_t server_id = 0;
  uint64_t xid = 0;           // Maxwell's xid / Canal's id, where known
  bool last_in_transaction = false;  // Maxwell's "commit": true
};

// A DDL statement as formats carry it (Canal isDdl, Maxwell "type":"table-alter"...).
struct DdlEvent {
  std::string db;      // the database it applies to (after renames)
  std::string table;   // "" for database statements
  std::string query;   // as the source ran it
  uint64_t ts_ms = 0;
  std::string_view gtid;
  std::string_view position;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  // Appends the message(s) of one row change: one per change, plus a
  // tombstone after a Debezium delete when tombstones are on.
  virtual Status EncodeChange(const SinkChange& change, const ChangeContext& ctx, std::vector<Message>& out) = 0;
  // Appends the message of a DDL statement.
  virtual Status EncodeDdl(const DdlEvent& ddl, std::vector<Message>& out) = 0;
};

Result<std::unique_ptr<Encoder>> MakeEncoder(const EncoderOptions& options);

}  // namespace sluice::format
