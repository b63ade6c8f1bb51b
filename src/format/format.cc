#include "format/format.h"

#include "format/encoders.h"

namespace sluice::format {

Result<std::unique_ptr<Encoder>> MakeEncoder(const EncoderOptions& options) {
  if (options.format == "json") return MakeJsonEncoder(options);
  if (options.format == "canal") return MakeCanalEncoder(options);
  if (options.format == "maxwell") return MakeMaxwellEncoder(options);
  if (options.format == "debezium") {
    if (options.debezium_profile != "flink" && options.debezium_profile != "native") {
      return Status::Invalid("debezium_profile \"{}\" is not available (known: flink, native)", options.debezium_profile);
    }
    return MakeDebeziumEncoder(options);
  }
  return Status::Invalid("format \"{}\" is not available (known: json, canal, maxwell, debezium)", options.format);
}

}  // namespace sluice::format
