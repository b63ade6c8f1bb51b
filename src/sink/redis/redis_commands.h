#pragma once
// The Redis commands that apply one mapped change, per mode (design section 9):
//   hash   (default) one hash per row: an insert replaces the hash (DEL, then
//          HSET of every non-NULL column, key columns included); an update
//          HSETs the non-NULL columns and HDELs the NULL ones; a delete DELs.
//   string SET key to the row's JSON object (section-4 values, NULL as
//          null); a delete DELs.
//   stream XADD to one stream per table (the key template names the stream
//          and has no ${pk}; default "${db}:${table}") with the change as
//          fields: op db table key before after ts_ms gtid pos (op is insert,
//          update, delete, or read for a row a snapshot copied).
// Replaying a change gives the same hash or string as applying it once, so
// replays after a crash converge. Pure: builds argv vectors, no I/O.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/sink_change.h"
#include "core/status.h"
#include "sink/redis/redis_keys.h"

namespace sluice::sink::redis {

enum class Mode : uint8_t { kHash, kString, kStream };

using Command = std::vector<std::string>;

class CommandBuilder {
 public:
  // `key_template` as configured; in stream mode the default row template
  // "${db}:${table}:${pk}" means "${db}:${table}", and any other with ${pk}
  // is an error (a stream holds a table's changes, not a row's).
  static Result<CommandBuilder> Make(std::string_view mode, std::string_view key_template, std::string_view pipeline);

  // Appends the commands that apply `change` and sets *key to the key they
  // write. Fails (without appending) when the change cannot be written: a
  // table without a key in hash or string mode, a value missing from the
  // row image (binlog_row_image other than FULL).
  Status Build(const SinkChange& change, std::vector<Command>& out, std::string* key) const;
  // Stream mode: the entry recording a DDL statement (DROP or TRUNCATE) in the table's stream.
  Command StreamDdl(std::string_view db, std::string_view table, std::string_view query, uint64_t ts_ms,
                    std::string_view pos) const;

  Mode mode() const { return mode_; }
  const KeyTemplate& keys() const { return keys_; }

 private:
  CommandBuilder(Mode mode, KeyTemplate keys) : mode_(mode), keys_(std::move(keys)) {}
  Status BuildHash(const SinkChange& change, const std::string& key, std::vector<Command>& out) const;
  Status BuildString(const SinkChange& change, const std::string& key, std::vector<Command>& out) const;
  void BuildStream(const SinkChange& change, const std::string& key, std::vector<Command>& out) const;

  Mode mode_;
  KeyTemplate keys_;
};

}  // namespace sluice::sink::redis
