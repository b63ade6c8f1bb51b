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
