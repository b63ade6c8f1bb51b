#pragma once
// Payloads of the replication commands a replica sends (after the command
// byte, which libmariadb's db_command adds).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/position.h"

namespace sluice::mysql {

constexpr uint8_t kComRegisterSlave = 0x15;
constexpr uint8_t kComBinlogDump = 0x12;
constexpr uint8_t kComBinlogDumpGtid = 0x1e;

// COM_REGISTER_SLAVE: server_id:4 host:lenstr1 user:lenstr1 password:lenstr1 port:2 rank:4 master_id:4
std::string RegisterReplicaPayload(uint32_t server_id);

// COM_BINLOG_DUMP: pos:4 flags:2 server_id:4 file:rest. With
// kBinlogDumpNonBlock the server ends the stream (EOF) at the binlog's end.
constexpr uint16_t kBinlogDumpNonBlock = 0x01;
std::string BinlogDumpPayload(const BinlogFilePos& pos, uint32_t server_id, uint16_t flags = 0);

// COM_BINLOG_DUMP_GTID (MySQL): flags:2 server_id:4 name_len:4 name pos:8 data_len:4 data,
// with flag BINLOG_THROUGH_GTID (0x04) and the encoded GTID set as data.
std::string BinlogDumpGtidPayload(const MysqlGtidSet& gtids, uint32_t server_id);

}  // namespace sluice::mysql
