// DECIMAL binary format: hand-computed fixtures, an independent encoder
// written from the documented format (MySQL strings/decimal.cc decimal2bin)
// for round trips at every precision/scale, and corruption cases.

#include "source/mysql/column/decimal.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "source/mysql/column/column_decoder.h"
#include "source/mysql/column/hex_bytes.h"
#include "client/mysql/column_types.h"

namespace sluice::mysql {
namespace {

using testing::Hex;

// Encodes decimal text ("-12.5") as DECIMAL(precision, scale), following
// the format: groups of 9 digits as 4 big-endian bytes, leftover digits in
// {0,1,1,2,2,3,3,4,4,4} bytes, sign bit flipped, negatives inverted.
std::string EncodeDecimal(std::string text, int precision, int scale) {
  static const int kBytes[] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) text.erase(0, 1);
  std::string int_digits = text, frac_digits;
  if (auto dot = text.find('.'); dot != std::string::npos) {
    int_digits = text.substr(0, dot);
    frac_digits = text.substr(dot + 1);
  }
  const int intg = precision - scale;
  while (!int_digits.empty() && int_digits[0] == '0') int_digits.erase(0, 1);
  int_digits.insert(0, static_cast<size_t>(intg) - int_digits.size(), '0');
  frac_digits.append(static_cast<size_t>(scale) - frac_digits.size(), '0');
  std::string out;
  auto put = [&](const std::string& digits) {
    const int n = digits.size() == 9 ? 4 : kBytes[digits.size()];
    const uint32_t v = static_cast<uint32_t>(std::stoul(digits));
    for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  size_t pos = 0;
  if (intg % 9) {
    put(int_digits.substr(0, intg % 9));
    pos = intg % 9;
  }
  for (; pos < int_digits.size(); pos += 9) put(int_digits.substr(pos, 9));
  for (pos = 0; pos + 9 <= frac_digits.size(); pos += 9) put(frac_digits.substr(pos, 9));
  if (scale % 9) put(frac_digits.substr(pos));
  out[0] = static_cast<char>(out[0] ^ 0x80);
  if (negative) {
    for (char& c : out) c = static_cast<char>(~c);
  }
  return out;
}

std::string Format(std::string_view bin, int precision, int scale) {
  char buf[kMaxDecimalTextSize];
  size_t len = 0;
  Status st = FormatDecimalBinary(bin, precision, scale, buf, len);
  EXPECT_TRUE(st.ok()) << st.message();
  return std::string(buf, len);
}

ColumnMeta DecimalColumn(int precision, int scale) {
  ColumnMeta c;
  c.type = kTypeNewDecimal;
  c.meta = static_cast<uint16_t>(precision << 8 | scale);
  return c;
}

TEST(DecimalTest, BinarySizes) {
  EXPECT_EQ(DecimalBinarySize(5, 2), 3u);   // 3 int digits: 2 bytes; 2 frac: 1 byte
  EXPECT_EQ(DecimalBinarySize(14, 4), 7u);  // 10 int: 1 + 4; 4 frac: 2
  EXPECT_EQ(DecimalBinarySize(10, 0), 5u);  // 1 + 4
  EXPECT_EQ(DecimalBinarySize(9, 9), 4u);
  EXPECT_EQ(DecimalBinarySize(65, 30), 30u);  // 35 int: 3*4 + 4 (8 digits); 30 frac: 3*4 + 2
  EXPECT_EQ(DecimalBinarySize(65, 0), 29u);
  EXPECT_EQ(DecimalBinarySize(0, 0), 0u);
  EXPECT_EQ(DecimalBinarySize(66, 0), 0u);
  EXPECT_EQ(DecimalBinarySize(5, 6), 0u);
}

// Fixtures computed by hand from the format; the first is the example in
// MySQL's decimal.c comment.
TEST(DecimalTest, HandComputedFixtures) {
  EXPECT_EQ(Format(Hex("81 0D FB 38 D2 04 D2"), 14, 4), "1234567890.1234");
  EXPECT_EQ(Format(Hex("7E F2 04 C7 2D FB 2D"), 14, 4), "-1234567890.1234");
  EXPECT_EQ(Format(Hex("80 01 32"), 5, 2), "1.50");
  EXPECT_EQ(Format(Hex("7F FE CD"), 5, 2), "-1.50");
  EXPECT_EQ(Format(Hex("80 00 00"), 5, 2), "0.00");
  // DECIMAL(10,2) -0.01: int 8 digits in 4 bytes, fraction 2 digits in 1.
  EXPECT_EQ(Format(Hex("7F FF FF FF FE"), 10, 2), "-0.01");
  EXPECT_EQ(Format(Hex("80 00 00 00 01"), 10, 2), "0.01");
  // DECIMAL(2,2): no integer digits at all.
  EXPECT_EQ(Format(Hex("B2"), 2, 2), "0.50");
  EXPECT_EQ(Format(Hex("4D"), 2, 2), "-0.50");
  // DECIMAL(10,0) 0 and -5.
  EXPECT_EQ(Format(Hex("80 00 00 00 00"), 10, 0), "0");
  EXPECT_EQ(Format(Hex("7F FF FF FF FA"), 10, 0), "-5");
  // DECIMAL(19,9) 1234567890.123456789: 1 + 4 int bytes, 4 frac bytes.
  EXPECT_EQ(Format(Hex("81 0D FB 38 D2 07 5B CD 15"), 19, 9), "1234567890.123456789");
  // DECIMAL(12,3) 12.340 -> int 9 digits in 4 bytes: leading zero group.
  EXPECT_EQ(Format(Hex("80 00 00 0C 01 54"), 12, 3), "12.340");
  EXPECT_EQ(Format(Hex("7F FF FF F3 FE AB"), 12, 3), "-12.340");
}

// Captured from a MariaDB 10.11 binlog: DECIMAL(65,30)
// -12345678901234567890123456789012345.123456789012345678901234567890.
TEST(DecimalTest, CapturedFromServer) {
  EXPECT_EQ(Format(Hex("7F 43 9E B1 CA 48 40 78 CA F1 CB 3F D0 F8 A0 86 F8 A4 32 EA "
                       "FF 43 9E B1 CA 48 40 78 FC 85"),
                   65, 30),
            "-12345678901234567890123456789012345.123456789012345678901234567890");
}

TEST(DecimalTest, EncoderMatchesFixtures) {
  EXPECT_EQ(EncodeDecimal("1234567890.1234", 14, 4), Hex("81 0D FB 38 D2 04 D2"));
  EXPECT_EQ(EncodeDecimal("-1.50", 5, 2), Hex("7F FE CD"));
  EXPECT_EQ(EncodeDecimal("-0.01", 10, 2), Hex("7F FF FF FF FE"));
  EXPECT_EQ(EncodeDecimal("1234567890.123456789", 19, 9), Hex("81 0D FB 38 D2 07 5B CD 15"));
}

TEST(DecimalTest, Precision65Scale30) {
  const std::string big = "12345678901234567890123456789012345.123456789012345678901234567890";
  EXPECT_EQ(Format(EncodeDecimal(big, 65, 30), 65, 30), big);
  EXPECT_EQ(Format(EncodeDecimal("-" + big, 65, 30), 65, 30), "-" + big);
  const std::string max = std::string(35, '9') + "." + std::string(30, '9');
  EXPECT_EQ(Format(EncodeDecimal(max, 65, 30), 65, 30), max);
  EXPECT_EQ(Format(EncodeDecimal("-" + max, 65, 30), 65, 30), "-" + max);
  EXPECT_EQ(Format(EncodeDecimal("0", 65, 30), 65, 30), "0." + std::string(30, '0'));
  EXPECT_EQ(Format(EncodeDecimal("-0.000000000000000000000000000001", 65, 30), 65, 30),
            "-0.000000000000000000000000000001");
  EXPECT_EQ(Format(EncodeDecimal(std::string(65, '9'), 65, 0), 65, 0), std::string(65, '9'));
}

// Every precision and scale, random digits, both signs: the decoder must
// reproduce the canonical text (no leading zeros, exactly `scale` decimals).
TEST(DecimalTest, RoundTripEveryPrecisionAndScale) {
  std::mt19937 rng(42);
  for (int precision = 1; precision <= 65; ++precision) {
    for (int scale = 0; scale <= std::min(precision, 30); ++scale) {
      for (int trial = 0; trial < 4; ++trial) {
        const int intg = precision - scale;
        std::string int_part;
        const int int_len = intg == 0 ? 0 : static_cast<int>(rng() % (intg + 1));
        for (int i = 0; i < int_len; ++i) int_part.push_back(static_cast<char>('0' + rng() % 10));
        while (int_part.size() > 1 && int_part[0] == '0') int_part.erase(0, 1);
        if (int_part.empty() || int_part == "0") int_part = "0";
        std::string frac;
        for (int i = 0; i < scale; ++i) frac.push_back(static_cast<char>('0' + rng() % 10));
        std::string text = int_part + (scale ? "." + frac : "");
        const bool zero = text.find_first_not_of("0.") == std::string::npos;
        if (trial % 2 && !zero) text = "-" + text;
        const std::string bin = EncodeDecimal(text, precision, scale);
        ASSERT_EQ(bin.size(), DecimalBinarySize(precision, scale)) << precision << "," << scale;
        ASSERT_EQ(Format(bin, precision, scale), text) << "DECIMAL(" << precision << "," << scale << ")";
      }
    }
  }
}

TEST(DecimalTest, NegativeZeroPrintsAsZero) {
  // All bytes of +0 inverted: MySQL never writes it, but it must not print "-0.00".
  EXPECT_EQ(Format(Hex("7F FF FF"), 5, 2), "0.00");
}

TEST(DecimalTest, DigitGroupOutOfRangeIsCorruption) {
  char buf[kMaxDecimalTextSize];
  size_t len;
  // DECIMAL(10,0): the 9-digit group holds 0xFFFFFFFF - 0x80000000 > 999999999.
  Status st = FormatDecimalBinary(Hex("80 FF FF FF FF"), 10, 0, buf, len);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  // DECIMAL(5,2): a 2-digit fraction byte holding 100.
  st = FormatDecimalBinary(Hex("80 01 64"), 5, 2, buf, len);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  // Wrong size.
  st = FormatDecimalBinary(Hex("80 01"), 5, 2, buf, len);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
}

TEST(DecimalTest, DecodeColumnProducesDecimalValue) {
  Arena arena;
  const std::string bytes = Hex("7F FE CD") + "tail";
  ByteReader r(bytes);
  Value v;
  ASSERT_TRUE(DecodeColumn(r, DecimalColumn(5, 2), arena, v).ok());
  EXPECT_EQ(v.kind, ValueKind::kDecimal);
  EXPECT_EQ(v.s, "-1.50");
  EXPECT_EQ(r.pos(), 3u);
}

TEST(DecimalTest, TruncatedValueIsCorruption) {
  Arena arena;
  const std::string bytes = Hex("81 0D FB 38 D2 04");  // one byte short of DECIMAL(14,4)
  ByteReader r(bytes);
  Value v;
  Status st = DecodeColumn(r, DecimalColumn(14, 4), arena, v);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("DECIMAL(14,4)"), std::string::npos) << st.message();
  EXPECT_FALSE(r.ok());
}

TEST(DecimalTest, InvalidMetadataIsCorruption) {
  Arena arena;
  const std::string bytes(40, '\x80');
  for (auto [p, s] : {std::pair{0, 0}, std::pair{66, 2}, std::pair{5, 6}}) {
    ByteReader r(bytes);
    Value v;
    EXPECT_EQ(DecodeColumn(r, DecimalColumn(p, s), arena, v).code(), StatusCode::kCorruption) << p << "," << s;
    EXPECT_FALSE(r.ok());
  }
}

}  // namespace
}  // namespace sluice::mysql
