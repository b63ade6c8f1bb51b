#pragma once
// The sinks sluice has, by URL scheme: mysql:// and mariadb:// (MySQL
// protocol), postgres://, kafka://, clickhouse://, redis://, file://.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/interrupter.h"
#include "core/status.h"
#include "sink/chunk_target.h"
#include "sink/row_reader.h"
#include "sink/sink.h"

namespace sluice::mysql {
using Interrupter = sluice::Interrupter;
}

namespace sluice::sink {

// Opens the sink for options.url's scheme and reads its checkpoint. A
// retryable error (target down) is worth retrying; others are final.
Result<std::unique_ptr<Sink>> OpenSink(const SinkOptions& options);
// Opens a connection that snapshots and repairs write through (sink/chunk_target.h).
// `interrupt` (may be null) cuts MySQL, PostgreSQL and Redis connections
// from another thread (a job's Cancel); other kinds bound their waits with
// timeouts.
Result<std::unique_ptr<ChunkTarget>> OpenChunkTarget(const SinkOptions& options, sluice::mysql::Interrupter* interrupt);
// Whether snapshots and repairs can write into targets of this scheme.
bool SupportsSnapshot(std::string_view scheme);
// Opens a connection that reads a target's rows back for a check
// (sink/row_reader.h); kNotSupported for kinds that cannot be read back
// (MySQL targets are checked by client/mysql's TableReader instead).
// PostgreSQL and Redis readers register with options.interrupt (the check's
// interrupter): a cancelled check does not wait on a hung target.
Result<std::unique_ptr<RowReader>> OpenRowReader(const SinkOptions& options);
// Whether `sluice check` (and `check:` in `sluice run`) works for targets
// of this scheme: MySQL ones, and those with a RowReader.
bool SupportsCheck(std::string_view scheme);
// Whether a target URL of this scheme is supported.
bool IsSinkScheme(std::string_view scheme);
// "mysql, mariadb, ...": for messages.
std::string SinkSchemes();

}  // namespace sluice::sink
