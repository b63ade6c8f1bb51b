#pragma once
// RedisRowReader: a Redis target's rows read back in the source column
// kinds, for `sluice check` (sink/row_reader.h).
//
//   hash   each row is the hash at its key (redis_keys.h): a field per
//          non-NULL column holding its section-4 text, parsed back by the
//          source kind (integers and floats by value, binary from base64,
//          everything else as the text itself); an absent field is NULL.
//   string each row is a JSON object at its key: numbers by value, strings
//          as above, JSON columns as their JSON (compared semantically by
//          the check), null as NULL.
//   stream not checkable: a stream is a log of changes, not a table; Open
//          refuses it.
// Keys are paged with SCAN over the table's key pattern (no order; SCAN may
// return a key twice, the check counts it once); each key's ${pk} part is
// split at unescaped ':' and parsed like a field.

#include <memory>

#include "sink/redis/redis_commands.h"
#include "sink/redis/redis_connection.h"
#include "sink/redis/redis_keys.h"
#include "sink/row_reader.h"
#include "sink/sink.h"

namespace sluice::sink::redis {

// A field's text (hash mode, or a key part) as the source's Value of
// `column`. Never fails: unparsable text is kText.
Value ParseRedisField(const ColumnMeta& column, std::string_view text, Arena& arena);

class RedisRowReader : public RowReader {
 public:
  static Result<std::unique_ptr<RedisRowReader>> Open(const SinkOptions& options);

  Result<std::string> CheckTable(const TargetTable& t) override;
  Result<RowBlock> ReadKeys(const TargetTable& t, std::span<const Value> keys) override;
  Result<RowBlock> ReadKeyPage(const TargetTable& t, KeyCursor& cursor, size_t limit) override;
  Result<RowBlock> ReadAll(const TargetTable& t) override;

 private:
  RedisRowReader(std::unique_ptr<RedisConnection> c, CommandBuilder builder)
      : conn_(std::move(c)), builder_(std::move(builder)) {}
  // Appends the row stored at one key reply (HGETALL or GET) to `out`; false
  // when there is none.
  bool AppendRow(const TargetTable& t, const RedisReply& reply, RowBlock& out);

  std::unique_ptr<RedisConnection> conn_;
  CommandBuilder builder_;
};

}  // namespace sluice::sink::redis
