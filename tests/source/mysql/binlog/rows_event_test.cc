// Byte-level fixtures for rows events that the real binlog fixtures lack:
// MySQL 8 PARTIAL_UPDATE_ROWS with a partial JSON diff, and a v2 UPDATE with
// binary JSON before/after images.

#include "source/mysql/binlog/rows_event.h"

#include <gtest/gtest.h>

#include "core/json_writer.h"
#include "source/mysql/binlog/event_types.h"
#include "client/mysql/column_types.h"

namespace sluice::mysql {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s += static_cast<char>(x);
  return s;
}

TableSchema IdJsonTable() {
  TableSchema t;
  t.db = "d";
  t.table = "t";
  t.columns.resize(2);
  t.columns[0].name = "id";
  t.columns[0].type = kTypeLong;
  t.columns[1].name = "j";
  t.columns[1].type = kTypeJson;
  t.columns[1].meta = 4;  // 4-byte length prefix
  t.primary_key = {0};
  t.names_known = true;
  return t;
}

// Binary JSON {"a": 1}: small object, one key, an inline int16 value.
//   type 00 | count 01 00 | size 0c 00 | key entry: offset 0b 00, length 01 00
//   | value entry: type 05 (int16), inline 01 00 | key "a"
const std::string kObjectA1 = Bytes({0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x05, 0x01, 0x00, 'a'});

std::string Json(const Value& v) {
  std::string s;
  AppendJsonValue(s, v);
  return s;
}

TEST(RowsEventTest, PartialJsonUpdateAppliesTheDiffToTheBeforeImage) {
  std::string body = Bytes({1, 0, 0, 0, 0, 0,  // table id
                            0, 0,              // flags
                            2, 0,              // extra data length (itself only)
                            2,                 // width
                            0x03, 0x03});      // columns present before / after
  // before image: null bitmap, id = 1, j = {"a": 1}
  body += Bytes({0x00, 1, 0, 0, 0, static_cast<int>(kObjectA1.size()), 0, 0, 0}) + kObjectA1;
  // after image: value_options = PARTIAL_JSON_UPDATES, partial bits (j is partial),
  // null bitmap, id = 1, j = diff list: REPLACE "$.a" with the literal true (04 01)
  std::string diff = Bytes({0x00, 0x03, '$', '.', 'a', 0x02, 0x04, 0x01});
  body += Bytes({0x01, 0x01, 0x00, 1, 0, 0, 0, static_cast<int>(diff.size()), 0, 0, 0}) + diff;

  ByteReader r(body);
  std::string scratch;
  RowsEvent ev;
  ASSERT_TRUE(ParseRowsEventHeader(r, kPartialUpdateRowsEvent, 10, scratch, ev).ok());
  EXPECT_EQ(ev.op, Op::kUpdate);
  EXPECT_TRUE(ev.partial_json);
  TableSchema t = IdJsonTable();
  RowImageDecoder dec;
  Arena arena;
  std::vector<Value> before, after;
  ByteReader rows(ev.rows);
  ASSERT_TRUE(dec.Decode(rows, t, ev.present_before, false, nullptr, arena, before).ok());
  Status st = dec.Decode(rows, t, ev.present_after, true, &before, arena, after);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(rows.at_end());
  EXPECT_EQ(Json(before[1]), "{\"a\":1}");
  EXPECT_EQ(Json(after[1]), "{\"a\":true}");
  EXPECT_EQ(after[0].i, 1);
}

TEST(RowsEventTest, PartialUpdateWithoutPartialBitsDecodesFullImages) {
  std::string body = Bytes({1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0x03, 0x03});
  body += Bytes({0x00, 1, 0, 0, 0, static_cast<int>(kObjectA1.size()), 0, 0, 0}) + kObjectA1;
  body += Bytes({0x00, 0x00, 2, 0, 0, 0, static_cast<int>(kObjectA1.size()), 0, 0, 0}) + kObjectA1;  // value_options 0
  ByteReader r(body);
  std::string scratch;
  RowsEvent ev;
  ASSERT_TRUE(ParseRowsEventHeader(r, kPartialUpdateRowsEvent, 10, scratch, ev).ok());
  TableSchema t = IdJsonTable();
  RowImageDecoder dec;
  Arena arena;
  std::vector<Value> before, after;
  ByteReader rows(ev.rows);
  ASSERT_TRUE(dec.Decode(rows, t, ev.present_before, false, nullptr, arena, before).ok());
  ASSERT_TRUE(dec.Decode(rows, t, ev.present_after, true, &before, arena, after).ok());
  EXPECT_EQ(after[0].i, 2);
  EXPECT_EQ(Json(after[1]), "{\"a\":1}");
}

TEST(RowsEventTest, TruncatedRowImageIsCorruption) {
  std::string body = Bytes({1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0x03});
  body += Bytes({0x00, 1, 0, 0, 0, 0x40, 0, 0, 0}) + kObjectA1;  // claims 64 bytes of JSON
  ByteReader r(body);
  std::string scratch;
  RowsEvent ev;
  ASSERT_TRUE(ParseRowsEventHeader(r, kWriteRowsEventV2, 10, scratch, ev).ok());
  TableSchema t = IdJsonTable();
  RowImageDecoder dec;
  Arena arena;
  std::vector<Value> after;
  ByteReader rows(ev.rows);
  Status st = dec.Decode(rows, t, ev.present_before, false, nullptr, arena, after);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("`j`"), std::string::npos) << st.message();
}

TEST(RowsEventTest, BadExtraDataLengthIsCorruption) {
  std::string body = Bytes({1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0x03});
  ByteReader r(body);
  std::string scratch;
  RowsEvent ev;
  Status st = ParseRowsEventHeader(r, kWriteRowsEventV2, 10, scratch, ev);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("extra data length"), std::string::npos);
}

}  // namespace
}  // namespace sluice::mysql
