#include "source/postgres/replication_frame.h"

#include "core/byte_reader.h"

namespace sluice::postgres {
namespace {

void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

}  // namespace

Result<ReplicationFrame> ParseReplicationFrame(std::string_view copy_data) {
  ByteReader r(copy_data);
  ReplicationFrame f;
  uint8_t tag = r.U8();
  if (tag == 'w') {
    f.kind = ReplicationFrame::Kind::kXLogData;
    f.wal_start = r.UIntBE(8);
    f.wal_end = r.UIntBE(8);
    f.send_time_us = static_cast<int64_t>(r.UIntBE(8));
    if (!r.ok()) return Status::Corruption("XLogData: truncated header ({} bytes)", copy_data.size());
    f.data = r.Rest();
    return f;
  }
  if (tag == 'k') {
    f.kind = ReplicationFrame::Kind::kKeepalive;
    f.wal_end = r.UIntBE(8);
    f.send_time_us = static_cast<int64_t>(r.UIntBE(8));
    f.reply_requested = r.U8() != 0;
    if (!r.ok()) return Status::Corruption("primary keepalive: truncated ({} bytes)", copy_data.size());
    return f;
  }
  if (copy_data.empty()) return Status::Corruption("replication stream: empty CopyData message");
  return Status::Corruption("replication stream: unknown message type 0x{:02x}", static_cast<unsigned>(tag));
}

std::string StandbyStatusUpdate(uint64_t written, uint64_t flushed, uint64_t applied, int64_t client_time_us,
                                bool reply_requested) {
  std::string out;
  out.reserve(34);
  out += 'r';
  PutU64(out, written);
  PutU64(out, flushed);
  PutU64(out, applied);
  PutU64(out, static_cast<uint64_t>(client_time_us));
  out += static_cast<char>(reply_requested ? 1 : 0);
  return out;
}

}  // namespace sluice::postgres
