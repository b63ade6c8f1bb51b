#include "sink/mysql/big_rows.h"

#include <gtest/gtest.h>

namespace sluice::sink::mysql {
namespace {

struct BigRow {
  std::shared_ptr<TargetTable> t = std::make_shared<TargetTable>();
  std::string text, bytes;
  SinkChange row;
  BigRow() {
    t->db = "shop";
    t->table = "files";
    t->columns = {"id", "name", "body", "data", "note"};
    t->key = {0};
    for (int i = 0; i < 40000; ++i) text += (i % 3 == 0) ? "\xc3\xa9" : "a";  // 'é' splits across pieces
    for (int i = 0; i < 50000; ++i) bytes += static_cast<char>(i * 7);
    row.table = t;
    row.values = {Value::Int(7), Value::Str(ValueKind::kText, "readme"), Value::Str(ValueKind::kText, text),
                  Value::Str(ValueKind::kBytes, bytes), Value::Null()};
  }
};

// The literal between `CONCAT(`col`,` and `) WHERE`, decoded (hex, or text
// without escapes).
std::string Piece(const std::string& sql, const std::string& column) {
  std::string head = "=CONCAT(`" + column + "`,";
  size_t at = sql.find(head);
  if (at == std::string::npos) return "";
  at += head.size();
  size_t end = sql.rfind(") WHERE ");
  std::string lit = sql.substr(at, end - at);
  if (lit.rfind("x'", 0) == 0) {
    std::string out;
    for (size_t i = 2; i + 1 < lit.size() - 1; i += 2) out += static_cast<char>(std::stoi(lit.substr(i, 2), nullptr, 16));
    return out;
  }
  return lit.substr(1, lit.size() - 2);
}

TEST(BigRowsTest, AnUpsertTooLargeForOneStatementIsWrittenInPiecesThatFit) {
  BigRow r;
  const size_t max_packet = 64 << 10;
  std::vector<std::string> sql;
  ASSERT_TRUE(UpsertInPieces(*r.t, r.row, false, nullptr, max_packet, [&](const std::string& q) {
                sql.push_back(q);
                return Status::Ok();
              }).ok());
  ASSERT_GT(sql.size(), 3u);
  // First the row, with the large values empty, the small ones as they are.
  EXPECT_EQ(sql[0].rfind("INSERT INTO `shop`.`files`", 0), 0u) << sql[0].substr(0, 200);
  EXPECT_NE(sql[0].find("(7,'readme','',x'',NULL)"), std::string::npos) << sql[0].substr(0, 200);
  std::string body, data;
  for (size_t i = 0; i < sql.size(); ++i) {
    EXPECT_LE(sql[i].size(), StatementBudget(max_packet)) << i;
    if (i == 0) continue;
    EXPECT_EQ(sql[i].rfind("UPDATE `shop`.`files` SET ", 0), 0u) << sql[i].substr(0, 100);
    EXPECT_NE(sql[i].find(") WHERE `id`=7"), std::string::npos);
    std::string text_piece = Piece(sql[i], "body");
    if (!text_piece.empty()) {
      // Whole characters: no piece starts inside one.
      EXPECT_NE(static_cast<unsigned char>(text_piece[0]) & 0xC0, 0x80u) << i;
      body += text_piece;
    }
    data += Piece(sql[i], "data");
  }
  EXPECT_EQ(body, r.text);
  EXPECT_EQ(data, r.bytes);
}

TEST(BigRowsTest, ACatchUpWritesItsFirstPieceAsAReplace) {
  BigRow r;
  std::vector<std::string> sql;
  ASSERT_TRUE(UpsertInPieces(*r.t, r.row, true, nullptr, 64 << 10, [&](const std::string& q) {
                sql.push_back(q);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(sql.at(0).rfind("REPLACE INTO `shop`.`files`", 0), 0u);
}

TEST(BigRowsTest, ARowThatFitsIsOneStatement) {
  BigRow r;
  std::vector<std::string> sql;
  ASSERT_TRUE(UpsertInPieces(*r.t, r.row, false, nullptr, 1 << 20, [&](const std::string& q) {
                sql.push_back(q);
                return Status::Ok();
              }).ok());
  ASSERT_EQ(sql.size(), 1u);
  EXPECT_LT(StatementBytesBound(*r.t, r.row) / 2, sql[0].size());  // the bound is an upper bound, not far off
  EXPECT_LE(sql[0].size(), StatementBytesBound(*r.t, r.row));
}

TEST(BigRowsTest, AValueLargerThanThePacketIsAnErrorBeforeAnythingIsWritten) {
  BigRow r;
  int statements = 0;
  Status st = UpsertInPieces(*r.t, r.row, false, nullptr, 52000, [&](const std::string&) {
    ++statements;
    return Status::Ok();
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(statements, 0);
  EXPECT_NE(st.message().find("column `body` holds 53334 bytes, more than the target's max_allowed_packet (52000"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("SET GLOBAL max_allowed_packet = 1048576"), std::string::npos) << st.message();
}

TEST(BigRowsTest, ValuesThatCannotBeCutAreAnError) {
  BigRow r;
  std::string json(100000, ' ');
  r.row.values[2] = Value::Str(ValueKind::kJson, json);  // a JSON document is whole or invalid
  r.row.values[3] = Value::Null();
  Status st = UpsertInPieces(*r.t, r.row, false, nullptr, 64 << 10, [](const std::string&) { return Status::Ok(); });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("the row needs a statement of"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace sluice::sink::mysql
