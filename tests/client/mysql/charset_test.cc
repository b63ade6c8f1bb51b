// Collation ids and charset names to charsets, and conversion to UTF-8.

#include "client/mysql/charset.h"

#include <gtest/gtest.h>
#include <iconv.h>

#include <string>

namespace sluice::mysql {
namespace {

struct IdCase {
  uint32_t id;
  Charset charset;
  const char* iconv_name;
};

TEST(CharsetTest, CollationIds) {
  const IdCase cases[] = {
      {63, Charset::kBinary, ""},
      // latin1
      {5, Charset::kLatin1, ""},
      {8, Charset::kLatin1, ""},
      {15, Charset::kLatin1, ""},
      {31, Charset::kLatin1, ""},
      {47, Charset::kLatin1, ""},
      {48, Charset::kLatin1, ""},
      {49, Charset::kLatin1, ""},
      {94, Charset::kLatin1, ""},
      // ascii
      {11, Charset::kAscii, ""},
      {65, Charset::kAscii, ""},
      // utf8mb3: MySQL and MariaDB, MySQL 8's utf8mb3_tolower_ci, MariaDB's extras
      {33, Charset::kUtf8, ""},
      {83, Charset::kUtf8, ""},
      {192, Charset::kUtf8, ""},
      {215, Charset::kUtf8, ""},
      {223, Charset::kUtf8, ""},
      {76, Charset::kUtf8, ""},
      {576, Charset::kUtf8, ""},
      {578, Charset::kUtf8, ""},
      // utf8mb4: 5.7 ids, MySQL 8's 0900 range, MariaDB's extras
      {45, Charset::kUtf8, ""},
      {46, Charset::kUtf8, ""},
      {224, Charset::kUtf8, ""},
      {247, Charset::kUtf8, ""},
      {255, Charset::kUtf8, ""},
      {309, Charset::kUtf8, ""},
      {323, Charset::kUtf8, ""},
      {608, Charset::kUtf8, ""},
      // MariaDB NO PAD (1024 + base id) and UCA 14.0 (2048 + 256 * slot + n)
      {1057, Charset::kUtf8, ""},
      {1069, Charset::kUtf8, ""},
      {1101, Charset::kOther, "ISO-8859-2"},
      {1071, Charset::kLatin1, ""},
      {1063, Charset::kOther, "MACINTOSH"},
      {2048, Charset::kUtf8, ""},
      {2304, Charset::kUtf8, ""},
      {2503, Charset::kUtf8, ""},
      {2560, Charset::kOther, "UCS-2BE"},
      {2816, Charset::kOther, "UTF-16BE"},
      {3072, Charset::kOther, "UTF-32BE"},
      // iconv charsets
      {28, Charset::kOther, "GBK"},
      {87, Charset::kOther, "GBK"},
      {24, Charset::kOther, "GB2312"},
      {86, Charset::kOther, "GB2312"},
      {1, Charset::kOther, "BIG5"},
      {84, Charset::kOther, "BIG5"},
      {13, Charset::kOther, "SJIS"},
      {88, Charset::kOther, "SJIS"},
      {95, Charset::kOther, "CP932"},
      {19, Charset::kOther, "EUC-KR"},
      {85, Charset::kOther, "EUC-KR"},
      {12, Charset::kOther, "EUC-JP"},
      {26, Charset::kOther, "CP1250"},
      {14, Charset::kOther, "CP1251"},
      {51, Charset::kOther, "CP1251"},
      {57, Charset::kOther, "CP1256"},
      {59, Charset::kOther, "CP1257"},
      {9, Charset::kOther, "ISO-8859-2"},
      {30, Charset::kOther, "ISO-8859-9"},
      {25, Charset::kOther, "ISO-8859-7"},
      {35, Charset::kOther, "UCS-2BE"},
      {54, Charset::kOther, "UTF-16BE"},
      {56, Charset::kOther, "UTF-16LE"},
      {60, Charset::kOther, "UTF-32BE"},
      {101, Charset::kOther, "UTF-16BE"},
      {160, Charset::kOther, "UTF-32BE"},
      {248, Charset::kOther, "GB18030"},
      {7, Charset::kOther, "KOI8-R"},
  };
  for (const IdCase& c : cases) {
    std::string name = "stale";
    EXPECT_EQ(CharsetFromCollationId(c.id, &name), c.charset) << "collation " << c.id;
    EXPECT_EQ(name, c.iconv_name) << "collation " << c.id;
  }
  EXPECT_EQ(CharsetFromCollationId(45), Charset::kUtf8);  // name pointer optional
}

TEST(CharsetTest, UnknownCollationIds) {
  for (uint32_t id : {0u, 17u, 100u, 125u, 251u, 254u, 324u, 575u, 999u, 1024u + 17u, 3328u, 70000u}) {
    std::string name = "stale";
    EXPECT_EQ(CharsetFromCollationId(id, &name), Charset::kUnknown) << id;
    EXPECT_EQ(name, "") << id;
  }
}

// Every iconv name the table hands out must open in glibc, except KEYBCS2
// which glibc lacks (and which then reports NotSupported when converting).
TEST(CharsetTest, EveryIconvNameOpens) {
  for (uint32_t id = 1; id < 3400; ++id) {
    std::string name;
    if (CharsetFromCollationId(id, &name) != Charset::kOther || name == "KEYBCS2") continue;
    iconv_t cd = iconv_open("UTF-8", name.c_str());
    EXPECT_NE(cd, reinterpret_cast<iconv_t>(-1)) << "collation " << id << " -> " << name;
    if (cd != reinterpret_cast<iconv_t>(-1)) iconv_close(cd);
  }
}

TEST(CharsetTest, Names) {
  std::string iconv_name = "stale";
  EXPECT_EQ(CharsetFromName("utf8mb4", &iconv_name), Charset::kUtf8);
  EXPECT_EQ(iconv_name, "");
  EXPECT_EQ(CharsetFromName("utf8mb3"), Charset::kUtf8);
  EXPECT_EQ(CharsetFromName("utf8"), Charset::kUtf8);
  EXPECT_EQ(CharsetFromName("UTF8MB4"), Charset::kUtf8);
  EXPECT_EQ(CharsetFromName("latin1"), Charset::kLatin1);
  EXPECT_EQ(CharsetFromName("binary"), Charset::kBinary);
  EXPECT_EQ(CharsetFromName("ascii"), Charset::kAscii);
  EXPECT_EQ(CharsetFromName("gbk", &iconv_name), Charset::kOther);
  EXPECT_EQ(iconv_name, "GBK");
  EXPECT_EQ(CharsetFromName("utf16le", &iconv_name), Charset::kOther);
  EXPECT_EQ(iconv_name, "UTF-16LE");
  EXPECT_EQ(CharsetFromName("latin2", &iconv_name), Charset::kOther);
  EXPECT_EQ(iconv_name, "ISO-8859-2");
  EXPECT_EQ(CharsetFromName("cp1251", &iconv_name), Charset::kOther);
  EXPECT_EQ(iconv_name, "CP1251");
  EXPECT_EQ(CharsetFromName("someday-charset", &iconv_name), Charset::kOther);
  EXPECT_EQ(iconv_name, "SOMEDAY-CHARSET");
  EXPECT_EQ(IconvNameForCharset("sjis"), "SJIS");
  EXPECT_EQ(IconvNameForCharset("utf8mb4"), "");
  EXPECT_EQ(IconvNameForCharset("nope"), "");
}

TEST(CharsetTest, Latin1HighBytes) {
  Arena arena;
  EXPECT_EQ(Latin1ToUtf8("\xE9", arena), "é");
  EXPECT_EQ(Latin1ToUtf8("\x80", arena), "€");
  EXPECT_EQ(Latin1ToUtf8("\x9F\xFF\xA0", arena), "Ÿÿ\u00A0");
  // The five bytes cp1252 leaves undefined map to the C1 controls, as in MySQL.
  EXPECT_EQ(Latin1ToUtf8("\x81\x8D\x8F\x90\x9D", arena), "\u0081\u008D\u008F\u0090\u009D");
  EXPECT_EQ(Latin1ToUtf8("long ascii prefix then caf\xE9", arena), "long ascii prefix then café");
}

TEST(CharsetTest, Latin1AsciiIsAView) {
  Arena arena;
  const std::string s = "plain ascii text, longer than eight bytes";
  EXPECT_EQ(Latin1ToUtf8(s, arena).data(), s.data());
  EXPECT_EQ(Latin1ToUtf8("", arena), "");
}

// The whole table against glibc's CP1252, plus MySQL's five extra bytes.
TEST(CharsetTest, Latin1MatchesCp1252) {
  Arena arena;
  iconv_t cd = iconv_open("UTF-8", "CP1252");
  ASSERT_NE(cd, reinterpret_cast<iconv_t>(-1));
  for (int b = 1; b < 256; ++b) {
    char in[1] = {static_cast<char>(b)};
    char out[8];
    char* ip = in;
    char* op = out;
    size_t il = 1, ol = sizeof out;
    std::string want;
    if (iconv(cd, &ip, &il, &op, &ol) == static_cast<size_t>(-1)) {
      // Undefined in cp1252: MySQL maps it to U+00XX.
      want = std::string{static_cast<char>(0xC2), static_cast<char>(b)};
    } else {
      want.assign(out, static_cast<size_t>(op - out));
    }
    EXPECT_EQ(Latin1ToUtf8(std::string_view(in, 1), arena), want) << "byte " << b;
  }
  iconv_close(cd);
}

TEST(CharsetTest, IconvConversion) {
  Arena arena;
  std::string_view out;
  ASSERT_TRUE(IconvToUtf8("\xD6\xD0\xCE\xC4", "GBK", arena, out).ok());
  EXPECT_EQ(out, "中文");
  ASSERT_TRUE(IconvToUtf8(std::string_view("\xD8\x3D\xDE\x00", 4), "UTF-16BE", arena, out).ok());
  EXPECT_EQ(out, "😀");
  ASSERT_TRUE(IconvToUtf8("\xCF\xF0\xE8\xE2\xE5\xF2", "CP1251", arena, out).ok());
  EXPECT_EQ(out, "Привет");
  ASSERT_TRUE(IconvToUtf8("", "GBK", arena, out).ok());
  EXPECT_EQ(out, "");
  // A long value grows the scratch buffer; converting twice reuses the cached converter.
  std::string big;
  for (int i = 0; i < 5000; ++i) big += "\xD6\xD0";
  ASSERT_TRUE(IconvToUtf8(big, "GBK", arena, out).ok());
  EXPECT_EQ(out.size(), 5000u * 3);
}

TEST(CharsetTest, IconvInvalidBytesBecomeReplacementCharacters) {
  Arena arena;
  std::string_view out;
  // 0xFF is not a GBK lead byte; a trailing lone lead byte is incomplete.
  ASSERT_TRUE(IconvToUtf8("a\xFF"
                          "b\xD6",
                          "GBK", arena, out)
                  .ok());
  EXPECT_EQ(out, "a\uFFFDb\uFFFD");
}

TEST(CharsetTest, IconvUnknownCharsetIsNotSupported) {
  Arena arena;
  std::string_view out;
  EXPECT_EQ(IconvToUtf8("x", "KEYBCS2", arena, out).code(), StatusCode::kNotSupported);
  EXPECT_EQ(IconvToUtf8("x", "", arena, out).code(), StatusCode::kNotSupported);
}

TEST(CharsetTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii that is longer than 8 bytes"));
  EXPECT_TRUE(IsValidUtf8("é漢😀"));
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));       // U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE9"));                  // latin1 é
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));          // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));      // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE6\xBC"));              // truncated
  EXPECT_FALSE(IsValidUtf8("abcdefgh\x80"));          // stray continuation after an ASCII block
  EXPECT_FALSE(IsValidUtf8("\xF8\x88\x80\x80\x80"));  // 5-byte form
}

}  // namespace
}  // namespace sluice::mysql
