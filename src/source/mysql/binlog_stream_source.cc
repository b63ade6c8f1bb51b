#include "source/mysql/binlog_stream_source.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include <random>
#include <thread>

#include "source/mysql/information_schema_resolver.h"
#include "source/mysql/protocol/replication_commands.h"

namespace sluice::mysql {
namespace {

// libmariadb's packet_error is a 32-bit -1 returned as unsigned long.
constexpr unsigned long kPacketError = static_cast<unsigned int>(-1);

std::string SqlQuote(MysqlConnection& c, std::string_view s) { return "'" + c.Escape(s) + "'"; }

}  // namespace

// Forwards to the user's handler but drops what was delivered before a
// reconnect: the re-sent OnBegin and the first N rows of the cut transaction.
class ReplayGuard : public ChangeHandler {
 public:
  ReplayGuard(BinlogStreamSource& src, ChangeHandler& inner) : src_(src), inner_(inner) {}
  Status OnBegin(const TransactionInfo& t) override {
    if (src_.suppress_begin_) {
      src_.suppress_begin_ = false;
      return Status::Ok();
    }
    src_.delivered_in_txn_ = 0;
    return inner_.OnBegin(t);
  }
  Status OnRow(const RowChange& row) override {
    if (src_.suppress_rows_ > 0) {
      --src_.suppress_rows_;
      return Status::Ok();
    }
    ++src_.delivered_in_txn_;
    return inner_.OnRow(row);
  }
  Status OnCommit(const CommitInfo& c) override {
    src_.delivered_in_txn_ = 0;
    src_.suppress_rows_ = 0;
    src_.suppress_begin_ = false;
    return inner_.OnCommit(c);
  }
  Status OnDdl(const DdlInfo& d) override { return inner_.OnDdl(d); }
  Status OnHeartbeat(uint64_t ts) override { return inner_.OnHeartbeat(ts); }

 private:
  BinlogStreamSource& src_;
  ChangeHandler& inner_;
};

BinlogStreamSource::BinlogStreamSource(Options options) : options_(std::move(options)) {
  if (options_.server_id == 0) {
    std::random_device rd;
    options_.server_id = (1u << 30) + rd() % (1u << 30);
  }
}

BinlogStreamSource::~BinlogStreamSource() = default;

Status BinlogStreamSource::ResolveStart(MysqlConnection& conn, BinlogFilePos* pos) {
  const StartPosition& start = options_.start;
  switch (start.kind) {
    case StartPosition::Kind::kLatest: {
      ASSIGN_OR_RETURN(auto rows, conn.Query("SHOW MASTER STATUS"));
      if (rows.empty() || !rows[0][0] || !rows[0][1]) {
        return Status::Error(StatusCode::kInvalidArgument,
                             "{}: binary logging is off (SHOW MASTER STATUS is empty); start the server with log_bin",
                             conn.options().Describe());
      }
      *pos = {*rows[0][0], std::stoull(*rows[0][1])};
      return Status::Ok();
    }
    case StartPosition::Kind::kEarliest: {
      ASSIGN_OR_RETURN(auto rows, conn.Query("SHOW BINARY LOGS"));
      if (rows.empty() || !rows[0][0]) {
        return Status::Invalid("{}: no binary logs (is log_bin on?)", conn.options().Describe());
      }
      *pos = {*rows[0][0], 4};
      return Status::Ok();
    }
    case StartPosition::Kind::kFilePos:
      *pos = start.file_pos;
      return Status::Ok();
    case StartPosition::Kind::kMariadbGtid:
    case StartPosition::Kind::kMysqlGtid:
      *pos = {"", 4};
      return Status::Ok();
  }
  return Status::Ok();
}

Status BinlogStreamSource::Open(bool resume) {
  ConnectOptions co = options_.connect;
  // Heartbeats arrive every period when idle, so silence for 3 periods means
  // a dead connection.
  co.read_timeout_s = static_cast<unsigned>(std::max<int64_t>(5, 3 * options_.heartbeat.count() / 1000));
  ASSIGN_OR_RETURN(conn_, MysqlConnection::Connect(co));
  MysqlConnection& c = *conn_;

  ASSIGN_OR_RETURN(auto vars, c.Query("SELECT @@global.binlog_format, @@global.binlog_checksum, @@global.server_id, "
                                      "@@global.log_bin"));
  const Row& v = vars.at(0);
  if (v[3] && *v[3] == "0") {
    return Status::Invalid("{}: binary logging is off: start the server with --log-bin", co.Describe());
  }
  if (v[0] && *v[0] != "ROW") {
    return Status::Invalid("{}: binlog_format is {}; sluice needs ROW (SET GLOBAL binlog_format=ROW, and in my.cnf)",
                           co.Describe(), *v[0]);
  }
  if (v[2] && std::to_string(options_.server_id) == *v[2]) {
    return Status::Invalid("server_id {} is the source server's own id; choose another", options_.server_id);
  }
  RETURN_IF_ERROR(c.Execute("SET @master_binlog_checksum = @@global.binlog_checksum"));
  RETURN_IF_ERROR(c.Execute(fmt::format("SET @master_heartbeat_period = {}",
                                        static_cast<uint64_t>(options_.heartbeat.count()) * 1000000)));
  if (c.is_mariadb()) {
    // Capability 4 (MARIA_SLAVE_CAPABILITY_GTID): send GTID events, and
    // ANNOTATE_ROWS only when asked.
    RETURN_IF_ERROR(c.Execute("SET @mariadb_slave_capability = 4"));
  }

  if (!resolver_ && options_.resolve_schema) {
    ASSIGN_OR_RETURN(auto schema_conn, MysqlConnection::Connect(options_.connect));
    resolver_ = std::make_unique<InformationSchemaResolver>(std::move(schema_conn));
  }
  if (!decoder_) {
    BinlogDecoder::Options dopts = options_.decoder;
    dopts.resolver = resolver_.get();
    decoder_ = std::make_unique<BinlogDecoder>(dopts);
  }

  decoder_->SetChecksumBeforeFormat(v[1] && *v[1] == "CRC32");

  BinlogFilePos pos;
  bool by_mysql_gtid = false;
  if (resume) {
    pos = decoder_->committed();
  } else {
    RETURN_IF_ERROR(ResolveStart(c, &pos));
    if (options_.start.kind == StartPosition::Kind::kMariadbGtid) {
      if (!c.is_mariadb()) return Status::Invalid("a MariaDB GTID start position needs a MariaDB server");
      RETURN_IF_ERROR(c.Execute(fmt::format("SET @slave_connect_state = {}",
                                            SqlQuote(c, options_.start.mariadb_gtid.ToString()))));
      RETURN_IF_ERROR(c.Execute("SET @slave_gtid_strict_mode = 0"));
      RETURN_IF_ERROR(c.Execute("SET @slave_gtid_ignore_duplicates = 0"));
      decoder_->SetMariadbGtidState(options_.start.mariadb_gtid);
    } else if (options_.start.kind == StartPosition::Kind::kMysqlGtid) {
      if (c.is_mariadb()) return Status::Invalid("a MySQL GTID set start position needs a MySQL server");
      by_mysql_gtid = true;
      decoder_->SetMysqlGtidState(options_.start.mysql_gtid);
    }
    decoder_->SetFile(pos.file);
  }

  std::string reg = RegisterReplicaPayload(options_.server_id);
  // db_command with skip_check=0 also reads the server's OK or error packet.
  if (c.raw()->methods->db_command(c.raw(), static_cast<enum_server_command>(kComRegisterSlave), reg.data(),
                                   reg.size(), 0, nullptr) != 0) {
    return c.LastError("register as replica");
  }

  std::string dump = by_mysql_gtid ? BinlogDumpGtidPayload(options_.start.mysql_gtid, options_.server_id)
                                   : BinlogDumpPayload(pos, options_.server_id);
  uint8_t cmd = by_mysql_gtid ? kComBinlogDumpGtid : kComBinlogDump;
  // skip_check=1: the answer is the event stream, read by ReadLoop.
  if (c.raw()->methods->db_command(c.raw(), static_cast<enum_server_command>(cmd), dump.data(), dump.size(), 1,
                                   nullptr) != 0) {
    return c.LastError("start binlog dump");
  }
  dump_from_ = !resume && (options_.start.kind == StartPosition::Kind::kMariadbGtid || by_mysql_gtid)
                   ? options_.start.ToString()
                   : pos.ToString();
  spdlog::info("binlog dump started: source={} server_id={} from={} resume={}", co.Describe(), options_.server_id,
               dump_from_, resume);
  return Status::Ok();
}

Status BinlogStreamSource::ReadLoop(ChangeHandler& handler, const std::atomic<bool>& stop) {
  MYSQL* m = conn_->raw();
  while (!stop.load(std::memory_order_relaxed)) {
    unsigned long len = mysql_net_read_packet(m);
    if (len == kPacketError) {
      unsigned err = mysql_errno(m);
      std::string msg = mysql_error(m);
      if (err == ER_MASTER_FATAL_ERROR_READING_BINLOG) {
        return Status::Error(StatusCode::kServerError,
                             "binlog dump from {} at {} failed: {}. If the binlog was purged past this position, "
                             "the changes in between are gone from the server: re-snapshot the tables and start "
                             "from latest",
                             conn_->options().Describe(), dump_from_, msg);
      }
      return conn_->LastError("read binlog");
    }
    const uint8_t* p = m->net.read_pos;
    if (len == 0) return Status::Corruption("empty replication packet");
    if (p[0] == 0xfe && len < 9) {
      // A blocking dump only ends when the server shuts down: reconnect.
      return Status::Retryable(StatusCode::kIoError, "{} ended the binlog stream (server shutdown?)",
                               conn_->options().Describe());
    }
    if (p[0] != 0x00) return Status::Corruption("unexpected replication packet type 0x{:02x}", p[0]);
    std::string_view event(reinterpret_cast<const char*>(p + 1), len - 1);
    RETURN_IF_ERROR(decoder_->Feed(event, handler));
  }
  return Status::Ok();
}

Status BinlogStreamSource::Run(ChangeHandler& handler, const std::atomic<bool>& stop) {
  ReplayGuard guard(*this, handler);
  RETURN_IF_ERROR(Open(false));
  auto backoff = std::chrono::milliseconds(100);
  while (true) {
    Status st = ReadLoop(guard, stop);
    if (stop.load()) return Status::Ok();
    if (!st.retryable()) return st;
    // Reconnect at the last committed transaction; what the cut transaction
    // already delivered is suppressed when it is replayed.
    spdlog::warn("binlog connection lost: {}; reconnecting at {}", st.message(), decoder_->committed().ToString());
    if (decoder_->in_transaction()) {
      suppress_rows_ = delivered_in_txn_;
      suppress_begin_ = true;
    }
    decoder_->AbortTransaction();
    auto deadline = std::chrono::steady_clock::now() + options_.reconnect_timeout;
    while (true) {
      if (stop.load()) return Status::Ok();
      conn_.reset();
      Status open = Open(true);
      if (open.ok()) {
        ++reconnects_;
        backoff = std::chrono::milliseconds(100);
        if (options_.on_reconnect) options_.on_reconnect(Status::Ok());
        break;
      }
      if (options_.on_reconnect) options_.on_reconnect(open);
      if (!open.retryable() || std::chrono::steady_clock::now() > deadline) {
        return open.WithContext("reconnect");
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

}  // namespace sluice::mysql
