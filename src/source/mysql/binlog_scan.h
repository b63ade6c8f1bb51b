#pragma once
// Reading a live server's binlog once, outside a pipeline's stream: a
// non-blocking dump (the server ends it at its binlog's end) with server_id
// 0, like mariadb-binlog's, which registers no replica and evicts none. For
// lookups that decode events with a decoder of their own: an XA
// transaction's prepared rows (prepared_xa_finder), where a GTID position
// is (gtid_position). One connection per call.

#include <functional>

#include "client/mysql/connection.h"
#include "source/mysql/binlog_decoder.h"

namespace sluice::mysql {

// Feeds `decoder` (with `handler`) the events of `from.file` from
// `from.offset` on, until `done(decoder)` says so after an event, the
// file ends (rotation), or the binlog ends. `interrupt` (may be null): its
// Interrupt() cuts the connection (an owner stopping).
Status ScanServerBinlog(const ConnectOptions& connect, const BinlogFilePos& from, BinlogDecoder& decoder,
                        ChangeHandler& handler, const std::function<bool(const BinlogDecoder&)>& done,
                        Interrupter* interrupt = nullptr);

// The server's binlog files, oldest first (SHOW BINARY LOGS).
Result<std::vector<std::string>> ServerBinlogFiles(const ConnectOptions& connect, Interrupter* interrupt = nullptr);

// Options for a scan's decoder: no rows decoded, every XA group held
// whatever its size (a scan wants boundaries, GTID states and XA groups).
BinlogDecoder::Options ScanDecoderOptions();

// A handler for scans that want the decoder's state, not rows.
class NoRows : public ChangeHandler {
 public:
  Status OnRow(const RowChange&) override { return Status::Ok(); }
};

}  // namespace sluice::mysql
