#include "source/mysql/binlog_scan.h"

#include <cstdint>

#include "source/mysql/protocol/replication_commands.h"

namespace sluice::mysql {
namespace {

// libmariadb's packet_error is a 32-bit -1 returned as unsigned long.
constexpr unsigned long kPacketError = static_cast<unsigned int>(-1);

}  // namespace

BinlogDecoder::Options ScanDecoderOptions() {
  BinlogDecoder::Options o;
  o.decode_rows = false;
  o.xa_memory_limit = SIZE_MAX;
  return o;
}

Status ScanServerBinlog(const ConnectOptions& connect, const BinlogFilePos& from, BinlogDecoder& decoder,
                        ChangeHandler& handler, const std::function<bool(const BinlogDecoder&)>& done,
                        Interrupter* interrupt) {
  ASSIGN_OR_RETURN(auto conn, MysqlConnection::Connect(connect, interrupt));
  ASSIGN_OR_RETURN(auto checksum, conn->QueryValue("SELECT @@global.binlog_checksum"));
  RETURN_IF_ERROR(conn->Execute("SET @master_binlog_checksum = @@global.binlog_checksum"));
  if (conn->is_mariadb()) RETURN_IF_ERROR(conn->Execute("SET @mariadb_slave_capability = 4"));
  decoder.SetFile(from.file);
  decoder.SetChecksumBeforeFormat(checksum && *checksum == "CRC32");
  std::string dump = BinlogDumpPayload(from, 0, kBinlogDumpNonBlock);
  MYSQL* m = conn->raw();
  if (m->methods->db_command(m, static_cast<enum_server_command>(kComBinlogDump), dump.data(), dump.size(), 1,
                             nullptr) != 0) {
    return conn->LastError(fmt::format("start binlog dump at {}", from.ToString()));
  }
  while (true) {
    unsigned long len = mysql_net_read_packet(m);
    if (len == kPacketError) return conn->LastError(fmt::format("read binlog {}", from.file));
    const uint8_t* p = m->net.read_pos;
    if (len == 0) return Status::Corruption("empty replication packet");
    if (p[0] == 0xfe && len < 9) return Status::Ok();  // the end of the last binlog
    if (p[0] != 0x00) return Status::Corruption("unexpected replication packet type 0x{:02x}", p[0]);
    RETURN_IF_ERROR(decoder.Feed(std::string_view(reinterpret_cast<const char*>(p + 1), len - 1), handler));
    if (decoder.file() != from.file) return Status::Ok();  // rotated into the next file
    if (done(decoder)) return Status::Ok();
  }
}

Result<std::vector<std::string>> ServerBinlogFiles(const ConnectOptions& connect, Interrupter* interrupt) {
  ASSIGN_OR_RETURN(auto conn, MysqlConnection::Connect(connect, interrupt));
  ASSIGN_OR_RETURN(auto logs, conn->Query("SHOW BINARY LOGS"));
  std::vector<std::string> files;
  for (const Row& r : logs) {
    if (r[0]) files.push_back(*r[0]);
  }
  return files;
}

}  // namespace sluice::mysql
