#pragma once
// Finders of an XA transaction's prepared rows (see PreparedXaFinder in
// binlog_decoder.h), for the XA COMMIT of a transaction prepared before the
// stream started (a restart between its XA PREPARE and XA COMMIT) or held
// over the decoder's memory limit. Each scans binlog files with a decoder of
// its own that decodes no rows and holds every XA group: the newest file
// first, from its start to the XA COMMIT, then older files, until the xid
// is found prepared and not ended. Rare, so simple: one scan per commit.

#include <string>

#include "client/mysql/connection.h"
#include "source/mysql/binlog_decoder.h"

namespace sluice::mysql {

// Reads the binlog of a live server again over a second connection (a
// non-blocking dump with server_id 0, which registers no replica).
class ServerPreparedXaFinder : public PreparedXaFinder {
 public:
  explicit ServerPreparedXaFinder(ConnectOptions connect) : connect_(std::move(connect)) {}
  Result<PreparedXa> Find(const XidKey& xid, const BinlogFilePos& before, const BinlogFilePos* hint) override;

 private:
  ConnectOptions connect_;
};

// Reads binlog files (plain or .gz) in `directory`.
class FilePreparedXaFinder : public PreparedXaFinder {
 public:
  explicit FilePreparedXaFinder(std::string directory) : directory_(std::move(directory)) {}
  Result<PreparedXa> Find(const XidKey& xid, const BinlogFilePos& before, const BinlogFilePos* hint) override;

 private:
  std::string directory_;
};

}  // namespace sluice::mysql
