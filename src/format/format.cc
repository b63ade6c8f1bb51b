#include "format/format.h"

#include "format/encoders.h"

namespace sluice::format {

Result<std::unique_ptr<Encoder>> MakeEncoder(const EncoderOptions& options) {
  if (options.format == "json") return MakeJsonEncoder(options);
  return Status::Invalid("format \"{}\" is not available (known: json, canal, maxwell, debezium)", options.format);
}

}  // namespace sluice::format
