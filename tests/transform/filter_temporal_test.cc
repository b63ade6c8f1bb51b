#include "transform/filter_temporal.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::transform {
namespace {

int64_t Dt(std::string_view s, bool strict = true) {
  int64_t packed = -1;
  EXPECT_TRUE(ParseDateTime(s, strict, &packed)) << s;
  return packed;
}

bool DtOk(std::string_view s, bool strict = true) {
  int64_t packed = 0;
  return ParseDateTime(s, strict, &packed);
}

int64_t Tm(std::string_view s) {
  int64_t micros = -1;
  EXPECT_TRUE(ParseTime(s, &micros)) << s;
  return micros;
}

bool TmOk(std::string_view s) {
  int64_t micros = 0;
  return ParseTime(s, &micros);
}

TEST(RowFilterTemporalTest, DateTimeFormatsAgree) {
  int64_t midnight = Dt("2024-01-31 00:00:00");
  for (const char* s : {"2024-01-31", "2024-1-31", "2024/01/31", "2024.01.31", "24-01-31", "20240131", "240131",
                        "2024-01-31T00:00", "2024-01-31 0:0:0", "  2024-01-31  ", "2024-01-31 00:00:00.000000",
                        "20240131000000", "240131000000", "2024-01-31   00:00"}) {
    EXPECT_EQ(Dt(s), midnight) << s;
  }
  EXPECT_EQ(Dt("2024-01-31 12:34:56.789"), Dt("20240131123456.789000"));
  EXPECT_EQ(Dt("69-01-01"), Dt("2069-01-01"));
  EXPECT_EQ(Dt("70-01-01"), Dt("1970-01-01"));
  EXPECT_EQ(Dt("2024-01-31 12:34:56.1234567"), Dt("2024-01-31 12:34:56.123456"));  // beyond 6 digits: dropped
}

TEST(RowFilterTemporalTest, DateTimeOrder) {
  EXPECT_LT(Dt("2024-01-31"), Dt("2024-01-31 00:00:00.000001"));
  EXPECT_LT(Dt("2023-12-31 23:59:59.999999"), Dt("2024-01-01"));
  EXPECT_LT(Dt("2024-01-31 23:59:59"), Dt("2024-02-01"));
  EXPECT_LT(Dt("2024-09-30"), Dt("2024-10-01"));
  EXPECT_LT(Dt("0000-00-00"), Dt("0001-01-01"));
  EXPECT_LT(Dt("1999-12-31 23:59:59"), Dt("9999-12-31 23:59:59.999999"));
  EXPECT_EQ(Dt("0000-00-00 00:00:00"), 0);
}

TEST(RowFilterTemporalTest, DateTimeValidity) {
  for (const char* bad : {"2024-13-01", "2024-01-32", "2024-01-01 24:00:00", "2024-01-01 12:60", "2024-01-01 1:2:60",
                          "yesterday", "", "   ", "2024-01", "2024-01-01 12", "2024-01-01x", "2024--01-01",
                          "20240131.5", "2024013", "2024-01-01 12:00:00 UTC", "12345-01-01"}) {
    EXPECT_FALSE(DtOk(bad, /*strict=*/false)) << bad;
  }
  // Strict (literals) also rejects days that do not exist; lenient (column
  // values, which ALLOW_INVALID_DATES may have stored) accepts them.
  for (const char* s : {"2024-02-30", "2023-02-29", "1900-02-29", "2024-04-31", "2024-00-10", "2024-05-00"}) {
    EXPECT_FALSE(DtOk(s)) << s;
    EXPECT_TRUE(DtOk(s, /*strict=*/false)) << s;
  }
  for (const char* s : {"2024-02-29", "2000-02-29", "0000-00-00", "2024-12-31 23:59:59.999999"}) {
    EXPECT_TRUE(DtOk(s)) << s;
  }
}

TEST(RowFilterTemporalTest, Times) {
  int64_t ninety_minutes = 90LL * 60 * 1000000;
  for (const char* s : {"01:30:00", "1:30", "1:30:0", "013000", "0 01:30:00", " 01:30:00.000 "}) {
    EXPECT_EQ(Tm(s), ninety_minutes) << s;
  }
  EXPECT_EQ(Tm("1 01:00:00"), 25LL * 3600 * 1000000);
  EXPECT_EQ(Tm("-00:00:01"), -1000000);
  EXPECT_EQ(Tm("12:34:56.5"), ((12LL * 60 + 34) * 60 + 56) * 1000000 + 500000);
  EXPECT_EQ(Tm("-838:59:59"), -((838LL * 60 + 59) * 60 + 59) * 1000000);
  EXPECT_EQ(Tm("56"), 56 * 1000000);                  // ss
  EXPECT_EQ(Tm("1234"), (12 * 60 + 34) * 1000000LL);  // mmss
  EXPECT_LT(Tm("-01:00:00"), Tm("00:00:00"));
  for (const char* bad :
       {"839:00:00", "838:59:59.000001", "12:60", "12:00:60", "abc", "", "-", "12:", ":30", "12345678", "1:2:3:4"}) {
    EXPECT_FALSE(TmOk(bad)) << bad;
  }
}

TEST(RowFilterTemporalTest, NumbersAsDates) {
  int64_t packed = 0;
  ASSERT_TRUE(NumberToDateTime(20240131, 0, &packed));
  EXPECT_EQ(packed, Dt("2024-01-31"));
  ASSERT_TRUE(NumberToDateTime(240131, 0, &packed));
  EXPECT_EQ(packed, Dt("2024-01-31"));
  ASSERT_TRUE(NumberToDateTime(700101, 0, &packed));
  EXPECT_EQ(packed, Dt("1970-01-01"));
  ASSERT_TRUE(NumberToDateTime(691231, 0, &packed));
  EXPECT_EQ(packed, Dt("2069-12-31"));
  ASSERT_TRUE(NumberToDateTime(20240131123456, 500000, &packed));
  EXPECT_EQ(packed, Dt("2024-01-31 12:34:56.5"));
  ASSERT_TRUE(NumberToDateTime(240131123456, 0, &packed));
  EXPECT_EQ(packed, Dt("2024-01-31 12:34:56"));
  ASSERT_TRUE(NumberToDateTime(123, 0, &packed));  // MySQL reads 123 as 2000-01-23
  EXPECT_EQ(packed, Dt("2000-01-23"));
  ASSERT_TRUE(NumberToDateTime(0, 0, &packed));
  EXPECT_EQ(packed, 0);
  for (uint64_t bad : {99ULL, 20241301ULL, 20240230ULL, 695000ULL, 9999999ULL, 100000000ULL, 20240131246000ULL,
                       99991231235960ULL, 100000000000000ULL}) {
    EXPECT_FALSE(NumberToDateTime(bad, 0, &packed)) << bad;
  }
}

TEST(RowFilterTemporalTest, NumbersAsTimes) {
  int64_t micros = 0;
  ASSERT_TRUE(NumberToTime(false, 13000, 0, &micros));
  EXPECT_EQ(micros, Tm("01:30:00"));
  ASSERT_TRUE(NumberToTime(true, 13000, 250000, &micros));
  EXPECT_EQ(micros, Tm("-01:30:00.25"));
  ASSERT_TRUE(NumberToTime(false, 8385959, 0, &micros));
  EXPECT_EQ(micros, Tm("838:59:59"));
  EXPECT_FALSE(NumberToTime(false, 8390000, 0, &micros));
  EXPECT_FALSE(NumberToTime(false, 8385959, 1, &micros));
  EXPECT_FALSE(NumberToTime(false, 6000, 0, &micros));  // 60 minutes
  EXPECT_FALSE(NumberToTime(false, 60, 0, &micros));    // 60 seconds
}

}  // namespace
}  // namespace sluice::transform
