#include "jobs/flashback/flashback.h"

#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <set>

#include "client/mysql/connection.h"
#include "client/mysql/foreign_keys.h"
#include "client/mysql/table_reader.h"
#include "core/url.h"
#include "jobs/flashback/range.h"
#include "jobs/flashback/row_check.h"
#include "jobs/flashback/undo.h"
#include "sink/mysql/big_rows.h"
#include "sink/mysql/mysql_loader.h"
#include "sink/mysql/sql_builder.h"
#include "source/registry.h"

namespace sluice::jobs::flashback {

const char* const kSessionSql =
    "SET NAMES utf8mb4, time_zone = '+00:00', "
    "sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', foreign_key_checks = 0";

namespace {

constexpr size_t kApplyBatchBytes = 256 * 1024;

std::string UtcTime(uint64_t ts_ms) {
  std::time_t s = static_cast<std::time_t>(ts_ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

Result<SourceOptions> SourceFor(const Options& o) {
  SourceOptions so;
  ASSIGN_OR_RETURN(so.url, Url::Parse(o.source));
  ASSIGN_OR_RETURN(so.start, StartPosition::Parse(o.start));
  if (so.start.kind == StartPosition::Kind::kLatest || so.start.kind == StartPosition::Kind::kEarliest ||
      so.start.kind == StartPosition::Kind::kLsn) {
    return Status::Invalid("--start {}: expected FILE:POS or a GTID position", o.start);
  }
  so.start_given = true;
  so.tables = o.tables;
  so.server_id = o.server_id;
  so.verify_checksums = o.verify_checksums;
  so.follow = true;
  // A stream from a FILE:POS start ends an open range at its first
  // heartbeat (range.h): keep that wait short.
  so.heartbeat = std::chrono::milliseconds(200);
  if (so.url.scheme == "file") {
    if (so.start.kind != StartPosition::Kind::kFilePos) {
      return Status::Invalid("--start {}: a binlog file source starts at FILE:POS", o.start);
    }
    // FILE names a binlog beside the URL's file.
    std::filesystem::path p(so.url.path);
    if (p.filename() != so.start.file_pos.file) so.url.path = (p.parent_path() / so.start.file_pos.file).string();
    if (!std::filesystem::exists(so.url.path)) {
      return Status::Invalid("--start {}: no binlog file \"{}\"", o.start, so.url.path);
    }
  } else if (so.url.scheme != "mysql" && so.url.scheme != "mariadb") {
    return Status::Invalid("--source: flashback reads mysql://, mariadb:// or file:// binlogs, not {}://",
                           so.url.scheme);
  }
  return so;
}

Result<std::unique_ptr<mysql::MysqlConnection>> Connect(const std::string& url_text, std::string_view what) {
  ASSIGN_OR_RETURN(Url url, Url::Parse(url_text));
  if (url.scheme != "mysql" && url.scheme != "mariadb") {
    return Status::Invalid("{}: expected a mysql:// or mariadb:// URL, not {}://", what, url.scheme);
  }
  ASSIGN_OR_RETURN(mysql::ConnectOptions co, mysql::ConnectOptions::FromUrl(url));
  co = mysql::WithDefaultTimeouts(std::move(co), 300);
  ASSIGN_OR_RETURN(auto conn, mysql::MysqlConnection::Connect(co));
  RETURN_IF_ERROR(conn->Execute(kSessionSql));
  return conn;
}

// A table of a binlog without column names, named after the --apply
// server's table of the same name: names and keys by position (the server
// must hold the table the binlog was written for).
Result<TableSchemaPtr> NamesFrom(mysql::MysqlConnection& conn, const TableSchema& binlog) {
  auto server = mysql::ReadTableSchema(conn, binlog.db, binlog.table);
  if (!server.ok()) {
    return Status::Error(StatusCode::kNotSupported,
                         "the binlog has no column names (binlog_row_metadata=MINIMAL) and the --apply server {} "
                         "has no such table to take them from: {}",
                         conn.options().Describe(), server.status().message());
  }
  const TableSchema& s = **server;
  if (s.columns.size() != binlog.columns.size()) {
    return Status::Error(StatusCode::kSchemaMismatch,
                         "the binlog has no column names and the --apply server's table has {} columns where the "
                         "binlog's rows have {}: not the table the binlog was written for",
                         s.columns.size(), binlog.columns.size());
  }
  auto named = std::make_shared<TableSchema>(binlog);
  for (size_t i = 0; i < s.columns.size(); ++i) named->columns[i].name = s.columns[i].name;
  named->names_known = true;
  named->primary_key = s.primary_key;
  named->unique_key = s.unique_key;
  return TableSchemaPtr(named);
}

Status Write(std::FILE* out, const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), out) != text.size()) {
    return Status::Error(StatusCode::kIoError, "write of the SQL: {}", std::strerror(errno));
  }
  return Status::Ok();
}

// What `conn`'s server says about the tables the range touched.
// `checked`: every row to update was found as the range left it.
Result<TableFactsMap> ReadFacts(mysql::MysqlConnection& conn, const std::vector<SourceTransaction>& txns,
                                TargetTables& tables, bool checked) {
  TableFactsMap out;
  for (const SourceTransaction& txn : txns) {
    for (const auto& e : txn.rows) {
      const TargetTablePtr& t = tables.For(e->table);
      if (out.count(t->source)) continue;
      TableFacts& f = out[t->source];
      ASSIGN_OR_RETURN(f.generated, sink::mysql::ReadGeneratedColumns(conn, *t));
      std::string q = "SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS WHERE NON_UNIQUE = 0 AND "
                      "TABLE_SCHEMA = ";
      sink::mysql::AppendQuotedString(q, t->db);
      q += " AND TABLE_NAME = ";
      sink::mysql::AppendQuotedString(q, t->table);
      ASSIGN_OR_RETURN(std::optional<std::string> unique, conn.QueryValue(q));
      f.upsert_updates = checked && t->has_key() && unique && *unique == "1";
    }
  }
  return out;
}

Status Print(std::vector<SourceTransaction>& txns, TargetTables& tables, const TableFactsMap& facts,
             std::FILE* out, Report* report) {
  std::string buf = fmt::format("-- sluice flashback: {} transactions undone, newest first\n{};\n", txns.size(),
                                kSessionSql);
  for (auto it = txns.rbegin(); it != txns.rend(); ++it) {
    buf += fmt::format("-- undo of {} ({} rows, committed {} UTC)\nBEGIN;\n", it->Where(), it->rows.size(),
                       UtcTime(it->ts_ms));
    RETURN_IF_ERROR(RenderTransactionUndo(*it, tables, facts, [&](const std::string& stmt) {
      buf += stmt;
      buf += ";\n";
      if (buf.size() < (1 << 20)) return Status::Ok();
      Status st = Write(out, buf);
      buf.clear();
      return st;
    }));
    buf += "COMMIT;\n";
    ++report->transactions;
    report->rows += it->rows.size();
  }
  RETURN_IF_ERROR(Write(out, buf));
  if (std::fflush(out) != 0) return Status::Error(StatusCode::kIoError, "write of the SQL: {}", std::strerror(errno));
  return Status::Ok();
}

Status Apply(std::vector<SourceTransaction>& txns, TargetTables& tables, const TableFactsMap& facts,
             mysql::MysqlConnection& conn, Report* report) {
  // Every statement, and every batch of them, within the server's packet.
  ASSIGN_OR_RETURN(auto packet, conn.QueryValue("SELECT @@max_allowed_packet"));
  size_t max_packet = packet ? std::strtoull(packet->c_str(), nullptr, 10) : 0;
  if (max_packet < 1024) max_packet = size_t{16} << 20;  // unknown: MariaDB's default
  const size_t batch_limit = std::min(kApplyBatchBytes, sink::mysql::StatementBudget(max_packet));
  for (auto it = txns.rbegin(); it != txns.rend(); ++it) {
    // Statements go to the server in multi-statement batches: an UPDATE
    // without WHERE is undone by one UPDATE per row, and a round trip each
    // would dominate.
    std::string batch = "BEGIN";
    Status st = RenderTransactionUndo(
        *it, tables, facts,
        [&](const std::string& stmt) {
          if (batch.size() + stmt.size() + 2 > batch_limit) {
            RETURN_IF_ERROR(conn.Execute(batch));
            batch = "DO 0";  // keeps the next batch's leading ";" valid
          }
          batch += ";\n";
          batch += stmt;
          return Status::Ok();
        },
        4096, max_packet);
    if (st.ok()) st = conn.Execute(batch + ";\nCOMMIT");
    if (!st.ok()) {
      (void)conn.Execute("ROLLBACK");
      return st.WithContext(fmt::format(
          "undo of transaction {} (rolled back; {} newer transactions of {} were undone and committed)", it->Where(),
          report->transactions, txns.size()));
    }
    ++report->transactions;
    report->rows += it->rows.size();
  }
  return Status::Ok();
}

// The foreign keys (on `conn`) with an action that the range's deletes or
// key updates set off on child rows: the server changed those without
// logging them, so undoing the parents' changes leaves them as they are.
Status NoteCascades(mysql::MysqlConnection& conn, const std::vector<SourceTransaction>& txns, Report* report) {
  std::set<std::string> deleted;                // "db.table" of tables with deletes
  std::set<std::pair<std::string, std::string>> changed;  // ("db.table", column) an update changed
  for (const SourceTransaction& t : txns) {
    for (const auto& row : t.rows) {
      if (row->no_foreign_key_checks || row->op == Op::kInsert) continue;
      const std::string table = row->table->db + "." + row->table->table;
      if (row->op == Op::kDelete) {
        deleted.insert(table);
        continue;
      }
      for (size_t i = 0; i < row->table->columns.size(); ++i) {
        if (!SameValue(row->before.values[i], row->after.values[i])) changed.emplace(table, row->table->columns[i].name);
      }
    }
  }
  if (deleted.empty() && changed.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto keys, mysql::ReadForeignKeys(conn));
  for (const ForeignKey& k : keys) {
    const std::string parent = k.parent_db + "." + k.parent_table;
    std::string what;
    if (FkActionOf(k.on_delete) != FkAction::kNone && deleted.count(parent)) what = "ON DELETE " + k.on_delete;
    const bool key_changed = std::any_of(k.parent_columns.begin(), k.parent_columns.end(),
                                         [&](const std::string& c) { return changed.count({parent, c}) > 0; });
    if (FkActionOf(k.on_update) != FkAction::kNone && key_changed) {
      what += (what.empty() ? "" : ", ") + std::string("ON UPDATE ") + k.on_update;
    }
    if (what.empty()) continue;
    report->cascades.push_back(fmt::format(
        "foreign key {}.{}.{} ({}): the server changed rows of {}.{} for the changes of {} in the range without "
        "logging them, and they are not restored (take them from a backup; `sluice check` against it finds them)",
        k.db, k.table, k.name, what, k.db, k.table, parent));
  }
  return Status::Ok();
}

}  // namespace

Status Run(const Options& o, std::FILE* out, Report* report) {
  ASSIGN_OR_RETURN(SourceOptions so, SourceFor(o));
  RangeEnd end;
  if (!o.stop.empty()) {
    ASSIGN_OR_RETURN(end, RangeEnd::ParseStop(o.stop));
  }
  if (!o.until.empty()) {
    ASSIGN_OR_RETURN(end.until_s, ParseUtcTime(o.until));
  }
  if (!end.stop_pos && !end.stop_mariadb && !end.stop_mysql && !end.until_s) {
    return Status::Invalid("give the end of the range: --stop POS or --until TIME");
  }
  const bool file = so.url.scheme == "file";
  if (!o.force && o.apply.empty() && file) {
    return Status::Invalid(
        "--print from binlog files cannot check that the rows did not change after the range (there is no server "
        "to look at): give --apply URL, or --force to print the undo unchecked");
  }

  // Read the range.
  auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&t0] {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - t0).count();
    t0 = now;
    return s;
  };
  std::atomic<bool> done{false};
  // Where a server's binlog ends now: the range ends there at the latest.
  MariadbGtidList server_end, seen;
  if (!file) {
    ASSIGN_OR_RETURN(auto probe, Connect(o.source, "--source"));
    auto pos = probe->QueryValue("SELECT @@gtid_binlog_pos");  // MariaDB only
    if (pos.ok() && *pos) {
      ASSIGN_OR_RETURN(server_end, MariadbGtidList::Parse(**pos));
    }
  }
  if (so.start.kind == StartPosition::Kind::kMariadbGtid) seen = so.start.mariadb_gtid;
  const bool by_heartbeat = !file && (so.start.kind == StartPosition::Kind::kFilePos || server_end.empty());
  RangeCollector collector(end, done, by_heartbeat, server_end, seen);
  // The server the undo is checked against (and applied to), which also
  // says which columns it computes itself, and names the columns of a
  // binlog file written without them.
  std::unique_ptr<mysql::MysqlConnection> conn;
  if (!o.apply.empty()) {
    ASSIGN_OR_RETURN(conn, Connect(o.apply, "--apply"));
    if (file) {
      collector.SetNameResolver([&conn](const TableSchema& binlog) { return NamesFrom(*conn, binlog); });
    }
  }
  if (!collector.ReachedServerEnd()) {
    ASSIGN_OR_RETURN(std::unique_ptr<Source> source, OpenSource(so));
    Status st = source->Run(collector, done);
    if (!st.ok() && st.code() != StatusCode::kEndOfStream) return st;
  }
  std::vector<SourceTransaction>& txns = collector.transactions();
  report->ddl = collector.ddl();
  spdlog::debug("flashback: read {} transactions ({} row changes) in {:.3f} s", txns.size(), collector.rows(),
                seconds());
  TargetTables tables;

  if (!conn && !file && !txns.empty()) {
    ASSIGN_OR_RETURN(conn, Connect(o.source, "--source"));
  }
  if (conn) RETURN_IF_ERROR(NoteCascades(*conn, txns, report));
  TableFactsMap facts;
  if (conn) {
    if (!o.force) RETURN_IF_ERROR(CheckFinalRows(*conn, FinalRows(txns, tables)));
    spdlog::debug("flashback: checked the rows on {} in {:.3f} s", conn->options().Describe(), seconds());
    ASSIGN_OR_RETURN(facts, ReadFacts(*conn, txns, tables, /*checked=*/!o.force));
  }
  Status st = o.apply.empty() ? Print(txns, tables, facts, out, report)
                              : Apply(txns, tables, facts, *conn, report);
  spdlog::debug("flashback: {} in {:.3f} s", o.apply.empty() ? "printed" : "applied", seconds());
  return st;
}

}  // namespace sluice::jobs::flashback
