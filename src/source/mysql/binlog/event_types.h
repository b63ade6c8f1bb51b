#pragma once
// Binlog event type codes (MySQL and MariaDB) and the common 19-byte header.

#include <cstdint>
#include <string_view>

#include "core/byte_reader.h"

namespace sluice::mysql {

enum EventType : uint8_t {
  kUnknownEvent = 0,
  kStartEventV3 = 1,
  kQueryEvent = 2,
  kStopEvent = 3,
  kRotateEvent = 4,
  kIntvarEvent = 5,
  kSlaveEvent = 7,
  kAppendBlockEvent = 9,
  kDeleteFileEvent = 11,
  kRandEvent = 13,
  kUserVarEvent = 14,
  kFormatDescriptionEvent = 15,
  kXidEvent = 16,
  kBeginLoadQueryEvent = 17,
  kExecuteLoadQueryEvent = 18,
  kTableMapEvent = 19,
  kWriteRowsEventV0 = 20,
  kUpdateRowsEventV0 = 21,
  kDeleteRowsEventV0 = 22,
  kWriteRowsEventV1 = 23,
  kUpdateRowsEventV1 = 24,
  kDeleteRowsEventV1 = 25,
  kIncidentEvent = 26,
  kHeartbeatEvent = 27,
  kIgnorableEvent = 28,
  kRowsQueryEvent = 29,
  kWriteRowsEventV2 = 30,
  kUpdateRowsEventV2 = 31,
  kDeleteRowsEventV2 = 32,
  kGtidEvent = 33,
  kAnonymousGtidEvent = 34,
  kPreviousGtidsEvent = 35,
  kTransactionContextEvent = 36,
  kViewChangeEvent = 37,
  kXaPrepareEvent = 38,
  kPartialUpdateRowsEvent = 39,
  kTransactionPayloadEvent = 40,
  kHeartbeatEventV2 = 41,
  kGtidTaggedEvent = 42,
  // MariaDB
  kAnnotateRowsEvent = 160,
  kBinlogCheckpointEvent = 161,
  kMariadbGtidEvent = 162,
  kMariadbGtidListEvent = 163,
  kStartEncryptionEvent = 164,
  kQueryCompressedEvent = 165,
  kWriteRowsCompressedEventV1 = 166,
  kUpdateRowsCompressedEventV1 = 167,
  kDeleteRowsCompressedEventV1 = 168,
  kWriteRowsCompressedEvent = 169,
  kUpdateRowsCompressedEvent = 170,
  kDeleteRowsCompressedEvent = 171,
};

std::string_view EventTypeName(uint8_t type);

constexpr size_t kEventHeaderSize = 19;
constexpr size_t kChecksumSize = 4;
constexpr uint16_t kLogEventBinlogInUseFlag = 0x01;  // FDE of a binlog not closed properly
constexpr uint16_t kLogEventArtificialFlag = 0x20;  // fake ROTATE etc. sent by a dump thread
constexpr uint16_t kLogEventIgnorableFlag = 0x80;   // unknown events with it may be skipped

// Common header of every event (v4 format):
//   timestamp:4 type:1 server_id:4 event_size:4 log_pos:4 flags:2
// log_pos is the position of the *next* event in the binlog file.
struct EventHeader {
  uint32_t timestamp = 0;
  uint8_t type = 0;
  uint32_t server_id = 0;
  uint32_t event_size = 0;
  uint32_t log_pos = 0;
  uint16_t flags = 0;

  static EventHeader Read(ByteReader& r) {
    EventHeader h;
    h.timestamp = r.U32();
    h.type = r.U8();
    h.server_id = r.U32();
    h.event_size = r.U32();
    h.log_pos = r.U32();
    h.flags = r.U16();
    return h;
  }
};

inline bool IsRowsEvent(uint8_t t) {
  return (t >= kWriteRowsEventV1 && t <= kDeleteRowsEventV1) ||
         (t >= kWriteRowsEventV2 && t <= kDeleteRowsEventV2) || t == kPartialUpdateRowsEvent ||
         (t >= kWriteRowsCompressedEventV1 && t <= kDeleteRowsCompressedEvent);
}

}  // namespace sluice::mysql
