#include "core/change_event.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(StreamPosTest, OrdersByFileSequenceOffsetAndIndex) {
  StreamPos a{"binlog.000009", 900, 1}, b{"binlog.000010", 4, 0}, c{"binlog.000010", 4, 2},
      d{"binlog.000010", 4, StreamPos::kWholeTransaction}, e{"binlog.000010", 500, 1};
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
  EXPECT_LT(d, e);
  EXPECT_EQ(c.Compare(c), 0);
}

// PostgreSQL transactions: the commit LSN orders by value ("0/9A0000"
// sorts after "0/16B3748" as text, before it as an LSN).
TEST(StreamPosTest, OrdersLsnsByValue) {
  StreamPos a{"0/9A0000", 0x99FF00, 3}, b{"0/16B3748", 0x16B3700, 1}, c{"1/0", 0xFFFFFF00, 0};
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(a, c);
  StreamPos back;
  ASSERT_TRUE(StreamPos::Parse(b.ToString(), &back)) << b.ToString();
  EXPECT_EQ(back, b);
}

TEST(StreamPosTest, TextRoundTrip) {
  for (const StreamPos& p : {StreamPos{"binlog.000003", 1234, 7}, StreamPos{"mysql-bin.000001", 4, StreamPos::kWholeTransaction}}) {
    StreamPos back;
    ASSERT_TRUE(StreamPos::Parse(p.ToString(), &back)) << p.ToString();
    EXPECT_EQ(back, p);
  }
  StreamPos x;
  EXPECT_FALSE(StreamPos::Parse("binlog.000003:12", &x));
  EXPECT_FALSE(StreamPos::Parse("binlog.000003:1x#2", &x));
}

TEST(ChangeEventTest, CopyOwnsItsBytes) {
  auto schema = std::make_shared<TableSchema>();
  schema->columns.resize(2);
  std::string text = "hello";
  std::vector<Value> after{Value::Int(1), Value::Str(ValueKind::kText, text)};
  RowChange rc;
  rc.op = Op::kInsert;
  rc.table = schema.get();
  rc.after = &after;
  ChangeEvent ev;
  CopyRowChange(rc, schema, ev);
  text = "XXXXX";  // the source buffer is reused
  ChangeEvent moved = std::move(ev);
  ASSERT_TRUE(moved.after.present);
  EXPECT_FALSE(moved.before.present);
  EXPECT_EQ(moved.after.values[1].s, "hello");
  EXPECT_EQ(moved.after.values[0].i, 1);
}

}  // namespace
}  // namespace sluice
