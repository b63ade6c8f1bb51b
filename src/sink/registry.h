#pragma once
// The sinks sluice has, by URL scheme: mysql:// and mariadb:// (MySQL
// protocol), postgres://, kafka://, clickhouse://, redis://, file://.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sink/sink.h"

namespace sluice::sink {

// Opens the sink for options.url's scheme and reads its checkpoint. A
// retryable error (target down) is worth retrying; others are final.
Result<std::unique_ptr<Sink>> OpenSink(const SinkOptions& options);
// Whether a target URL of this scheme is supported.
bool IsSinkScheme(std::string_view scheme);
// "mysql, mariadb, ...": for messages.
std::string SinkSchemes();

}  // namespace sluice::sink
