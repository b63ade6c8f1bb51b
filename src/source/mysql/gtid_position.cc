#include "source/mysql/gtid_position.h"

#include <spdlog/spdlog.h>

#include "source/mysql/binlog_scan.h"

namespace sluice::mysql {
namespace {

// Every domain of `gtids` at or past its sequence number in `state`.
bool Reached(const MariadbGtidList& state, const MariadbGtidList& gtids) {
  for (const auto& [domain, g] : gtids.domains()) {
    auto it = state.domains().find(domain);
    if (it == state.domains().end() ? g.seq > 0 : it->second.seq < g.seq) return false;
  }
  return true;
}

// No domain of `state` past `gtids` (domains `gtids` lacks do not count).
bool NotPast(const MariadbGtidList& state, const MariadbGtidList& gtids) {
  for (const auto& [domain, g] : state.domains()) {
    auto it = gtids.domains().find(domain);
    if (it != gtids.domains().end() && g.seq > it->second.seq) return false;
  }
  return true;
}

}  // namespace

Result<BinlogFilePos> FindMariadbGtidPosition(const ConnectOptions& connect, const MariadbGtidList& gtids,
                                              Interrupter* interrupt) {
  ASSIGN_OR_RETURN(std::vector<std::string> files, ServerBinlogFiles(connect, interrupt));
  for (auto file = files.rbegin(); file != files.rend(); ++file) {
    BinlogDecoder decoder(ScanDecoderOptions());
    NoRows handler;
    // The file's GTID_LIST (its first events) is the state it begins at: a
    // file that begins past `gtids` is too new; the scan of it stops there.
    bool began = false, too_new = false, found = false;
    RETURN_IF_ERROR(ScanServerBinlog(connect, {*file, 4}, decoder, handler, [&](const BinlogDecoder& d) {
      const MariadbGtidList& state = d.mariadb_gtid_state();
      if (!began && (d.in_transaction() || !state.empty())) {
        began = true;
        if (!NotPast(state, gtids)) return too_new = true;
      }
      if (!began || d.in_transaction() || !Reached(state, gtids)) return false;
      found = true;
      return true;
    }, interrupt));
    if (too_new) continue;
    if (!found) break;  // the file begins before it but ends before reaching it: the binlog lacks it
    const MariadbGtidList& state = decoder.mariadb_gtid_state();
    if (!NotPast(state, gtids)) {
      return Status::Error(StatusCode::kNotFound,
                           "{}: the binlog passes over GTID position {} without reaching it exactly (at {} it is "
                           "{}): this server never had those transactions",
                           connect.Describe(), gtids.ToString(), decoder.committed().ToString(), state.ToString());
    }
    spdlog::info("{}: GTID position {} is at {}", connect.Describe(), gtids.ToString(), decoder.committed().ToString());
    return decoder.committed();
  }
  return Status::Error(StatusCode::kNotFound,
                       "{}: GTID position {} is not in the server's binlog (purged, or it goes beyond what this server "
                       "has)",
                       connect.Describe(), gtids.ToString());
}

Result<bool> BinlogPositionIsAt(MysqlConnection& conn, const BinlogFilePos& pos, const MariadbGtidList& gtids) {
  auto value = conn.QueryValue(fmt::format("SELECT BINLOG_GTID_POS('{}', {})", conn.Escape(pos.file), pos.offset));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return false;  // no such file or offset here
  auto state = MariadbGtidList::Parse(**value);
  if (!state.ok()) return false;
  return *state == gtids;
}

Result<std::optional<MariadbGtidList>> BinlogGtidStateAt(MysqlConnection& conn, const BinlogFilePos& pos) {
  auto value = conn.QueryValue(fmt::format("SELECT BINLOG_GTID_POS('{}', {})", conn.Escape(pos.file), pos.offset));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<MariadbGtidList>();
  ASSIGN_OR_RETURN(MariadbGtidList state, MariadbGtidList::Parse(**value));
  return std::optional<MariadbGtidList>(std::move(state));
}

bool GtidStateAgrees(const MariadbGtidList& server, const MariadbGtidList& recorded) {
  for (const auto& [domain, g] : recorded.domains()) {
    auto it = server.domains().find(domain);
    if (it == server.domains().end() || !(it->second == g)) return false;
  }
  return true;
}

}  // namespace sluice::mysql
