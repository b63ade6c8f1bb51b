#pragma once
// Binlog events built by hand, to follow a real MySQL 8.0.31
// FORMAT_DESCRIPTION (../shared/fixtures): for statements of servers not
// run here. Test-only helpers.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>

namespace sluice::mysql::crafted {

inline void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// An event of `type` with `body`, a CRC32 trailer, ending at `end`.
inline std::string Event(uint8_t type, const std::string& body, uint32_t end) {
  std::string e;
  PutLe(e, 1700000000, 4);  // timestamp
  e += static_cast<char>(type);
  PutLe(e, 1, 4);  // server id
  PutLe(e, 19 + body.size() + 4, 4);
  PutLe(e, end, 4);
  PutLe(e, 0, 2);  // flags
  e += body;
  PutLe(e, crc32(0, reinterpret_cast<const Bytef*>(e.data()), static_cast<uInt>(e.size())), 4);
  return e;
}

// A QUERY body: sql_mode STRICT_TRANS_TABLES, utf8mb4_0900_ai_ci for the
// three character sets, then `more_vars` (status variables, encoded).
inline std::string Query(const std::string& db, const std::string& sql, const std::string& more_vars = "") {
  std::string b;
  PutLe(b, 7, 4);  // thread id
  PutLe(b, 0, 4);  // exec time
  b += static_cast<char>(db.size());
  PutLe(b, 0, 2);  // error code
  std::string vars;
  vars += '\x01';
  PutLe(vars, 1ull << 21, 8);
  vars += '\x04';
  PutLe(vars, 255, 2);
  PutLe(vars, 255, 2);
  PutLe(vars, 255, 2);
  vars += more_vars;
  PutLe(b, vars.size(), 2);
  return b + vars + db + '\0' + sql;
}

inline std::string Xid() {
  std::string b;
  PutLe(b, 42, 8);
  return b;
}

// The FORMAT_DESCRIPTION event of a MySQL 8.0.31 binlog.
inline std::string Mysql8FormatDescription() {
  std::ifstream in(std::string(SLUICE_FIXTURES_DIR) + "/binlog/mbcr-mysql-bin.000057", std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_GT(file.size(), 23u);
  if (file.size() <= 23) return {};
  uint32_t size = 0;
  for (int i = 0; i < 4; ++i) size |= static_cast<uint32_t>(static_cast<uint8_t>(file[4 + 9 + i])) << (8 * i);
  return file.substr(4, size);
}

inline constexpr uint8_t kQuery = 2, kXid = 16;

}  // namespace sluice::mysql::crafted
