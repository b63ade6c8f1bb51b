#pragma once
// The encoders MakeEncoder chooses from, and what they share.

#include <memory>
#include <string>
#include <vector>

#include "format/format.h"

namespace sluice::format {

std::unique_ptr<Encoder> MakeJsonEncoder(const EncoderOptions& options);
std::unique_ptr<Encoder> MakeCanalEncoder(const EncoderOptions& options);
std::unique_ptr<Encoder> MakeMaxwellEncoder(const EncoderOptions& options);
std::unique_ptr<Encoder> MakeDebeziumEncoder(const EncoderOptions& options);

// {"id":7}: the change's key columns (every column for a keyless table) as a
// JSON object, with section-4 values; the message key of `json` and `canal`.
void AppendKeyObject(std::string& out, const SinkChange& change);
// The same with the column keys rendered already: quoted_keys[i] is
// "\"name\":" of target column i (encoders cache them per table).
void AppendKeyObject(std::string& out, const SinkChange& change, const std::vector<std::string>& quoted_keys);

}  // namespace sluice::format
