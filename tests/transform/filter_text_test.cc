#include "transform/filter_text.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <string>

namespace sluice::transform {
namespace {

TEST(RowFilterTextTest, CaseInsensitivePadSpaceComparison) {
  EXPECT_EQ(CompareTextCi("abc", "ABC"), 0);
  EXPECT_EQ(CompareTextCi("a", "a  "), 0);
  EXPECT_EQ(CompareTextCi("a  ", "a"), 0);
  EXPECT_EQ(CompareTextCi("", "   "), 0);
  EXPECT_EQ(CompareTextCi("a", "b"), -1);
  EXPECT_EQ(CompareTextCi("B", "a"), 1);
  EXPECT_EQ(CompareTextCi("ab", "a"), 1);
  EXPECT_EQ(CompareTextCi("a", "ab"), -1);
  EXPECT_EQ(CompareTextCi("a\t", "a"), -1);  // a tab sorts below the padding space
  EXPECT_EQ(CompareTextCi("a", "a\t"), 1);
  EXPECT_EQ(CompareTextCi("a", "_"), -1);  // upper-case weights
  EXPECT_EQ(CompareTextCi("é", "é"), 0);
  EXPECT_NE(CompareTextCi("é", "É"), 0);   // ASCII folding only
  EXPECT_EQ(CompareTextCi("z", "é"), -1);  // code point order beyond ASCII
}

TEST(RowFilterTextTest, BinaryComparison) {
  EXPECT_EQ(CompareBinary("a", "a"), 0);
  EXPECT_EQ(CompareBinary("A", "a"), -1);
  EXPECT_EQ(CompareBinary("a", "a "), -1);
  EXPECT_EQ(CompareBinary(std::string_view("\xff", 1), "a"), 1);  // unsigned bytes
  EXPECT_EQ(CompareBinary(std::string_view("a\0", 2), "a"), 1);
}

TEST(RowFilterTextTest, Like) {
  struct Case {
    const char* subject;
    const char* pattern;
    const char* escape;
    bool binary;
    bool match;
  };
  const Case cases[] = {
      {"", "", "\\", false, true},
      {"", "%", "\\", false, true},
      {"", "_", "\\", false, false},
      {"abc", "abc", "\\", false, true},
      {"abc", "ABC", "\\", false, true},
      {"abc", "ABC", "\\", true, false},
      {"abc", "a%", "\\", false, true},
      {"abc", "%c", "\\", false, true},
      {"abc", "%b%", "\\", false, true},
      {"abc", "%d%", "\\", false, false},
      {"abc", "a_c", "\\", false, true},
      {"abc", "a__c", "\\", false, false},
      {"abc", "%%%", "\\", false, true},
      {"abc", "ab", "\\", false, false},
      {"ab", "abc", "\\", false, false},
      {"abc ", "abc", "\\", false, false},
      {"mississippi", "%iss%ppi", "\\", false, true},
      {"mississippi", "%iss%iss%ppi", "\\", false, true},
      {"mississippi", "m%s_s%p_", "\\", false, true},
      {"mississippi", "%sip%", "\\", false, true},
      {"mississippi", "%ssx%", "\\", false, false},
      {"50%", "50\\%", "\\", false, true},
      {"500", "50\\%", "\\", false, false},
      {"a_b", "a\\_b", "\\", false, true},
      {"axb", "a\\_b", "\\", false, false},
      {"a\\b", "a\\\\b", "\\", false, true},
      {"ab", "a\\b", "\\", false, true},  // escaping an ordinary character keeps it
      {"a\\", "a\\", "\\", false, true},  // a trailing escape is literal
      {"50%", "50!%", "!", false, true},
      {"50!", "50!!", "!", false, true},
      {"50%", "50%", "", false, true},
      {"5x", "5\\%", "", false, false},
      {"50%", "50€%", "€", false, true},  // a multi-byte escape character
      {"héllo", "h_llo", "\\", false, true},
      {"héllo", "h_llo", "\\", true, false},  // binary: _ is one byte
      {"héllo", "h__llo", "\\", true, true},
      {"日本語", "_本_", "\\", false, true},
      {"日本語", "%語", "\\", false, true},
      {"ÉCOLE", "école", "\\", false, false},  // ASCII folding only
  };
  for (const auto& c : cases) {
    EXPECT_EQ(LikeMatch(c.subject, c.pattern, c.escape, c.binary), c.match)
        << c.subject << " LIKE " << c.pattern << " ESCAPE " << c.escape << (c.binary ? " (binary)" : "");
  }
}

TEST(RowFilterTextTest, Utf8) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("héllo"), 5u);
  EXPECT_EQ(Utf8Length("日本語"), 3u);
  EXPECT_EQ(Utf8Length("😀!"), 2u);
  EXPECT_EQ(Utf8Length("\xc3"), 1u);       // truncated sequence: one byte
  EXPECT_EQ(Utf8Length("\xe6\x97x"), 3u);  // broken sequence: byte by byte
  EXPECT_EQ(Utf8Length("\x80\x80"), 2u);   // stray continuation bytes
  EXPECT_EQ(Utf8CharBytes("é", 0), 2u);
  EXPECT_EQ(Utf8CharBytes("😀", 0), 4u);
}

TEST(RowFilterTextTest, ReadNumberLikeMysql) {
  auto r = ReadNumber("12abc");
  EXPECT_FALSE(r.exact);
  EXPECT_EQ(r.d, 12);
  r = ReadNumber(" 42 ");
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.kind, NumberReading::Kind::kInt);
  EXPECT_EQ(r.i, 42);
  r = ReadNumber("+7");
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.i, 7);
  r = ReadNumber("-5");
  EXPECT_EQ(r.i, -5);
  EXPECT_EQ(r.d, -5);
  r = ReadNumber("18446744073709551615");
  EXPECT_EQ(r.kind, NumberReading::Kind::kUInt);
  EXPECT_EQ(r.u, UINT64_MAX);
  r = ReadNumber("18446744073709551616");
  EXPECT_EQ(r.kind, NumberReading::Kind::kDecimal);
  EXPECT_EQ(r.dec.ToString(), "18446744073709551616");
  r = ReadNumber("-9223372036854775809");
  EXPECT_EQ(r.kind, NumberReading::Kind::kDecimal);
  r = ReadNumber("1.50");
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.kind, NumberReading::Kind::kDecimal);
  EXPECT_EQ(r.dec.ToString(), "1.50");
  EXPECT_EQ(r.d, 1.5);
  r = ReadNumber(".5");
  EXPECT_EQ(r.dec.ToString(), "0.5");
  r = ReadNumber("5.");
  EXPECT_EQ(r.dec.ToString(), "5");
  r = ReadNumber("1e3");
  EXPECT_FALSE(r.exact);
  EXPECT_EQ(r.d, 1000);
  r = ReadNumber("1e3x");
  EXPECT_EQ(r.d, 1000);
  r = ReadNumber("2e");  // no exponent digits: just 2
  EXPECT_EQ(r.d, 2);
  EXPECT_FALSE(r.exact);
  for (const char* zero : {"abc", "", "  ", "-", ".", "e5", "+x"}) {
    r = ReadNumber(zero);
    EXPECT_FALSE(r.exact) << zero;
    EXPECT_EQ(r.d, 0) << zero;
  }
  EXPECT_EQ(ReadNumber("1e999").d, DBL_MAX);
  EXPECT_EQ(ReadNumber("-1e999").d, -DBL_MAX);
  EXPECT_EQ(ReadNumber("1e-999").d, 0);
  EXPECT_FALSE(ReadNumber("1 2").exact);
  EXPECT_EQ(ReadNumber("1 2").d, 1);
}

TEST(RowFilterTextTest, CaseHelpers) {
  EXPECT_TRUE(EqualsIgnoreCase("Status", "STATUS"));
  EXPECT_FALSE(EqualsIgnoreCase("status", "statu"));
  EXPECT_FALSE(EqualsIgnoreCase("é", "É"));
  EXPECT_EQ(AsciiUpper('a'), 'A');
  EXPECT_EQ(AsciiLower('Z'), 'z');
  EXPECT_EQ(AsciiUpper('1'), '1');
}

}  // namespace
}  // namespace sluice::transform
