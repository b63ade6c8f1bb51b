#include "source/mysql/binlog_stream_source.h"

#include <sys/ioctl.h>

#include <errmsg.h>
#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include <random>
#include <thread>

#include "source/mysql/gtid_position.h"
#include "source/mysql/information_schema_resolver.h"
#include "source/mysql/prepared_xa_finder.h"
#include "source/mysql/protocol/replication_commands.h"

namespace sluice::mysql {
namespace {

// libmariadb's packet_error is a 32-bit -1 returned as unsigned long.
constexpr unsigned long kPacketError = static_cast<unsigned int>(-1);

std::string SqlQuote(MysqlConnection& c, std::string_view s) { return "'" + c.Escape(s) + "'"; }

// Reconnect backoff: capped exponential, so that a stream that fails the same
// way each time (another replica with our server_id, a server that accepts
// and drops) waits longer and longer instead of spinning.
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{10000};
// A session at least this long was healthy: its loss is news, not a loop.
constexpr std::chrono::seconds kHealthySession{30};
// Metadata queries (information_schema) answer in milliseconds; a server
// that has not answered one in this long is hung.
constexpr unsigned kMetadataTimeoutS = 30;

bool IsPrivilegeError(unsigned err) {
  return err == ER_ACCESS_DENIED_ERROR || err == ER_SPECIFIC_ACCESS_DENIED_ERROR || err == ER_DBACCESS_DENIED_ERROR;
}

void SleepUnlessStopped(std::chrono::milliseconds d, const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stop.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min(std::chrono::milliseconds(50), std::chrono::ceil<std::chrono::milliseconds>(
                                                                            until - std::chrono::steady_clock::now())));
  }
}

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
    CommitInfo info = c;
    info.more_input = inner_.WantsMoreInput() && src_.InputPending();
    return inner_.OnCommit(info);
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
    case StartPosition::Kind::kLsn:
      return Status::Invalid("{}: a PostgreSQL LSN ({}) is no binlog position", conn.options().Describe(),
                             start.lsn.ToString());
  }
  return Status::Ok();
}

Status BinlogStreamSource::CheckReplicaLogsWhatItApplies(MysqlConnection& c) {
  auto vars = c.Query("SELECT @@global.log_slave_updates, @@global.read_only");
  if (!vars.ok() || vars->empty() || vars->at(0).at(0).value_or("1") != "0") return Status::Ok();
  // Replicating now? (Status variables need no privilege; MySQL 8 keeps its
  // answer in performance_schema. Best effort: unanswered means no.)
  auto running = c.is_mariadb()
                     ? c.Query("SHOW GLOBAL STATUS LIKE 'Slaves_running'")
                     : c.Query("SELECT 'x', COUNT(*) FROM performance_schema.replication_applier_status WHERE "
                               "SERVICE_STATE = 'ON'");
  if (!running.ok() || running->empty() || running->at(0).at(1).value_or("0") == "0") return Status::Ok();
  const std::string why = fmt::format(
      "{} is a replica whose binlog does not hold the changes it replicates (log_slave_updates is OFF): sluice reads "
      "only what is written on it directly",
      options_.connect.Describe());
  if (vars->at(0).at(1).value_or("0") != "0") {
    // Read-only: nothing is written on it directly, so nothing would come.
    return Status::Invalid("{}, and it is read-only: nothing would reach the targets. Set log_slave_updates=ON (in "
                           "my.cnf; it needs a restart) or read from the primary",
                           why);
  }
  if (!replica_warned_) {
    replica_warned_ = true;
    spdlog::warn("{}; set log_slave_updates=ON (in my.cnf) or read from the primary unless that is meant", why);
  }
  return Status::Ok();
}

Status BinlogStreamSource::Open(bool resume) {
  ConnectOptions co = options_.connect;
  // Heartbeats arrive every period when idle, so silence for 3 periods means
  // a dead or hung server (the read times out); writes get the same bound.
  co.read_timeout_s = co.write_timeout_s = static_cast<unsigned>(hang_timeout().count());
  ASSIGN_OR_RETURN(conn_, MysqlConnection::Connect(co));
  MysqlConnection& c = *conn_;

  ASSIGN_OR_RETURN(auto vars, c.Query("SELECT @@global.binlog_format, @@global.binlog_checksum, @@global.server_id, "
                                      "@@global.log_bin"));
  const Row& v = vars.at(0);
  // Asked apart: servers before MySQL 5.6 have no such variable (all FULL).
  auto image = row_image_warned_ ? Result<std::optional<std::string>>(std::nullopt)
                                 : c.QueryValue("SELECT @@global.binlog_row_image");
  if (image.ok() && image->has_value() && **image != "FULL") {
    // Not an error: sessions may set FULL for themselves, `tail` prints
    // what there is, and MySQL targets apply partial rows. But a pipeline
    // with other targets stops at the first row lacking a column.
    row_image_warned_ = true;
    spdlog::warn("{}: binlog_row_image is {}: rows written under it carry only some columns; MySQL and MariaDB "
                 "targets apply them, but a pipeline with other targets (PostgreSQL, Kafka, ClickHouse, Redis, "
                 "files) stops at the first such row, and an update that changes a row's key stops any pipeline. "
                 "Set it to FULL (SET GLOBAL binlog_row_image = 'FULL', and in my.cnf)",
                 co.Describe(), **image);
  }
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
  RETURN_IF_ERROR(CheckReplicaLogsWhatItApplies(c));
  RETURN_IF_ERROR(c.Execute("SET @master_binlog_checksum = @@global.binlog_checksum"));
  RETURN_IF_ERROR(c.Execute(fmt::format("SET @master_heartbeat_period = {}",
                                        static_cast<uint64_t>(options_.heartbeat.count()) * 1000000)));
  if (c.is_mariadb()) {
    // Capability 4 (MARIA_SLAVE_CAPABILITY_GTID): send GTID events, and
    // ANNOTATE_ROWS only when asked.
    RETURN_IF_ERROR(c.Execute("SET @mariadb_slave_capability = 4"));
  }

  if (!resolver_ && options_.resolve_schema) {
    // Held for the source's life and reconnected by the resolver when lost.
    ConnectOptions mo = options_.connect;
    mo.read_timeout_s = mo.write_timeout_s = std::max(kMetadataTimeoutS, co.read_timeout_s);
    ASSIGN_OR_RETURN(auto schema_conn, MysqlConnection::Connect(mo));
    resolver_ = std::make_unique<InformationSchemaResolver>(
        std::move(schema_conn), v[2].value_or(""), options_.schema_history,
        [tables = options_.decoder.tables](std::string_view db, std::string_view table) {
          return tables.Matches(db, table);
        });
  }
  if (!decoder_) {
    BinlogDecoder::Options dopts = options_.decoder;
    dopts.resolver = resolver_.get();
    if (!dopts.xa_finder) {
      xa_finder_ = std::make_unique<ServerPreparedXaFinder>(options_.connect);
      dopts.xa_finder = xa_finder_.get();
    }
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
  if (c.is_mariadb() && (resume || options_.start.kind != StartPosition::Kind::kMariadbGtid)) {
    RETURN_IF_ERROR(CheckSameBinlog(c, pos, resume));
  }

  std::string reg = RegisterReplicaPayload(options_.server_id);
  // db_command with skip_check=0 also reads the server's OK or error packet.
  if (c.raw()->methods->db_command(c.raw(), static_cast<enum_server_command>(kComRegisterSlave), reg.data(),
                                   reg.size(), 0, nullptr) != 0) {
    return CommandError("register as replica");
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

Status BinlogStreamSource::CheckSameBinlog(MysqlConnection& c, const BinlogFilePos& pos, bool resume) {
  MariadbGtidList recorded;
  if (resume) {
    recorded = decoder_->mariadb_gtid_state();
  } else if (auto parsed = MariadbGtidList::Parse(options_.start_gtid_state); parsed.ok()) {
    recorded = std::move(parsed).value();  // (a MySQL GTID set does not parse: nothing to check)
  }
  auto here = BinlogGtidStateAt(c, pos);
  if (!here.ok()) {
    // A lost connection fails the dump next; anything else (a server
    // without the function) leaves the position unchecked, as before.
    if (here.status().retryable()) return here.status();
    spdlog::debug("{}: the GTID state at {} is unknown: {}", c.options().Describe(), pos.ToString(),
                  here.status().message());
    return Status::Ok();
  }
  if (!recorded.empty() && (!*here || !GtidStateAgrees(**here, recorded))) {
    return Status::Error(StatusCode::kSourceChanged,
                         "{}: its binlog at {} is not where the stream stopped ({}; the stream had applied GTID {} "
                         "there): the server is not the one the position was taken on (a failover to a replica, or "
                         "a restored server)",
                         c.options().Describe(), pos.ToString(),
                         *here ? "the GTID state there is " + (*here)->ToString()
                               : std::string("no transaction begins or ends there on this server"),
                         recorded.ToString());
  }
  if (*here) decoder_->SetMariadbGtidState(**here);
  return Status::Ok();
}

std::chrono::seconds BinlogStreamSource::hang_timeout() const {
  int64_t three_beats_s = (3 * options_.heartbeat.count() + 999) / 1000;
  return std::chrono::seconds(std::max<int64_t>(5, three_beats_s));
}

Status BinlogStreamSource::CommandError(std::string_view what) {
  MYSQL* m = conn_->raw();
  unsigned err = mysql_errno(m);
  if (!IsPrivilegeError(err)) return conn_->LastError(what);
  // The server's text ("Access denied for user ... (using password: YES)")
  // reads like a wrong password; the login worked, a privilege is missing.
  std::string user = conn_->options().user;
  std::string account = fmt::format("'{}'@'%'", user);
  if (auto who = conn_->QueryValue("SELECT CURRENT_USER()"); who.ok() && who->has_value()) {
    // The account the server matched, which is the one the GRANT must name.
    const std::string& cu = **who;
    size_t at = cu.rfind('@');
    if (at != std::string::npos) account = fmt::format("'{}'@'{}'", cu.substr(0, at), cu.substr(at + 1));
  }
  return Status::Error(StatusCode::kInvalidArgument,
                       "{} on {}: user {} may not read the binary log: it lacks the REPLICATION SLAVE privilege "
                       "(server error {}). On the source, run: GRANT REPLICATION SLAVE ON *.* TO {}",
                       what, conn_->options().Describe(), user, err, account);
}

Status BinlogStreamSource::ReadError() {
  MYSQL* m = conn_->raw();
  unsigned err = mysql_errno(m);
  std::string msg = mysql_error(m);
  std::string server = conn_->options().Describe();
  // MariaDB says 4052; MySQL ends the dump with 1236 and this text.
  bool same_id = err == ER_SLAVE_SAME_ID || (err == ER_MASTER_FATAL_ERROR_READING_BINLOG &&
                                             msg.find("same server_uuid/server_id") != std::string::npos);
  if (err == ER_MASTER_FATAL_ERROR_READING_BINLOG && !same_id) {
    return Status::Error(StatusCode::kServerError,
                         "binlog dump from {} at {} failed: {}. If the binlog was purged past this position, "
                         "the changes in between are gone from the server: re-snapshot the tables and start "
                         "from latest. If the source is another server now (a failover to a replica), its binlog "
                         "has other positions: set the pipeline's position to the GTID state its targets applied "
                         "(applied_gtid in the status)",
                         server, dump_from_, msg);
  }
  evicted_ = same_id;
  if (same_id) {
    // The server dropped our stream for a newer one with our id. Both
    // replicas retrying with backoff take turns; only the user can end it.
    return Status::Retryable(StatusCode::kServerError,
                             "another replica connected to source {} with server_id {}, and the server dropped "
                             "this stream (error {}); give each replica its own server_id (server_id: of the "
                             "source in the config, --server-id for tail)",
                             server, options_.server_id, err);
  }
  if (IsPrivilegeError(err)) return CommandError("start binlog dump");
  auto silent = std::chrono::steady_clock::now() - read_started_;
  if (IsConnectionLost(err) && silent >= hang_timeout() - std::chrono::seconds(1)) {
    return Status::Retryable(StatusCode::kIoError,
                             "no event and no heartbeat from {} for {} s (heartbeats every {} ms were asked for): "
                             "the server is hung or unreachable ({}, error {})",
                             server, std::chrono::duration_cast<std::chrono::seconds>(silent).count(),
                             options_.heartbeat.count(), msg, err);
  }
  return conn_->LastError("read binlog");
}

Status BinlogStreamSource::ReadLoop(ChangeHandler& handler, const std::atomic<bool>& stop) {
  MYSQL* m = conn_->raw();
  live_ = false;
  evicted_ = false;
  while (!stop.load(std::memory_order_relaxed)) {
    // From here, not from the last packet: time spent handing on events
    // (a full queue) is not the server's silence.
    read_started_ = std::chrono::steady_clock::now();
    unsigned long len = mysql_net_read_packet(m);
    if (len == kPacketError) return ReadError();
    const uint8_t* p = m->net.read_pos;
    if (len == 0) return Status::Corruption("empty replication packet");
    if (p[0] == 0xfe && len < 9) {
      // A blocking dump only ends when the server shuts down: reconnect.
      return Status::Retryable(StatusCode::kIoError, "{} ended the binlog stream (server shutdown?)",
                               conn_->options().Describe());
    }
    if (p[0] != 0x00) return Status::Corruption("unexpected replication packet type 0x{:02x}", p[0]);
    if (!live_) {
      // The server streams to us: the outage, if there was one, is over.
      live_ = true;
      if (options_.on_reconnect) options_.on_reconnect(Status::Ok());
    }
    std::string_view event(reinterpret_cast<const char*>(p + 1), len - 1);
    RETURN_IF_ERROR(decoder_->Feed(event, handler));
  }
  return Status::Ok();
}

Status BinlogStreamSource::Run(ChangeHandler& handler, const std::atomic<bool>& stop) {
  ReplayGuard guard(*this, handler);
  RETURN_IF_ERROR(Open(false));
  auto backoff = kFirstBackoff;
  while (true) {
    auto session_start = std::chrono::steady_clock::now();
    BinlogFilePos before = decoder_->committed();
    Status st = ReadLoop(guard, stop);
    if (stop.load()) return Status::Ok();
    if (!st.retryable()) return st;
    if (options_.on_reconnect) options_.on_reconnect(st);
    // A session that moved the position or lasted a while was healthy: its
    // loss is reconnected after the shortest wait. One that died without
    // progress (the same event failing again, another replica with our
    // server_id) waits longer each time, so that a loop cannot spin.
    BinlogFilePos after = decoder_->committed();
    bool progressed = after.file != before.file || after.offset != before.offset ||
                      std::chrono::steady_clock::now() - session_start >= kHealthySession;
    // Evicted by another replica with our id: reconnecting at once would
    // only evict it in turn, so that is no progress either.
    if (progressed && !evicted_) backoff = kFirstBackoff;
    // Reconnect at the last committed transaction; what the cut transaction
    // already delivered is suppressed when it is replayed.
    spdlog::warn("binlog connection lost: {}; reconnecting at {} in {} ms", st.message(),
                 decoder_->committed().ToString(), backoff.count());
    if (decoder_->in_transaction()) {
      suppress_rows_ = delivered_in_txn_;
      suppress_begin_ = true;
    }
    decoder_->AbortTransaction();
    auto deadline = std::chrono::steady_clock::now() + options_.reconnect_timeout;
    while (true) {
      SleepUnlessStopped(backoff, stop);
      backoff = std::min(backoff * 2, kMaxBackoff);
      if (stop.load()) return Status::Ok();
      conn_.reset();
      Status open = Open(true);
      if (open.ok()) {
        ++reconnects_;
        break;
      }
      if (options_.on_reconnect) options_.on_reconnect(open);
      if (!open.retryable() || std::chrono::steady_clock::now() > deadline) {
        return open.WithContext("reconnect");
      }
    }
  }
}

bool BinlogStreamSource::InputPending() {
  if (!conn_) return false;
  int available = 0;
  const my_socket fd = mysql_get_socket(conn_->raw());
  return fd >= 0 && ioctl(fd, FIONREAD, &available) == 0 && available > 0;
}

}  // namespace sluice::mysql
