#include "sink/clickhouse/version.h"

#include <algorithm>

namespace sluice::sink::clickhouse {

Result<uint64_t> VersionOf(const StreamPos& pos) {
  if (pos.is_lsn()) {
    if (pos.txn_offset >= (uint64_t{1} << (64 - kLsnIndexBits))) {
      return Status::Error(StatusCode::kNotSupported, "position {}: LSN beyond 256 TiB (ClickHouse _version has no room)",
                           pos.ToString());
    }
    constexpr uint64_t kLastIndex = (uint64_t{1} << kLsnIndexBits) - 1;
    uint64_t index = pos.index == StreamPos::kWholeTransaction ? 0 : std::min(pos.index, kLastIndex);
    return pos.txn_offset << kLsnIndexBits | index;
  }
  size_t dot = pos.file.rfind('.');
  std::string_view suffix = dot == std::string::npos ? std::string_view() : std::string_view(pos.file).substr(dot + 1);
  uint64_t file = 0;
  for (char c : suffix) {
    if (c < '0' || c > '9') {
      suffix = {};
      break;
    }
    file = file * 10 + static_cast<uint64_t>(c - '0');
    if (file >= (uint64_t{1} << (64 - kOffsetBits))) break;
  }
  if (suffix.empty()) return Status::Invalid("position {}: no binlog file number to version rows by", pos.ToString());
  if (file >= (uint64_t{1} << (64 - kOffsetBits))) {
    return Status::Error(StatusCode::kNotSupported,
                         "position {}: binlog file number beyond {} (ClickHouse _version has no room)", pos.ToString(),
                         (uint64_t{1} << (64 - kOffsetBits)) - 1);
  }
  if (pos.txn_offset >= (uint64_t{1} << 32)) {
    return Status::Error(StatusCode::kNotSupported,
                         "position {}: offset beyond 4 GiB (ClickHouse _version has no room)", pos.ToString());
  }
  uint64_t index = pos.index == StreamPos::kWholeTransaction ? 0 : pos.index;
  uint64_t low = (pos.txn_offset << kIndexBits) + index;
  if (low >= (uint64_t{1} << kOffsetBits)) {
    return Status::Error(StatusCode::kNotSupported, "position {}: row index too large for ClickHouse _version",
                         pos.ToString());
  }
  return (file << kOffsetBits) | low;
}

}  // namespace sluice::sink::clickhouse
