#include "jobs/flashback/range.h"

#include <fmt/format.h>

#include <cstdio>
#include <ctime>

namespace sluice::jobs::flashback {

Result<RangeEnd> RangeEnd::ParseStop(std::string_view text) {
  ASSIGN_OR_RETURN(StartPosition p, StartPosition::Parse(text));
  RangeEnd e;
  switch (p.kind) {
    case StartPosition::Kind::kFilePos:
      e.stop_pos = p.file_pos;
      return e;
    case StartPosition::Kind::kMariadbGtid:
      if (p.mariadb_gtid.domains().size() != 1) {
        return Status::Invalid("--stop {}: give one GTID (domain-server-seq), not a list", text);
      }
      e.stop_mariadb = p.mariadb_gtid.domains().begin()->second;
      return e;
    case StartPosition::Kind::kMysqlGtid: {
      const auto& sets = p.mysql_gtid.sets();
      if (sets.size() != 1 || sets.begin()->second.size() != 1 ||
          sets.begin()->second[0].first != sets.begin()->second[0].last) {
        return Status::Invalid("--stop {}: give one GTID (UUID:N), not a set", text);
      }
      e.stop_mysql = std::make_pair(sets.begin()->first, sets.begin()->second[0].last);
      return e;
    }
    default:
      return Status::Invalid("--stop {}: expected FILE:POS, a MariaDB GTID (0-1-42) or a MySQL GTID (UUID:42)", text);
  }
}

Result<int64_t> ParseUtcTime(std::string_view text) {
  std::string s(text);
  int y, mo, d, h, mi, sec;
  char sep = 0, tail = 0;
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%c", &y, &mo, &d, &sep, &h, &mi, &sec, &tail);
  bool ok = (n == 7 || (n == 8 && tail == 'Z')) && (sep == ' ' || sep == 'T') && mo >= 1 && mo <= 12 && d >= 1 &&
            d <= 31 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && sec >= 0 && sec <= 60;
  if (!ok) return Status::Invalid("--until {}: expected a UTC time YYYY-MM-DD HH:MM:SS", text);
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm));
}

bool RangeCollector::AtOrPastStop(std::string_view file, uint64_t offset) const {
  if (!end_.stop_pos || file.empty()) return false;
  StreamPos here{std::string(file), offset, 0};
  StreamPos stop{end_.stop_pos->file, end_.stop_pos->offset, 0};
  return here.Compare(stop) >= 0;
}

Status RangeCollector::OnBegin(const TransactionInfo& info) {
  if (finished_) return Status::Ok();
  if (AtOrPastStop(info.file, info.offset)) {
    finished_ = true;
    Finish();
    return Status::Ok();
  }
  current_ = SourceTransaction{};
  current_.gtid.assign(info.gtid);
  current_.file.assign(info.file);
  current_.offset = info.offset;
  current_.ts_ms = info.ts_ms;
  open_ = true;
  return Status::Ok();
}

Status RangeCollector::OnRow(const RowChange& row) {
  if (finished_) return Status::Ok();
  if (!open_) {
    // A stream that starts inside a transaction has no begin for it.
    return Status::Invalid("--start is not at a transaction boundary: a row change of `{}`.`{}` @ {}:{} comes before "
                           "any transaction's start",
                           row.table->db, row.table->table, row.file, row.offset);
  }
  TableSchemaPtr table = row.table_ptr;
  if (!row.table->names_known && resolve_names_) {
    auto it = named_.find(row.table);
    if (it == named_.end()) {
      auto named = resolve_names_(*row.table);
      if (!named.ok()) {
        return named.status().WithContext(
            fmt::format("table `{}`.`{}` @ {}:{}", row.table->db, row.table->table, row.file, row.offset));
      }
      it = named_.emplace(row.table, std::make_pair(row.table_ptr, *named)).first;
    }
    table = it->second.second;
  }
  const TableSchema& t = *table;
  if (!t.names_known) {
    return Status::Error(StatusCode::kNotSupported,
                         "table `{}`.`{}` @ {}:{}: the binlog has no column names (binlog_row_metadata=FULL is needed "
                         "on the source, a mysql:// source whose information_schema still has the table, or --apply to a "
                         "server that has it)",
                         t.db, t.table, row.file, row.offset);
  }
  for (const std::vector<Value>* image : {row.before, row.after}) {
    if (!image) continue;
    for (size_t i = 0; i < image->size(); ++i) {
      if ((*image)[i].kind != ValueKind::kAbsent) continue;
      return Status::Error(StatusCode::kNotSupported,
                           "{} of `{}`.`{}` @ {}:{} in transaction {}: column `{}` is not in the {} image "
                           "(binlog_row_image is not FULL): flashback needs full row images to undo changes",
                           OpName(row.op), t.db, t.table, row.file, row.offset, current_.Where(),
                           i < t.columns.size() ? t.columns[i].name : std::to_string(i),
                           image == row.before ? "before" : "after");
    }
  }
  auto e = std::make_shared<ChangeEvent>();
  CopyRowChange(row, table, *e);
  e->pos = StreamPos{current_.file, current_.offset, current_.rows.size() + 1};
  current_.rows.push_back(std::move(e));
  ++rows_;
  return Status::Ok();
}

bool RangeCollector::ReachedServerEnd() const {
  if (server_end_.empty()) return false;
  for (const auto& [domain, end] : server_end_.domains()) {
    auto it = seen_.domains().find(domain);
    if (it == seen_.domains().end() || it->second.seq < end.seq) return false;
  }
  return true;
}

Status RangeCollector::OnCommit(const CommitInfo& c) {
  if (finished_) return Status::Ok();
  if (!c.gtid.empty()) {
    auto g = MariadbGtid::Parse(c.gtid);
    if (g.ok()) seen_.Update(*g);
  }
  if (!open_) {
    if (ReachedServerEnd()) {
      finished_ = true;
      Finish();
    }
    return Status::Ok();
  }
  open_ = false;
  bool keep = true, last = false;
  if (end_.until_s && static_cast<int64_t>(c.ts_ms / 1000) > *end_.until_s) keep = false, last = true;
  if (keep && end_.stop_mariadb && !c.gtid.empty()) {
    auto g = MariadbGtid::Parse(c.gtid);
    if (g.ok() && g->domain == end_.stop_mariadb->domain && g->seq >= end_.stop_mariadb->seq) {
      last = true;
      keep = g->seq == end_.stop_mariadb->seq;
    }
  }
  if (keep && end_.stop_mysql && !c.gtid.empty()) {
    size_t colon = c.gtid.rfind(':');
    auto uuid = ParseUuid(c.gtid.substr(0, colon == std::string_view::npos ? 0 : colon));
    if (uuid.ok() && *uuid == end_.stop_mysql->first) {
      uint64_t gno = std::strtoull(std::string(c.gtid.substr(colon + 1)).c_str(), nullptr, 10);
      if (gno >= end_.stop_mysql->second) {
        last = true;
        keep = gno == end_.stop_mysql->second;
      }
    }
  }
  if (keep && !current_.rows.empty()) {
    current_.ts_ms = c.ts_ms;
    txns_.push_back(std::move(current_));
  }
  current_ = SourceTransaction{};
  if (last || AtOrPastStop(c.file, c.next_offset) || ReachedServerEnd()) {
    finished_ = true;
    Finish();
  }
  return Status::Ok();
}

Status RangeCollector::OnDdl(const DdlInfo& info) {
  if (finished_) return Status::Ok();
  if (end_.until_s && static_cast<int64_t>(info.ts_ms / 1000) > *end_.until_s) return Status::Ok();
  ddl_.push_back(fmt::format("{} @ {}:{}", info.query, info.file, info.offset));
  return Status::Ok();
}

Status RangeCollector::OnHeartbeat(uint64_t) {
  if (stop_at_heartbeat_ && !open_) {
    finished_ = true;
    Finish();
  }
  return Status::Ok();
}

}  // namespace sluice::jobs::flashback
