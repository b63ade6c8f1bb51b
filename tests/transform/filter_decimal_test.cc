#include "transform/filter_decimal.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::transform {
namespace {

Decimal D(const std::string& text) {
  Decimal d;
  EXPECT_TRUE(Decimal::Parse(text, &d)) << text;
  return d;
}

using BinaryOp = bool (*)(const Decimal&, const Decimal&, Decimal*);

std::string Apply(BinaryOp op, const std::string& a, const std::string& b) {
  Decimal r;
  if (!op(D(a), D(b), &r)) {
    return "overflow";
  }
  return r.ToString();
}

TEST(RowFilterDecimalTest, ParseAndFormat) {
  for (auto [in, out] : std::initializer_list<std::pair<const char*, const char*>>{
           {"0", "0"},
           {"-0", "0"},
           {"-0.00", "0.00"},
           {"+1.50", "1.50"},
           {".5", "0.5"},
           {"5.", "5"},
           {"-0.001", "-0.001"},
           {"007.10", "7.10"},
           {"-123.4500", "-123.4500"},
           {"18446744073709551616", "18446744073709551616"},
           {"12345678901234567890123456789012345.123456789012345678901234567890",
            "12345678901234567890123456789012345.123456789012345678901234567890"},
       }) {
    EXPECT_EQ(D(in).ToString(), out) << in;
  }
  EXPECT_EQ(D("1.50").scale(), 2);
  EXPECT_TRUE(D("-0.00").is_zero());
  EXPECT_FALSE(D("-0.00").negative());
  std::string max_digits(Decimal::kMaxDigits, '9');
  EXPECT_EQ(D(max_digits).ToString(), max_digits);
  EXPECT_EQ(D("0." + max_digits).ToString(), "0." + max_digits);
  EXPECT_EQ(D("000" + max_digits).ToString(), max_digits);  // leading zeros do not count

  Decimal d;
  for (const std::string bad : {"", ".", "-", "+", "1e3", "1.2.3", " 1", "1 ", "1,5", "--1", "0x1", "1-"}) {
    EXPECT_FALSE(Decimal::Parse(bad, &d)) << bad;
  }
  EXPECT_FALSE(Decimal::Parse(max_digits + "9", &d));
  EXPECT_FALSE(Decimal::Parse("1." + max_digits, &d));
  EXPECT_FALSE(Decimal::Parse("0.0" + max_digits, &d));
}

TEST(RowFilterDecimalTest, CompareIsNumeric) {
  EXPECT_EQ(D("19.90").Compare(D("19.900")), 0);
  EXPECT_EQ(D("19.9").Compare(D("19.900000000000000000000000000001")), -1);
  EXPECT_EQ(D("-1").Compare(D("0.5")), -1);
  EXPECT_EQ(D("-2").Compare(D("-1.5")), -1);
  EXPECT_EQ(D("-1.5").Compare(D("-2")), 1);
  EXPECT_EQ(D("0").Compare(D("-0.000")), 0);
  EXPECT_EQ(D("10").Compare(D("9.99999")), 1);
  // Scaling a 76-digit integer to scale 30 would overflow; it is still larger.
  std::string huge(Decimal::kMaxDigits, '9');
  EXPECT_EQ(D(huge).Compare(D("1.000000000000000000000000000001")), 1);
  EXPECT_EQ(D("1.000000000000000000000000000001").Compare(D(huge)), -1);
  EXPECT_EQ(D("-" + huge).Compare(D("-1.000000000000000000000000000001")), -1);
  EXPECT_TRUE(D("2.50") == D("2.5"));
}

TEST(RowFilterDecimalTest, AddSubMul) {
  EXPECT_EQ(Apply(Decimal::Add, "0.1", "0.2"), "0.3");
  EXPECT_EQ(Apply(Decimal::Add, "1", "-1.5"), "-0.5");
  EXPECT_EQ(Apply(Decimal::Add, "-1.25", "1.25"), "0.00");
  EXPECT_EQ(Apply(Decimal::Add, "19.90", "0.005"), "19.905");
  EXPECT_EQ(Apply(Decimal::Sub, "0.3", "0.1"), "0.2");
  EXPECT_EQ(Apply(Decimal::Sub, "-5", "-7.5"), "2.5");
  EXPECT_EQ(Apply(Decimal::Sub, "18446744073709551615", "-1"), "18446744073709551616");
  EXPECT_EQ(Apply(Decimal::Mul, "1.5", "1.5"), "2.25");
  EXPECT_EQ(Apply(Decimal::Mul, "-19.90", "3"), "-59.70");
  EXPECT_EQ(Apply(Decimal::Mul, "-2", "0.0"), "0.0");
  // Products beyond scale 30 are rounded to it, half away from zero.
  EXPECT_EQ(Apply(Decimal::Mul, "0.0000000000000005", "0.000000000000001"), "0.000000000000000000000000000001");
  EXPECT_EQ(Apply(Decimal::Mul, "-0.0000000000000005", "0.000000000000001"), "-0.000000000000000000000000000001");
  EXPECT_EQ(Apply(Decimal::Mul, "0.0000000000000004", "0.000000000000001"), "0.000000000000000000000000000000");
  EXPECT_EQ(Apply(Decimal::Mul, "99999999999999999999999999999999999999", "99999999999999999999999999999999999999"),
            "9999999999999999999999999999999999999800000000000000000000000000000000000001");
  // Overflow is reported, never rounded.
  std::string huge(Decimal::kMaxDigits, '9');
  EXPECT_EQ(Apply(Decimal::Mul, huge, huge), "overflow");
  EXPECT_EQ(Apply(Decimal::Mul, huge, "20"), "overflow");
  EXPECT_EQ(Apply(Decimal::Add, huge, huge), "1" + std::string(75, '9') + "8");          // 77 digits still fit
  EXPECT_EQ(Apply(Decimal::Add, huge, "0.000000000000000000000000000001"), "overflow");  // the alignment overflows
}

TEST(RowFilterDecimalTest, DivisionScaleAndRounding) {
  EXPECT_EQ(Apply(Decimal::Div, "7", "2"), "3.5000");
  EXPECT_EQ(Apply(Decimal::Div, "1", "3"), "0.3333");
  EXPECT_EQ(Apply(Decimal::Div, "2", "3"), "0.6667");
  EXPECT_EQ(Apply(Decimal::Div, "-2", "3"), "-0.6667");
  EXPECT_EQ(Apply(Decimal::Div, "2", "-3"), "-0.6667");
  EXPECT_EQ(Apply(Decimal::Div, "1", "8"), "0.1250");
  EXPECT_EQ(Apply(Decimal::Div, "1.00", "3"), "0.333333");
  EXPECT_EQ(Apply(Decimal::Div, "0.5", "0.25"), "2.00000");
  EXPECT_EQ(Apply(Decimal::Div, "1", "0.0001"), "10000.0000");
  EXPECT_EQ(Apply(Decimal::Div, "0.00005", "1"), "0.000050000");
  EXPECT_EQ(Apply(Decimal::Div, "1", "20000"), "0.0001");  // 0.00005 rounds up
  EXPECT_EQ(Apply(Decimal::Div, "1", "20001"), "0.0000");
  // The scale stops growing at 30 (MySQL's maximum).
  EXPECT_EQ(Apply(Decimal::Div, "1.00000000000000000000000000000", "3"), "0.333333333333333333333333333333");
  // Divisors above 2^64 take the long division.
  EXPECT_EQ(Apply(Decimal::Div, "10000000000000000000000000000000000000000", "100000000000000000001"),
            "99999999999999999999.0000");
  EXPECT_EQ(Apply(Decimal::Div, "12345678901234567890123456789012345678901234567890.5", "98765432109876543210987.65"),
            "124999998860937500014238286.71871");
}

TEST(RowFilterDecimalTest, ModAndIntDiv) {
  EXPECT_EQ(Apply(Decimal::Mod, "5.5", "2"), "1.5");
  EXPECT_EQ(Apply(Decimal::Mod, "-7", "2"), "-1");
  EXPECT_EQ(Apply(Decimal::Mod, "7", "-2"), "1");
  EXPECT_EQ(Apply(Decimal::Mod, "6", "2.5"), "1.0");
  EXPECT_EQ(Apply(Decimal::Mod, "12345678901234567890123456789012345678901234567890.5", "98765432109876543210987.65"),
            "70983960110096834064722.60");
  EXPECT_EQ(Apply(Decimal::IntDiv, "7.9", "2"), "3");
  EXPECT_EQ(Apply(Decimal::IntDiv, "-7", "2"), "-3");
  EXPECT_EQ(Apply(Decimal::IntDiv, "1", "3"), "0");
  EXPECT_EQ(
      Apply(Decimal::IntDiv, "12345678901234567890123456789012345678901234567890.5", "98765432109876543210987.65"),
      "124999998860937500014238286");
}

TEST(RowFilterDecimalTest, Conversions) {
  int64_t i = 0;
  uint64_t u = 0;
  EXPECT_TRUE(D("9223372036854775807.9").TruncateToInt64(&i));
  EXPECT_EQ(i, INT64_MAX);
  EXPECT_FALSE(D("9223372036854775808").TruncateToInt64(&i));
  EXPECT_TRUE(D("9223372036854775808").TruncateToUInt64(&u));
  EXPECT_EQ(u, 9223372036854775808ULL);
  EXPECT_TRUE(D("-9223372036854775808.5").TruncateToInt64(&i));
  EXPECT_EQ(i, INT64_MIN);
  EXPECT_FALSE(D("-9223372036854775809").TruncateToInt64(&i));
  EXPECT_TRUE(D("-0.5").TruncateToUInt64(&u));
  EXPECT_EQ(u, 0u);
  EXPECT_FALSE(D("-1").TruncateToUInt64(&u));
  EXPECT_FALSE(D("18446744073709551616").TruncateToUInt64(&u));
  EXPECT_TRUE(D("18446744073709551615.999").TruncateToUInt64(&u));
  EXPECT_EQ(u, UINT64_MAX);

  EXPECT_TRUE(D("20240131.5").IntegerPartMagnitude(&u));
  EXPECT_EQ(u, 20240131u);
  EXPECT_EQ(D("20240131.5").FractionMicros(), 500000u);
  EXPECT_EQ(D("1.1234567").FractionMicros(), 123456u);
  EXPECT_EQ(D("-1.12").FractionMicros(), 120000u);
  EXPECT_EQ(D("7").FractionMicros(), 0u);

  EXPECT_EQ(D("0.1").ToDouble(), 0.1);
  EXPECT_EQ(D("19.90").ToDouble(), 19.9);
  EXPECT_EQ(D("-123456789012345678901234567890").ToDouble(), -1.2345678901234568e29);
  EXPECT_EQ(Decimal::FromInt(INT64_MIN).ToString(), "-9223372036854775808");
  EXPECT_EQ(Decimal::FromUInt(UINT64_MAX).ToString(), "18446744073709551615");
  EXPECT_EQ(D("-2.5").Abs().ToString(), "2.5");
  EXPECT_EQ(D("2.5").Negated().ToString(), "-2.5");
  EXPECT_EQ(D("0").Negated().ToString(), "0");
}

TEST(RowFilterDecimalTest, U256LongDivisionMatchesWordDivision) {
  // For divisors that fit 64 bits both paths exist; force the long one by
  // comparing against a product check q * b + r == a, r < b.
  Decimal::U256 a;
  a.w[0] = 0x0123456789abcdefULL;
  a.w[1] = 0xfedcba9876543210ULL;
  a.w[2] = 0x0f0f0f0f0f0f0f0fULL;
  a.w[3] = 0x7fffffffffffffffULL;
  for (uint64_t high : {1ULL, 0x8000000000000000ULL, 0xffffffffffffffffULL}) {
    Decimal::U256 b;
    b.w[0] = 12345;
    b.w[1] = high;
    Decimal::U256 q;
    Decimal::U256 r;
    Decimal::U256::DivMod(a, b, &q, &r);
    EXPECT_LT(Decimal::U256::Cmp(r, b), 0);
    Decimal::U256 back;
    ASSERT_TRUE(Decimal::U256::Mul(q, b, &back));
    ASSERT_TRUE(back.Add(r));
    EXPECT_EQ(Decimal::U256::Cmp(back, a), 0) << high;
  }
  // A divisor with the top bit set exercises the shifted-out carry.
  Decimal::U256 top;
  top.w[3] = 0x8000000000000000ULL;
  top.w[0] = 1;
  Decimal::U256 all;
  for (auto& w : all.w) {
    w = ~0ULL;
  }
  Decimal::U256 q;
  Decimal::U256 r;
  Decimal::U256::DivMod(all, top, &q, &r);
  EXPECT_EQ(q.w[0], 1u);
  EXPECT_EQ(q.w[1] | q.w[2] | q.w[3], 0u);
  EXPECT_EQ(r.w[3], 0x7fffffffffffffffULL);
  EXPECT_EQ(r.w[0], ~0ULL - 1);
}

}  // namespace
}  // namespace sluice::transform
