// CREATE TABLE ... SELECT as MySQL 8.0.21+ logs it: "CREATE TABLE ...
// START TRANSACTION" (with or without a BEGIN before it), the copied rows,
// then an XID. The statement is a DDL inside that transaction, without
// the clause (which other servers do not parse), and the XID ends the
// transaction. The events follow a real MySQL 8.0.31 FORMAT_DESCRIPTION
// (../shared/fixtures); the QUERY and XID events are built here.

#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <iterator>

#include "source/mysql/binlog_decoder.h"
#include "source/mysql/recording_handler.h"

namespace sluice::mysql {
namespace {

void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// An event of `type` with `body`, a CRC32 trailer, ending at `end`.
std::string Event(uint8_t type, const std::string& body, uint32_t end) {
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

std::string Query(const std::string& db, const std::string& sql) {
  std::string b;
  PutLe(b, 7, 4);  // thread id
  PutLe(b, 0, 4);  // exec time
  b += static_cast<char>(db.size());
  PutLe(b, 0, 2);  // error code
  std::string vars;
  vars += '\x01';
  PutLe(vars, 1ull << 21, 8);  // sql_mode STRICT_TRANS_TABLES
  vars += '\x04';
  PutLe(vars, 255, 2);  // utf8mb4_0900_ai_ci x3
  PutLe(vars, 255, 2);
  PutLe(vars, 255, 2);
  PutLe(b, vars.size(), 2);
  return b + vars + db + '\0' + sql;
}

std::string Xid() {
  std::string b;
  PutLe(b, 42, 8);
  return b;
}

class CreateSelectDecodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(std::string(SLUICE_FIXTURES_DIR) + "/binlog/mbcr-mysql-bin.000057", std::ios::binary);
    std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(file.size(), 23u);
    uint32_t size = 0;
    for (int i = 0; i < 4; ++i) size |= static_cast<uint32_t>(static_cast<uint8_t>(file[4 + 9 + i])) << (8 * i);
    fde_ = file.substr(4, size);
  }
  void Feed(std::vector<std::string> events) {
    ASSERT_TRUE(decoder_.Feed(fde_, h_, 4).ok());
    uint64_t offset = 4 + fde_.size();
    for (const std::string& e : events) {
      Status st = decoder_.Feed(e, h_, offset);
      ASSERT_TRUE(st.ok()) << st.message();
      offset += e.size();
    }
  }
  std::string fde_;
  BinlogDecoder decoder_{BinlogDecoder::Options{}};
  testing::RecordingHandler h_;
};

constexpr uint8_t kQuery = 2, kXid = 16;
const char* kCreate = "CREATE TABLE `t1` (\n  `id` int NOT NULL\n)";

TEST_F(CreateSelectDecodeTest, WithoutBeginTheXidEndsTheTransaction) {
  ASSERT_NO_FATAL_FAILURE(Feed({Event(kQuery, Query("db", std::string(kCreate) + " START TRANSACTION"), 500),
                                Event(kXid, Xid(), 531)}));
  ASSERT_EQ(h_.ddl.size(), 1u);
  EXPECT_EQ(h_.ddl[0], kCreate);
  EXPECT_TRUE(h_.ddl_in_transaction[0]);
  EXPECT_EQ(h_.begins, 1);
  EXPECT_EQ(h_.commits, 1);
  EXPECT_EQ(h_.ddl_sessions[0].sql_mode.value_or("?"), "STRICT_TRANS_TABLES");
  EXPECT_EQ(h_.ddl_sessions[0].collation_server, 255);
}

TEST_F(CreateSelectDecodeTest, AfterBeginToo) {
  ASSERT_NO_FATAL_FAILURE(Feed({Event(kQuery, Query("db", "BEGIN"), 400),
                                Event(kQuery, Query("db", std::string(kCreate) + "\nSTART TRANSACTION"), 500),
                                Event(kXid, Xid(), 531)}));
  ASSERT_EQ(h_.ddl.size(), 1u);
  EXPECT_EQ(h_.ddl[0], kCreate);
  EXPECT_TRUE(h_.ddl_in_transaction[0]);
  EXPECT_EQ(h_.begins, 1);
  EXPECT_EQ(h_.commits, 1);
}

TEST_F(CreateSelectDecodeTest, AnOrdinaryCreateStandsAlone) {
  ASSERT_NO_FATAL_FAILURE(Feed({Event(kQuery, Query("db", "CREATE TABLE `start transaction` (id INT)"), 500)}));
  ASSERT_EQ(h_.ddl.size(), 1u);
  EXPECT_FALSE(h_.ddl_in_transaction[0]);
  EXPECT_EQ(h_.commits, 1);
}

}  // namespace
}  // namespace sluice::mysql
