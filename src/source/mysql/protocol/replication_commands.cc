#include "source/mysql/protocol/replication_commands.h"

namespace sluice::mysql {
namespace {

void PutInt(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

constexpr uint16_t kBinlogThroughGtid = 0x04;

}  // namespace

std::string RegisterReplicaPayload(uint32_t server_id) {
  std::string p;
  PutInt(p, server_id, 4);
  p += '\0';  // host: empty (SHOW SLAVE HOSTS shows the connection's address)
  p += '\0';  // user
  p += '\0';  // password
  PutInt(p, 0, 2);  // port
  PutInt(p, 0, 4);  // replication rank (unused)
  PutInt(p, 0, 4);  // master id (unused)
  return p;
}

std::string BinlogDumpPayload(const BinlogFilePos& pos, uint32_t server_id, uint16_t flags) {
  std::string p;
  PutInt(p, pos.offset, 4);
  PutInt(p, flags, 2);
  PutInt(p, server_id, 4);
  p += pos.file;
  return p;
}

std::string BinlogDumpGtidPayload(const MysqlGtidSet& gtids, uint32_t server_id) {
  std::string data = gtids.Encode();
  std::string p;
  PutInt(p, kBinlogThroughGtid, 2);
  PutInt(p, server_id, 4);
  PutInt(p, 0, 4);  // no file name: the server finds the first file holding a missing GTID
  PutInt(p, 4, 8);
  PutInt(p, data.size(), 4);
  p += data;
  return p;
}

}  // namespace sluice::mysql
