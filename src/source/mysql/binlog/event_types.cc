#include "source/mysql/binlog/event_types.h"

namespace sluice::mysql {

std::string_view EventTypeName(uint8_t type) {
  switch (type) {
    case kStartEventV3: return "START_V3";
    case kQueryEvent: return "QUERY";
    case kStopEvent: return "STOP";
    case kRotateEvent: return "ROTATE";
    case kIntvarEvent: return "INTVAR";
    case kRandEvent: return "RAND";
    case kUserVarEvent: return "USER_VAR";
    case kFormatDescriptionEvent: return "FORMAT_DESCRIPTION";
    case kXidEvent: return "XID";
    case kTableMapEvent: return "TABLE_MAP";
    case kWriteRowsEventV1: return "WRITE_ROWS_V1";
    case kUpdateRowsEventV1: return "UPDATE_ROWS_V1";
    case kDeleteRowsEventV1: return "DELETE_ROWS_V1";
    case kIncidentEvent: return "INCIDENT";
    case kHeartbeatEvent: return "HEARTBEAT";
    case kIgnorableEvent: return "IGNORABLE";
    case kRowsQueryEvent: return "ROWS_QUERY";
    case kWriteRowsEventV2: return "WRITE_ROWS";
    case kUpdateRowsEventV2: return "UPDATE_ROWS";
    case kDeleteRowsEventV2: return "DELETE_ROWS";
    case kGtidEvent: return "GTID";
    case kAnonymousGtidEvent: return "ANONYMOUS_GTID";
    case kPreviousGtidsEvent: return "PREVIOUS_GTIDS";
    case kTransactionContextEvent: return "TRANSACTION_CONTEXT";
    case kViewChangeEvent: return "VIEW_CHANGE";
    case kXaPrepareEvent: return "XA_PREPARE";
    case kPartialUpdateRowsEvent: return "PARTIAL_UPDATE_ROWS";
    case kTransactionPayloadEvent: return "TRANSACTION_PAYLOAD";
    case kHeartbeatEventV2: return "HEARTBEAT_V2";
    case kGtidTaggedEvent: return "GTID_TAGGED";
    case kAnnotateRowsEvent: return "ANNOTATE_ROWS";
    case kBinlogCheckpointEvent: return "BINLOG_CHECKPOINT";
    case kMariadbGtidEvent: return "MARIADB_GTID";
    case kMariadbGtidListEvent: return "MARIADB_GTID_LIST";
    case kStartEncryptionEvent: return "START_ENCRYPTION";
    case kQueryCompressedEvent: return "QUERY_COMPRESSED";
    case kWriteRowsCompressedEventV1: return "WRITE_ROWS_COMPRESSED_V1";
    case kUpdateRowsCompressedEventV1: return "UPDATE_ROWS_COMPRESSED_V1";
    case kDeleteRowsCompressedEventV1: return "DELETE_ROWS_COMPRESSED_V1";
    case kWriteRowsCompressedEvent: return "WRITE_ROWS_COMPRESSED";
    case kUpdateRowsCompressedEvent: return "UPDATE_ROWS_COMPRESSED";
    case kDeleteRowsCompressedEvent: return "DELETE_ROWS_COMPRESSED";
    default: return "UNKNOWN";
  }
}

}  // namespace sluice::mysql
