// PostgreSQL's output text parsed back into the source's Values: the
// inverse of pg_types.h, exactly, and never a false equality.

#include "sink/postgres/pg_row_reader.h"

#include <gtest/gtest.h>

#include "client/mysql/column_types.h"
#include "sink/row_reader.h"

namespace sluice::sink::postgres {
namespace {

namespace my = sluice::mysql;

ColumnMeta Col(uint8_t type, uint16_t meta = 0, bool is_unsigned = false, Charset cs = Charset::kUtf8) {
  ColumnMeta c;
  c.name = "c";
  c.type = type;
  c.meta = meta;
  c.is_unsigned = is_unsigned;
  c.charset = cs;
  return c;
}

TEST(FitFraction, PadsOrTrimsToTheSourceDigits) {
  EXPECT_EQ(FitFraction("12:34:56", 3), "12:34:56.000");
  EXPECT_EQ(FitFraction("12:34:56.78", 3), "12:34:56.780");
  EXPECT_EQ(FitFraction("12:34:56.780000", 3), "12:34:56.780");
  EXPECT_EQ(FitFraction("12:34:56.000", 0), "12:34:56");
  EXPECT_EQ(FitFraction("1.5", 4), "1.5000");
  // Digits beyond the source's precision stay: the value is different.
  EXPECT_EQ(FitFraction("12:34:56.5", 0), "12:34:56.5");
}

class ParsePg : public ::testing::Test {
 protected:
  Value P(const ColumnMeta& c, std::string_view text) { return ParsePgValue(c, text, arena_); }
  Arena arena_;
};

TEST_F(ParsePg, IntegersToTheSourceKind) {
  Value v = P(Col(my::kTypeTiny), "-128");
  EXPECT_EQ(v.kind, ValueKind::kInt);
  EXPECT_EQ(v.i, -128);
  v = P(Col(my::kTypeLongLong, 0, true), "18446744073709551615");
  EXPECT_EQ(v.kind, ValueKind::kUInt);
  EXPECT_EQ(v.u, 18446744073709551615ull);
  v = P(Col(my::kTypeYear), "2155");
  EXPECT_EQ(v.kind, ValueKind::kYear);
  EXPECT_EQ(v.i, 2155);
  v = P(Col(my::kTypeBit, (1 << 8) | 2), "0000000101");
  EXPECT_EQ(v.kind, ValueKind::kBit);
  EXPECT_EQ(v.u, 5u);
  // Not an integer: PostgreSQL's text, equal to no integer.
  v = P(Col(my::kTypeLong), "1.5");
  EXPECT_EQ(v.kind, ValueKind::kText);
  EXPECT_EQ(v.s, "1.5");
}

TEST_F(ParsePg, RealsByValue) {
  Value v = P(Col(my::kTypeFloat, 4), "3.25");
  EXPECT_EQ(v.kind, ValueKind::kFloat);
  EXPECT_EQ(v.d, 3.25);
  v = P(Col(my::kTypeFloat, 4), "0.1");
  EXPECT_EQ(v.d, static_cast<double>(0.1f));
  v = P(Col(my::kTypeDouble, 8), "-12345.678901");
  EXPECT_EQ(v.kind, ValueKind::kDouble);
  EXPECT_EQ(v.d, -12345.678901);
}

TEST_F(ParsePg, DecimalsAndTemporalsInMysqlText) {
  EXPECT_EQ(P(Col(my::kTypeNewDecimal, (12 << 8) | 4), "-12345678.1234").s, "-12345678.1234");
  EXPECT_EQ(P(Col(my::kTypeNewDecimal, (12 << 8) | 4), "1.5").s, "1.5000");
  EXPECT_EQ(P(Col(my::kTypeDate), "2024-02-29").s, "2024-02-29");
  Value v = P(Col(my::kTypeDateTime2, 3), "2024-02-29 12:34:56.78");
  EXPECT_EQ(v.kind, ValueKind::kDateTime);
  EXPECT_EQ(v.s, "2024-02-29 12:34:56.780");
  EXPECT_EQ(P(Col(my::kTypeDateTime2, 3), "1000-01-01 00:00:00").s, "1000-01-01 00:00:00.000");
  v = P(Col(my::kTypeTimestamp2, 6), "2038-01-19 03:14:07.999999+00");
  EXPECT_EQ(v.kind, ValueKind::kTimestamp);
  EXPECT_EQ(v.s, "2038-01-19 03:14:07.999999");
  EXPECT_EQ(P(Col(my::kTypeTimestamp2, 0), "1970-01-01 00:00:01+00").s, "1970-01-01 00:00:01");
  v = P(Col(my::kTypeTime2, 0), "-838:59:59");
  EXPECT_EQ(v.kind, ValueKind::kTime);
  EXPECT_EQ(v.s, "-838:59:59");
  EXPECT_EQ(P(Col(my::kTypeTime2, 2), "01:02:03.5").s, "01:02:03.50");
  EXPECT_EQ(P(Col(my::kTypeTime2, 0), "2 days 01:00:00").s, "49:00:00");
  EXPECT_EQ(P(Col(my::kTypeTime2, 0), "00:00:00").s, "00:00:00");
}

TEST_F(ParsePg, BytesFromHexAndTextAsIs) {
  Value v = P(Col(my::kTypeVarchar, 10, false, Charset::kBinary), "\\x0a0d09005c");
  EXPECT_EQ(v.kind, ValueKind::kBytes);
  EXPECT_EQ(v.s, std::string_view("\x0a\x0d\x09\x00\x5c", 5));
  EXPECT_EQ(P(Col(my::kTypeVarchar, 10, false, Charset::kBinary), "\\x").s, "");
  v = P(Col(my::kTypeVarchar, 40), "héllo 😀");
  EXPECT_EQ(v.kind, ValueKind::kText);
  EXPECT_EQ(v.s, "héllo 😀");
}

}  // namespace
}  // namespace sluice::sink::postgres
