#pragma once
// BinlogStreamSource: reads a live server's binlog as a replica
// (COM_REGISTER_SLAVE, then COM_BINLOG_DUMP, or COM_BINLOG_DUMP_GTID for
// MySQL GTID sets; MariaDB GTID positions go through @slave_connect_state).
// A lost connection is re-opened at the last committed transaction boundary;
// rows of a transaction that was cut mid-way and already delivered are not
// delivered again. Runs on the caller's thread.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/position.h"
#include "source/mysql/binlog_decoder.h"
#include "source/mysql/schema_history.h"
#include "client/mysql/connection.h"
#include "source/source.h"

namespace sluice::mysql {

class BinlogStreamSource : public Source {
 public:
  struct Options {
    ConnectOptions connect;
    uint32_t server_id = 0;  // 0: a random id in [2^30, 2^31)
    StartPosition start;
    // MariaDB: the GTID state recorded with a FILE:OFFSET `start` (a
    // checkpoint's); the server's binlog must have that state there
    // (CheckSameBinlog). Empty: not checked.
    std::string start_gtid_state;
    std::chrono::milliseconds heartbeat{1000};
    // How long reconnecting may keep failing before Run gives up.
    std::chrono::seconds reconnect_timeout{300};
    bool resolve_schema = true;  // fill names/keys from information_schema when the binlog lacks them
    SchemaHistoryStore schema_history;  // where the resolver keeps table shapes between runs
    // Told when the stream is lost or a reconnect attempt fails (the error),
    // and when a (re)connected stream delivers its first event (Ok), so that
    // owners can show the outage instead of a stream that looks merely quiet.
    // Capture thread.
    std::function<void(const Status&)> on_reconnect;
    BinlogDecoder::Options decoder;
  };

  explicit BinlogStreamSource(Options options);
  ~BinlogStreamSource() override;
  Status Run(ChangeHandler& handler, const std::atomic<bool>& stop) override;

  const BinlogDecoder& decoder() const { return *decoder_; }
  uint64_t reconnects() const { return reconnects_; }

 private:
  Status Open(bool resume);
  // A MariaDB server's binlog at `pos` must be the one the position was
  // taken on: after a failover to a replica (the same GTIDs at other offsets,
  // often in files of the same names) a FILE:OFFSET names another place, and
  // reading from it would skip or repeat transactions or decode garbage. The
  // server's GTID state there (BINLOG_GTID_POS) must be the one recorded
  // with the position (kSourceChanged otherwise); it then seeds the
  // decoder's state with every domain.
  Status CheckSameBinlog(MysqlConnection& c, const BinlogFilePos& pos, bool resume);
  Status ResolveStart(MysqlConnection& conn, BinlogFilePos* pos);
  Status ReadLoop(ChangeHandler& handler, const std::atomic<bool>& stop);
  // The Status for a failed read of the stream (the error packet or the
  // lost connection), saying what the user can do about it.
  Status ReadError();
  // For a replication command refused for want of privileges: which GRANT
  // to run; otherwise the server's error.
  Status CommandError(std::string_view what);
  // Silence longer than this means a dead or hung server: heartbeats were
  // asked for every `heartbeat`.
  std::chrono::seconds hang_timeout() const;

  Options options_;
  std::unique_ptr<MysqlConnection> conn_;
  std::unique_ptr<SchemaResolver> resolver_;
  std::unique_ptr<PreparedXaFinder> xa_finder_;
  std::unique_ptr<BinlogDecoder> decoder_;
  uint64_t reconnects_ = 0;
  std::string dump_from_;  // the position the current dump started at, for messages
  bool live_ = false;      // the current session has delivered an event
  bool row_image_warned_ = false;  // binlog_row_image other than FULL said once
  bool replica_warned_ = false;    // a writable replica without log_slave_updates said once
  // A replica that does not log what it replicates (log_slave_updates OFF):
  // refused when read-only (nothing would come), else a warning.
  Status CheckReplicaLogsWhatItApplies(MysqlConnection& c);
  bool evicted_ = false;   // the current session ended for another replica with our server_id
  std::chrono::steady_clock::time_point read_started_;  // when the current read of the stream began
  // Exactly-once across reconnects: rows of the open transaction already delivered.
  uint64_t delivered_in_txn_ = 0;
  uint64_t suppress_rows_ = 0;
  bool suppress_begin_ = false;
  friend class ReplayGuard;
  // Whether bytes the server sent wait in the socket (a commit with more
  // already behind it).
  bool InputPending();
};

}  // namespace sluice::mysql
