// `sluice tail`: every committed row change of a MySQL/MariaDB server (or of
// binlog files, or of a PostgreSQL database) as one JSON line on stdout, in sluice's format (section 4)
// or, with --format canal|maxwell|debezium, as that tool's message (each
// table mapped to itself: all columns, the primary key as key).

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "cli/commands.h"
#include "core/arena.h"
#include "core/json_writer.h"
#include "core/sink_change.h"
#include "format/format.h"
#include "format/format_util.h"
#include "pipeline/bounded_queue.h"
#include "core/position.h"
#include "core/url.h"
#include "source/registry.h"

namespace sluice::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Writes rows to stdout on two cores: the capture thread (the caller of
// OnRow) copies each row into a batch, a render thread turns batches into
// JSON lines. Rows become visible at their transaction's commit (or in
// batches of kBatchRows for big transactions, to keep memory flat); a third
// thread flushes every 50 ms so an idle stream's last transaction does not
// wait for the next one.
class JsonLinesWriter : public ChangeHandler {
 public:
  // `encoder`: null for sluice's own format (the fast path).
  // `written_lsn` (PostgreSQL sources): advanced to each commit's LSN once
  // its lines are on stdout, which is what the slot may confirm.
  JsonLinesWriter(uint64_t limit, std::unique_ptr<format::Encoder> encoder, std::atomic<uint64_t>* written_lsn)
      : limit_(limit), encoder_(std::move(encoder)), written_lsn_(written_lsn), batches_(kBatchesInFlight),
        flusher_([this] { FlushLoop(); }), renderer_([this] { RenderLoop(); }) {
    batch_ = std::make_unique<Batch>();
  }
  ~JsonLinesWriter() override {
    HandOver();
    batches_.Close();
    renderer_.join();
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    flusher_.join();
    Publish();
    std::lock_guard lock(mu_);
    WriteLocked();
  }

  Status OnRow(const RowChange& row) override {
    if (batch_->used == batch_->rows.size()) batch_->rows.emplace_back();
    RowSlot& slot = batch_->rows[batch_->used++];
    slot.op = row.op;
    slot.table = row.table_ptr;
    slot.raw_table = row.table;
    CopyImage(row.before, slot.before, slot.has_before);
    CopyImage(row.after, slot.after, slot.has_after);
    slot.ts_ms = row.ts_ms;
    slot.gtid.assign(row.gtid);
    slot.file.assign(row.file);
    slot.offset = row.offset;
    slot.lsn_position = row.lsn_position;
    if (txn_rows_ == 0) txn_offset_ = row.offset;
    slot.txn_offset = txn_offset_;
    slot.index = ++txn_rows_;
    slot.last_in_txn = false;
    ++rows_;
    if (limit_ && rows_ >= limit_) {
      HandOver();
      return Status::Error(StatusCode::kCancelled, "row limit reached");
    }
    if (batch_->used >= kBatchRows) HandOver();
    return Status::Ok();
  }
  Status OnCommit(const CommitInfo& c) override {
    if (batch_->used > 0) batch_->rows[batch_->used - 1].last_in_txn = true;
    txn_rows_ = 0;
    if (c.lsn_position) {
      batch_->commit_lsn = c.next_offset;
      HandOver(/*even_empty=*/true);  // a transaction without rows is written (as nothing) in its turn
    } else if (!c.more_input) {
      HandOver();  // nothing behind it yet: out now (more input reaches a later commit, or fills the batch)
    }
    return Status::Ok();
  }
  bool WantsMoreInput() const override { return true; }
  // The source is idle: anything held back for a later commit goes out.
  Status OnHeartbeat(uint64_t /*ts_ms*/) override {
    HandOver();
    return Status::Ok();
  }
  Status status() {
    std::lock_guard lock(mu_);
    return write_error_;
  }

 private:
  static constexpr size_t kBatchRows = 1024;
  static constexpr size_t kBatchesInFlight = 4;

  // One row, owned: values' text points into the batch's arena.
  struct RowSlot {
    Op op = Op::kInsert;
    TableSchemaPtr table;
    const TableSchema* raw_table = nullptr;
    std::vector<Value> before, after;
    bool has_before = false, has_after = false;
    uint64_t ts_ms = 0;
    std::string gtid, file;
    uint64_t offset = 0;
    bool lsn_position = false;
    uint64_t txn_offset = 0;  // the first rows event of the transaction: stands in for its start
    uint64_t index = 0;       // 1-based ordinal within the transaction
    bool last_in_txn = false;
  };
  struct Batch {
    std::vector<RowSlot> rows;  // slots are reused: their vectors keep their capacity
    size_t used = 0;
    uint64_t commit_lsn = 0;  // PostgreSQL: the commit that ends the batch; 0 if none
    Arena arena{256 * 1024};
  };

  static bool HoldsText(ValueKind k) {
    switch (k) {
      case ValueKind::kNull: case ValueKind::kAbsent: case ValueKind::kInt: case ValueKind::kUInt:
      case ValueKind::kFloat: case ValueKind::kDouble: case ValueKind::kYear: case ValueKind::kBit:
        return false;
      default:
        return true;
    }
  }
  void CopyImage(const std::vector<Value>* src, std::vector<Value>& dst, bool& has) {
    has = src != nullptr;
    if (!src) return;
    dst.assign(src->begin(), src->end());
    for (Value& v : dst) {
      if (HoldsText(v.kind) && !v.s.empty()) v.s = batch_->arena.Copy(v.s);
    }
  }
  void HandOver(bool even_empty = false) {
    if (!batch_ || (batch_->used == 0 && !even_empty)) return;
    batches_.Push(std::move(batch_), 1);
    std::lock_guard lock(free_mu_);
    if (free_.empty()) {
      batch_ = std::make_unique<Batch>();
    } else {
      batch_ = std::move(free_.back());
      free_.pop_back();
    }
  }
  void RenderLoop() {
    while (true) {
      auto b = batches_.Pop(std::chrono::milliseconds(100));
      if (!b) {
        if (batches_.closed()) break;
        continue;
      }
      Batch& batch = **b;
      if (encoder_) {
        Status st = EncodeBatch(batch);
        if (!st.ok()) {
          std::lock_guard lock(mu_);
          if (write_error_.ok()) write_error_ = st;
          g_stop.store(true);
        }
      }
      for (size_t i = 0; i < batch.used && !encoder_; ++i) {
        const RowSlot& s = batch.rows[i];
        RowChange rc;
        rc.op = s.op;
        rc.table = s.raw_table;
        rc.table_ptr = s.table;
        rc.before = s.has_before ? &s.before : nullptr;
        rc.after = s.has_after ? &s.after : nullptr;
        rc.ts_ms = s.ts_ms;
        rc.gtid = s.gtid;
        rc.file = s.file;
        rc.offset = s.offset;
        rc.lsn_position = s.lsn_position;
        json_.Append(pending_, rc);
      }
      Publish();
      if (batch.commit_lsn != 0 && written_lsn_) {
        // Everything rendered so far is in shared_ now: written with it.
        std::lock_guard lock(mu_);
        published_lsn_ = batch.commit_lsn;
        if (shared_.empty()) written_lsn_->store(published_lsn_);
      }
      batch.used = 0;
      batch.commit_lsn = 0;
      batch.arena.Reset();
      std::lock_guard lock(free_mu_);
      free_.push_back(std::move(*b));
    }
  }


  // The identity mapping of a source table: what encoders take.
  const TargetTablePtr& TargetFor(const TableSchemaPtr& schema) {
    auto it = targets_.find(schema.get());
    if (it != targets_.end()) return it->second;
    if (targets_.size() > 4096) targets_.clear();
    TargetTablePtr t = MakeIdentityTarget(schema);
    return targets_.emplace(schema.get(), std::move(t)).first->second;
  }

  Status EncodeBatch(const Batch& batch) {
    std::vector<format::Message> messages;
    std::string position;
    for (size_t i = 0; i < batch.used; ++i) {
      const RowSlot& s = batch.rows[i];
      if (!s.table) continue;
      auto origin = std::make_shared<ChangeEvent>();
      origin->op = s.op;
      origin->table = s.table;
      origin->gtid = s.gtid;
      if (s.has_before) {
        origin->before.values = s.before;
        origin->before.present = true;
      }
      SinkChange ch;
      ch.op = s.op;
      ch.table = TargetFor(s.table);
      ch.kind = ch.table->has_key() ? (s.op == Op::kDelete ? SinkChange::Kind::kDelete : SinkChange::Kind::kUpsert)
                                    : (s.op == Op::kDelete ? SinkChange::Kind::kDeleteExact : SinkChange::Kind::kInsert);
      ch.values = s.has_after ? s.after : s.before;
      ch.pos = StreamPos{s.file, s.txn_offset, s.index};
      ch.ts_ms = s.ts_ms;
      ch.origin = origin;
      format::ChangeContext ctx = format::ContextOf(ch, position, s.last_in_txn);
      messages.clear();
      RETURN_IF_ERROR(encoder_->EncodeChange(ch, ctx, messages));
      for (const format::Message& m : messages) {
        if (!m.value) continue;  // a tombstone has nothing to print
        pending_ += *m.value;
        pending_ += '\n';
      }
    }
    return Status::Ok();
  }

  static constexpr size_t kPublishBytes = 256 * 1024;

  // Render thread (and the destructor after it): moves rendered lines to the writer side.
  void Publish() {
    if (pending_.empty()) return;
    std::lock_guard lock(mu_);
    if (shared_.empty()) {
      // The common case under load: hand the buffer over instead of copying it.
      shared_.swap(pending_);
    } else {
      shared_.append(pending_);
    }
    pending_.clear();
    if (pending_.capacity() < kPublishBytes * 2) pending_.reserve(kPublishBytes * 2);
    if (shared_.size() >= kPublishBytes) WriteLocked();
  }
  void WriteLocked() {
    const char* p = shared_.data();
    size_t n = shared_.size();
    while (n > 0) {
      ssize_t w = ::write(STDOUT_FILENO, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (write_error_.ok()) {
          write_error_ = Status::Error(StatusCode::kIoError, "write to stdout: {}", std::strerror(errno));
        }
        g_stop.store(true);
        break;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    if (n == 0 && written_lsn_ && published_lsn_) written_lsn_->store(published_lsn_);
    shared_.clear();
  }
  void FlushLoop() {
    std::unique_lock lock(mu_);
    while (!done_) {
      cv_.wait_for(lock, std::chrono::milliseconds(50));
      if (!shared_.empty()) WriteLocked();
    }
  }

  uint64_t limit_;
  uint64_t rows_ = 0;                  // capture thread
  uint64_t txn_rows_ = 0;              // capture thread: rows of the open transaction so far
  uint64_t txn_offset_ = 0;            // capture thread
  std::unique_ptr<format::Encoder> encoder_;  // render thread
  std::atomic<uint64_t>* written_lsn_;  // advanced for PostgreSQL sources only (commit_lsn is 0 otherwise)
  uint64_t published_lsn_ = 0;         // guarded by mu_: the last commit whose lines are in shared_ or written
  std::unordered_map<const TableSchema*, TargetTablePtr> targets_;  // render thread
  std::unique_ptr<Batch> batch_;       // capture thread: the batch being filled
  pipeline::BoundedQueue<std::unique_ptr<Batch>> batches_;
  std::mutex free_mu_;
  std::vector<std::unique_ptr<Batch>> free_;
  JsonRowWriter json_;                 // render thread
  std::string pending_;                // render thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::string shared_;
  bool done_ = false;
  Status write_error_;
  std::thread flusher_;
  std::thread renderer_;
};

struct TailOptions {
  std::string source;
  std::string start;
  std::string format = "json";
  bool schemas = false;                    // debezium
  std::string debezium_profile = "flink";  // debezium
  std::vector<std::string> tables;
  uint64_t limit = 0;
  uint32_t server_id = 0;
  uint32_t heartbeat_ms = 1000;
  bool no_verify_checksum = false;
  bool no_follow = false;
};

Result<std::unique_ptr<Source>> MakeSource(const TailOptions& o, std::atomic<uint64_t>* written_lsn) {
  SourceOptions so;
  so.applied_lsn = [written_lsn] { return written_lsn->load(); };
  ASSIGN_OR_RETURN(so.url, Url::Parse(o.source));
  so.tables = o.tables;
  so.verify_checksums = !o.no_verify_checksum;
  so.follow = !o.no_follow;
  so.server_id = o.server_id;
  so.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);
  const bool file = so.url.scheme == "file";
  if (!file || (!o.start.empty() && o.start != "earliest")) {
    ASSIGN_OR_RETURN(so.start, StartPosition::Parse(o.start.empty() ? "latest" : o.start));
    so.start_given = true;
  }
  auto source = OpenSource(so);
  if (!source.ok() && file) return Status::Invalid("--start {}: {}", o.start, source.status().message());
  return source;
}

// The contract promises a one-line error; libpq's messages span lines.
std::string OneLine(const std::string& message) {
  std::string out;
  for (char c : message) {
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (c != ' ' || out.empty() || out.back() != ' ') {
      out += c;
    }
  }
  return out;
}

int RunTail(const TailOptions& o) {
  // tail's stdout is data: keep stderr to warnings unless asked otherwise.
  if (spdlog::get_level() == spdlog::level::info) spdlog::set_level(spdlog::level::warn);
  std::unique_ptr<format::Encoder> encoder;
  if (o.format != "json") {
    format::EncoderOptions eo;
    eo.format = o.format;
    eo.tombstones = false;
    eo.schemas = o.schemas;
    eo.debezium_profile = o.debezium_profile;
    auto made = format::MakeEncoder(eo);
    if (!made.ok()) {
      std::fprintf(stderr, "sluice tail: error: --format %s: %s\n", o.format.c_str(), made.status().message().c_str());
      return 2;
    }
    encoder = std::move(*made);
  }
  std::atomic<uint64_t> written_lsn{0};
  auto source = MakeSource(o, &written_lsn);
  if (!source.ok()) {
    std::fprintf(stderr, "sluice tail: error: %s\n", OneLine(source.status().message()).c_str());
    return 2;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  Status st;
  Status write_status;
  {
    JsonLinesWriter writer(o.limit, std::move(encoder), &written_lsn);
    st = (*source)->Run(writer, g_stop);
    write_status = writer.status();
  }
  if (!write_status.ok()) {
    std::fprintf(stderr, "sluice tail: error: %s\n", write_status.message().c_str());
    return 1;
  }
  if (st.ok() || st.code() == StatusCode::kEndOfStream || st.code() == StatusCode::kCancelled) return 0;
  std::fprintf(stderr, "sluice tail: error: %s\n", OneLine(st.message()).c_str());
  return 1;
}

}  // namespace

CommandRunner RegisterTail(CLI::App& app) {
  auto opts = std::make_shared<TailOptions>();
  CLI::App* cmd = app.add_subcommand("tail", "Print each committed row change as one JSON line on stdout");
  cmd->add_option("--source,-s", opts->source,
                  "Source: mysql://USER:PASSWORD@HOST:PORT[?tls=required&ca=PATH] (also mariadb://), or "
                  "file:///PATH/binlog.000001 to replay binlog files (plain or .gz), or "
                  "postgres://USER:PASSWORD@HOST:PORT/DB[?slot=NAME&publication=NAME] (logical replication; without "
                  "slot= a temporary slot)")
      ->required();
  cmd->add_option("--start", opts->start,
                  "Where to start: latest (default for servers), earliest (default for files), a MariaDB GTID "
                  "list (0-1-42), a MySQL GTID set (UUID:1-42), FILE:OFFSET at a transaction boundary, or a "
                  "PostgreSQL LSN (0/16B3748)");
  cmd->add_option("--format", opts->format,
                  "Output format: json (design §4 change format), canal (Canal flat message), maxwell, debezium "
                  "(the MySQL connector's envelope)")
      ->capture_default_str();
  cmd->add_flag("--schemas", opts->schemas, "debezium: wrap each message as {\"schema\",\"payload\"}");
  cmd->add_option("--debezium-profile", opts->debezium_profile,
                  "debezium: flink (what Flink's debezium-json reads into typed columns) or native (Debezium's "
                  "own value encodings)")
      ->capture_default_str();
  cmd->add_option("--tables,-t", opts->tables,
                  "Only tables matching DB.TABLE glob patterns ('*', '?'); repeatable. Default: all tables");
  cmd->add_option("--limit,-n", opts->limit, "Stop after N row changes (0: no limit)")->capture_default_str();
  cmd->add_option("--server-id", opts->server_id,
                  "Replica server_id to register with; must be unique among the source's replicas "
                  "(default: random in [2^30, 2^31))");
  cmd->add_option("--heartbeat-ms", opts->heartbeat_ms,
                  "Heartbeat period asked of the server when idle; a connection silent for 3 periods is "
                  "re-opened")
      ->capture_default_str();
  cmd->add_flag("--no-verify-checksum", opts->no_verify_checksum, "Do not verify binlog event CRC32 checksums");
  cmd->add_flag("--no-follow", opts->no_follow, "File source: stop at the end of the given file");
  return [opts] { return RunTail(*opts); };
}

}  // namespace sluice::cli
