// MySQL binary JSON and partial JSON updates. Documents are built by a small
// encoder written from the format in MySQL's json_binary.h, anchored by
// hand-assembled byte fixtures; expected texts are written by hand.

#include "source/mysql/column/json_binary.h"

#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "source/mysql/column/column_decoder.h"
#include "source/mysql/column/hex_bytes.h"
#include "client/mysql/column_types.h"

namespace sluice::mysql {
namespace {

using testing::Hex;

std::string LE(uint64_t v, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// ---- a binary JSON encoder, from the documented format ----------------------

struct J {
  uint8_t type;
  std::string bytes;  // the value after its type byte
};

J Lit(uint8_t v) { return {0x04, std::string(1, static_cast<char>(v))}; }
J Null() { return Lit(0); }
J True() { return Lit(1); }
J False() { return Lit(2); }
J I16(int16_t v) { return {0x05, LE(static_cast<uint16_t>(v), 2)}; }
J U16(uint16_t v) { return {0x06, LE(v, 2)}; }
J I32(int32_t v) { return {0x07, LE(static_cast<uint32_t>(v), 4)}; }
J U32(uint32_t v) { return {0x08, LE(v, 4)}; }
J I64(int64_t v) { return {0x09, LE(static_cast<uint64_t>(v), 8)}; }
J U64(uint64_t v) { return {0x0a, LE(v, 8)}; }
J Dbl(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return {0x0b, LE(bits, 8)};
}
std::string VarLen(size_t n) {
  std::string out;
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    if (n) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n);
  return out;
}
J Str(const std::string& s) { return {0x0c, VarLen(s.size()) + s}; }
J Opaque(uint8_t field_type, const std::string& data) {
  return {0x0f, std::string(1, static_cast<char>(field_type)) + VarLen(data.size()) + data};
}

bool Inlinable(uint8_t type, bool large) {
  return type == 0x04 || type == 0x05 || type == 0x06 || (large && (type == 0x07 || type == 0x08));
}

J Container(bool object, bool large, const std::vector<std::string>& keys, const std::vector<J>& values) {
  const int osz = large ? 4 : 2;
  const size_t n = values.size();
  const size_t header = 2 * osz + (object ? n * (osz + 2) : 0) + n * (1 + osz);
  std::string key_entries, value_entries, body;
  for (const std::string& k : keys) {
    key_entries += LE(header + body.size(), osz) + LE(k.size(), 2);
    body += k;
  }
  for (const J& v : values) {
    value_entries.push_back(static_cast<char>(v.type));
    if (Inlinable(v.type, large)) {
      std::string inl = v.bytes;
      inl.resize(osz, '\0');
      value_entries += inl;
    } else {
      value_entries += LE(header + body.size(), osz);
      body += v.bytes;
    }
  }
  const size_t total = header + body.size();
  const uint8_t type = object ? (large ? 0x01 : 0x00) : (large ? 0x03 : 0x02);
  return {type, LE(n, osz) + LE(total, osz) + key_entries + value_entries + body};
}

J Arr(const std::vector<J>& values, bool large = false) { return Container(false, large, {}, values); }
J Obj(const std::vector<std::pair<std::string, J>>& members, bool large = false) {
  std::vector<std::string> keys;
  std::vector<J> values;
  for (const auto& [k, v] : members) {
    keys.push_back(k);
    values.push_back(v);
  }
  return Container(true, large, keys, values);
}

std::string Doc(const J& j) { return std::string(1, static_cast<char>(j.type)) + j.bytes; }

std::string Render(const std::string& doc) {
  std::string out;
  Status st = DecodeJsonBinary(doc, out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

StatusCode RenderError(const std::string& doc) {
  std::string out;
  return DecodeJsonBinary(doc, out).code();
}

// MySQL's packed DATETIME / TIME (my_time.h), as opaque temporals hold them.
int64_t PackedDateTime(uint32_t y, uint32_t mo, uint32_t d, uint32_t h, uint32_t mi, uint32_t s, uint32_t us) {
  return static_cast<int64_t>(((static_cast<uint64_t>(y * 13 + mo) << 5 | d) << 17 | h << 12 | mi << 6 | s) << 24 | us);
}
int64_t PackedTime(bool negative, uint32_t h, uint32_t mi, uint32_t s, uint32_t us) {
  const int64_t v = (static_cast<int64_t>(h << 12 | mi << 6 | s) << 24) + us;
  return negative ? -v : v;
}

// ---- fixtures -----------------------------------------------------------------

TEST(JsonBinaryTest, HandAssembledFixtures) {
  // {"a":1}: type, count 1, size 12, key entry (offset 11, length 1),
  // value entry (int16 inlined: 1), key "a".
  const std::string obj = Hex("00  01 00  0C 00  0B 00 01 00  05 01 00  61");
  EXPECT_EQ(Render(obj), R"({"a":1})");
  EXPECT_EQ(Doc(Obj({{"a", I16(1)}})), obj);
  // [1,"x"]: count 2, size 12, int16 inlined, string at offset 10.
  const std::string arr = Hex("02  02 00  0C 00  05 01 00  0C 0A 00  01 78");
  EXPECT_EQ(Render(arr), R"([1,"x"])");
  EXPECT_EQ(Doc(Arr({I16(1), Str("x")})), arr);
  // Top-level scalars.
  EXPECT_EQ(Render(Hex("04 00")), "null");
  EXPECT_EQ(Render(Hex("04 01")), "true");
  EXPECT_EQ(Render(Hex("04 02")), "false");
  EXPECT_EQ(Render(Hex("05 FE FF")), "-2");
  EXPECT_EQ(Render(Hex("0C 03 61 62 63")), R"("abc")");
}

TEST(JsonBinaryTest, EmptyDocumentIsNull) { EXPECT_EQ(Render(""), "null"); }

TEST(JsonBinaryTest, Scalars) {
  EXPECT_EQ(Render(Doc(I16(-32768))), "-32768");
  EXPECT_EQ(Render(Doc(U16(65535))), "65535");
  EXPECT_EQ(Render(Doc(I32(-2147483647 - 1))), "-2147483648");
  EXPECT_EQ(Render(Doc(U32(4294967295u))), "4294967295");
  EXPECT_EQ(Render(Doc(I64(INT64_MIN))), "-9223372036854775808");
  EXPECT_EQ(Render(Doc(I64(INT64_MAX))), "9223372036854775807");
  EXPECT_EQ(Render(Doc(U64(UINT64_MAX))), "18446744073709551615");
  EXPECT_EQ(Render(Doc(Dbl(3.14))), "3.14");
  EXPECT_EQ(Render(Doc(Dbl(-0.5))), "-0.5");
  EXPECT_EQ(Render(Doc(Dbl(0.1))), "0.1");
  EXPECT_EQ(Render(Doc(Dbl(1e300))), "1e+300");
  EXPECT_EQ(Render(Doc(Dbl(123456789.125))), "123456789.125");
  EXPECT_EQ(Render(Doc(Dbl(2.5e-8))), "2.5e-08");
}

TEST(JsonBinaryTest, StringsAreEscapedAndUnicodePassesThrough) {
  EXPECT_EQ(Render(Doc(Str(""))), R"("")");
  EXPECT_EQ(Render(Doc(Str("a\"b\\c/d"))), R"("a\"b\\c/d")");
  EXPECT_EQ(Render(Doc(Str("\n\r\t\b\f"))), R"("\n\r\t\b\f")");
  EXPECT_EQ(Render(Doc(Str(std::string("\x01\x1f\x00", 3)))), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(Render(Doc(Str("héllo 漢字 😀"))), "\"héllo 漢字 😀\"");
  EXPECT_EQ(Render(Doc(Obj({{"ké\"y", Str("v")}}))), R"({"ké\"y":"v"})");
}

TEST(JsonBinaryTest, LongStringsUseMultiByteLengths) {
  const std::string s200(200, 'x');      // 2-byte length
  const std::string s20000(20000, 'y');  // 3-byte length
  EXPECT_EQ(VarLen(200), Hex("C8 01"));
  EXPECT_EQ(VarLen(20000), Hex("A0 9C 01"));
  EXPECT_EQ(Render(Doc(Str(s200))), "\"" + s200 + "\"");
  EXPECT_EQ(Render(Doc(Str(s20000))), "\"" + s20000 + "\"");
}

TEST(JsonBinaryTest, ObjectsAndArrays) {
  EXPECT_EQ(Render(Doc(Obj({}))), "{}");
  EXPECT_EQ(Render(Doc(Arr({}))), "[]");
  EXPECT_EQ(Render(Doc(Obj({{"a", I16(1)}, {"b", Arr({I16(1), I16(2)})}}))), R"({"a":1,"b":[1,2]})");
  const J nested = Obj({{"a", Obj({{"b", Arr({I16(1), Str("two"), Obj({{"c", Null()}}), Arr({})})}})},
                        {"id", U64(18446744073709551615ull)},
                        {"ok", True()},
                        {"pi", Dbl(3.5)}});
  EXPECT_EQ(Render(Doc(nested)), R"({"a":{"b":[1,"two",{"c":null},[]]},"id":18446744073709551615,"ok":true,"pi":3.5})");
  EXPECT_EQ(Render(Doc(Arr({Null(), True(), False(), I16(-1), U16(7), I32(-70000), U32(70000), I64(-1), Dbl(0.25)}))),
            "[null,true,false,-1,7,-70000,70000,-1,0.25]");
}

TEST(JsonBinaryTest, LargeFormat) {
  // int32/uint32 are inlined only in large containers.
  const J small = Arr({I32(-70000), U32(4000000000u), I16(-5)});
  const J large = Arr({I32(-70000), U32(4000000000u), I16(-5)}, true);
  EXPECT_NE(small.bytes.size(), large.bytes.size());
  EXPECT_EQ(Render(Doc(small)), "[-70000,4000000000,-5]");
  EXPECT_EQ(Render(Doc(large)), "[-70000,4000000000,-5]");
  EXPECT_EQ(Render(Doc(Obj({{"k", Obj({{"x", False()}}, true)}}, true))), R"({"k":{"x":false}})");
  // A document over 64 KiB, as MySQL would store it: large outer containers.
  std::vector<J> items;
  std::string want = "[";
  for (int i = 0; i < 700; ++i) {
    items.push_back(Obj({{"n", I32(i * 1000)}, {"s", Str(std::string(100, static_cast<char>('a' + i % 26)))}}));
    want += (i ? "," : "") + std::string(R"({"n":)") + std::to_string(i * 1000) + R"(,"s":")" +
            std::string(100, static_cast<char>('a' + i % 26)) + "\"}";
  }
  want += "]";
  const J big = Arr(items, true);
  ASSERT_GT(big.bytes.size(), 65535u);
  EXPECT_EQ(Render(Doc(big)), want);
}

TEST(JsonBinaryTest, OpaqueDecimalRendersAsNumber) {
  // precision 5, scale 2, then DECIMAL(5,2) binary.
  EXPECT_EQ(Render(Doc(Opaque(kTypeNewDecimal, Hex("05 02 80 01 32")))), "1.50");
  EXPECT_EQ(Render(Doc(Opaque(kTypeNewDecimal, Hex("05 02 7F FE CD")))), "-1.50");
  EXPECT_EQ(Render(Doc(Opaque(kTypeNewDecimal, Hex("0E 04 81 0D FB 38 D2 04 D2")))), "1234567890.1234");
  EXPECT_EQ(Render(Doc(Obj({{"price", Opaque(kTypeNewDecimal, Hex("0A 02 7F FF FF FF FE"))}}))), R"({"price":-0.01})");
}

TEST(JsonBinaryTest, OpaqueTemporalsRenderAsStrings) {
  const int64_t dt = PackedDateTime(2015, 1, 15, 23, 24, 25, 0);
  EXPECT_EQ(Render(Doc(Opaque(kTypeDateTime, LE(static_cast<uint64_t>(dt), 8)))), R"("2015-01-15 23:24:25.000000")");
  EXPECT_EQ(Render(Doc(
                Opaque(kTypeTimestamp, LE(static_cast<uint64_t>(PackedDateTime(2015, 1, 15, 23, 24, 25, 120000)), 8)))),
            R"("2015-01-15 23:24:25.120000")");
  EXPECT_EQ(Render(Doc(Opaque(kTypeDate, LE(static_cast<uint64_t>(PackedDateTime(2015, 1, 15, 0, 0, 0, 0)), 8)))),
            R"("2015-01-15")");
  EXPECT_EQ(Render(Doc(Opaque(kTypeTime, LE(static_cast<uint64_t>(PackedTime(false, 23, 24, 25, 0)), 8)))),
            R"("23:24:25.000000")");
  EXPECT_EQ(Render(Doc(Opaque(kTypeTime, LE(static_cast<uint64_t>(PackedTime(true, 838, 59, 59, 0)), 8)))),
            R"("-838:59:59.000000")");
  EXPECT_EQ(Render(Doc(Arr({Opaque(kTypeTime, LE(static_cast<uint64_t>(PackedTime(true, 0, 0, 1, 500000)), 8))}))),
            R"(["-00:00:01.500000"])");
}

TEST(JsonBinaryTest, OtherOpaqueValuesAsBase64) {
  EXPECT_EQ(Render(Doc(Opaque(kTypeVarchar, "ab"))), R"("base64:type15:YWI=")");
  EXPECT_EQ(Render(Doc(Opaque(kTypeBlob, "abc"))), R"("base64:type252:YWJj")");
  EXPECT_EQ(Render(Doc(Opaque(kTypeBit, "a"))), R"("base64:type16:YQ==")");
  EXPECT_EQ(Render(Doc(Opaque(kTypeBlob, ""))), R"("base64:type252:")");
}

// ---- corruption ----------------------------------------------------------------

TEST(JsonBinaryTest, EveryTruncationOfADocumentIsCorruption) {
  const J doc = Obj({{"a", Arr({I16(1), Str("two"), Dbl(3.0), I64(4)})},
                     {"bb", Opaque(kTypeNewDecimal, Hex("05 02 80 01 32"))},
                     {"ccc", Obj({{"d", U32(70000)}})}});
  const std::string bytes = Doc(doc);
  ASSERT_EQ(Render(bytes), R"({"a":[1,"two",3,4],"bb":1.50,"ccc":{"d":70000}})");
  for (size_t n = 1; n < bytes.size(); ++n) {
    std::string out;
    EXPECT_EQ(DecodeJsonBinary(bytes.substr(0, n), out).code(), StatusCode::kCorruption) << n << " bytes";
  }
}

TEST(JsonBinaryTest, MalformedStructuresAreCorruption) {
  EXPECT_EQ(RenderError(Hex("0D 00")), StatusCode::kCorruption);                       // unknown type
  EXPECT_EQ(RenderError(Hex("04 03")), StatusCode::kCorruption);                       // unknown literal
  EXPECT_EQ(RenderError(Hex("04")), StatusCode::kCorruption);                          // literal missing
  EXPECT_EQ(RenderError(Hex("0C 05 61 62")), StatusCode::kCorruption);                 // string longer than the doc
  EXPECT_EQ(RenderError(Hex("0C FF FF FF FF FF 01")), StatusCode::kCorruption);        // 6-byte length
  EXPECT_EQ(RenderError(Hex("0B 00 00 00 00 00 00 F0 7F")), StatusCode::kCorruption);  // +inf
  // Object claiming more bytes than present.
  EXPECT_EQ(RenderError(Hex("00 01 00 FF 00 0B 00 01 00 05 01 00 61")), StatusCode::kCorruption);
  // Object whose header cannot fit its count.
  EXPECT_EQ(RenderError(Hex("00 09 00 0C 00 0B 00 01 00 05 01 00 61")), StatusCode::kCorruption);
  // Key beyond the object.
  EXPECT_EQ(RenderError(Hex("00 01 00 0C 00 0B 00 05 00 05 01 00 61")), StatusCode::kCorruption);
  // Value offset beyond the array.
  EXPECT_EQ(RenderError(Hex("02 01 00 07 00 0C 40 00")), StatusCode::kCorruption);
  // Opaque decimal with a bad size, temporal that is not 8 bytes.
  EXPECT_EQ(RenderError(Doc(Opaque(kTypeNewDecimal, Hex("05 02 80")))), StatusCode::kCorruption);
  EXPECT_EQ(RenderError(Doc(Opaque(kTypeNewDecimal, Hex("05")))), StatusCode::kCorruption);
  EXPECT_EQ(RenderError(Doc(Opaque(kTypeDateTime, Hex("00 00 00")))), StatusCode::kCorruption);
}

TEST(JsonBinaryTest, DeepNestingIsRejectedNotOverflowed) {
  J j = I16(1);
  for (int i = 0; i < 100; ++i) j = Arr({j});
  std::string want = std::string(100, '[') + "1" + std::string(100, ']');
  EXPECT_EQ(Render(Doc(j)), want);
  for (int i = 0; i < 100; ++i) j = Arr({j});
  EXPECT_EQ(RenderError(Doc(j)), StatusCode::kCorruption);
}

// Entries that share one offset turn a small document into an exponential
// amount of text; MySQL never writes them, so they are rejected early.
TEST(JsonBinaryTest, SharedOffsetsDoNotExplode) {
  // C_i: a small array of two entries that both point at C_{i+1}, stored
  // right after C_i's 10-byte header; C_40 is empty. 2^40 leaves if followed.
  std::string c = LE(0, 2) + LE(4, 2);  // empty array
  for (int i = 0; i < 40; ++i) {
    const size_t size = 10 + c.size();
    c = LE(2, 2) + LE(size, 2) + Hex("02 0A 00 02 0A 00") + c;
  }
  EXPECT_EQ(RenderError("\x02" + c), StatusCode::kCorruption);
  // Two levels of sharing are still a valid rendering.
  std::string small = LE(0, 2) + LE(4, 2);
  small = LE(2, 2) + LE(10 + small.size(), 2) + Hex("02 0A 00 02 0A 00") + small;
  EXPECT_EQ(Render("\x02" + small), "[[],[]]");
}

// ---- the JSON column ------------------------------------------------------------

ColumnMeta JsonColumn() {
  ColumnMeta c;
  c.type = kTypeJson;
  c.meta = 4;
  return c;
}

TEST(JsonBinaryTest, JsonColumn) {
  Arena arena;
  const std::string doc = Doc(Obj({{"a", I16(1)}, {"b", Arr({I16(1), I16(2)})}}));
  const std::string bytes = LE(doc.size(), 4) + doc + "next";
  ByteReader r(bytes);
  Value v;
  ASSERT_TRUE(DecodeColumn(r, JsonColumn(), arena, v).ok());
  EXPECT_EQ(v.kind, ValueKind::kJson);
  EXPECT_EQ(v.s, R"({"a":1,"b":[1,2]})");
  EXPECT_EQ(r.remaining(), 4u);

  const std::string empty = LE(0, 4);
  ByteReader r2(empty);
  ASSERT_TRUE(DecodeColumn(r2, JsonColumn(), arena, v).ok());
  EXPECT_EQ(v.kind, ValueKind::kJson);
  EXPECT_EQ(v.s, "null");
}

TEST(JsonBinaryTest, JsonColumnTruncatedOrCorrupt) {
  Arena arena;
  Value v;
  const std::string doc = Doc(Arr({I16(1)}));
  const std::string bytes = LE(doc.size(), 4) + doc;
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string cut = bytes.substr(0, n);
    ByteReader r(cut);
    EXPECT_EQ(DecodeColumn(r, JsonColumn(), arena, v).code(), StatusCode::kCorruption) << n;
    EXPECT_FALSE(r.ok());
  }
  const std::string bad = LE(2, 4) + Hex("04 09");
  ByteReader r(bad);
  EXPECT_EQ(DecodeColumn(r, JsonColumn(), arena, v).code(), StatusCode::kCorruption);
  EXPECT_FALSE(r.ok());
}

// ---- partial updates ------------------------------------------------------------

std::string LenEnc(size_t n) {
  if (n < 251) return std::string(1, static_cast<char>(n));
  if (n < 65536) return "\xfc" + LE(n, 2);
  return "\xfd" + LE(n, 3);
}

enum Op : uint8_t { kReplace = 0, kInsert = 1, kRemove = 2 };

std::string DiffOf(Op op, const std::string& path, const std::optional<J>& value = std::nullopt) {
  std::string out(1, static_cast<char>(op));
  out += LenEnc(path.size()) + path;
  if (value) {
    const std::string doc = Doc(*value);
    out += LenEnc(doc.size()) + doc;
  }
  return out;
}

std::string Apply(const std::string& diffs, const std::string& before) {
  std::string out;
  Status st = ApplyJsonDiffs(diffs, before, out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

Status ApplyError(const std::string& diffs, const std::string& before) {
  std::string out;
  return ApplyJsonDiffs(diffs, before, out);
}

const std::string kBefore = R"({"a":1,"b":[1,2]})";

TEST(JsonBinaryDiffTest, DiffWireFormat) {
  // REPLACE "$.a" with int16 2: op, path length 3, "$.a", value length 3, 05 02 00.
  EXPECT_EQ(DiffOf(kReplace, "$.a", I16(2)), Hex("00 03 24 2E 61 03 05 02 00"));
  EXPECT_EQ(Apply(Hex("00 03 24 2E 61 03 05 02 00"), kBefore), R"({"a":2,"b":[1,2]})");
  // REMOVE "$.b[0]": no value.
  EXPECT_EQ(DiffOf(kRemove, "$.b[0]"), Hex("02 06 24 2E 62 5B 30 5D"));
}

TEST(JsonBinaryDiffTest, Replace) {
  EXPECT_EQ(Apply(DiffOf(kReplace, "$.a", Str("x")), kBefore), R"({"a":"x","b":[1,2]})");
  EXPECT_EQ(Apply(DiffOf(kReplace, "$.b[1]", Obj({{"k", Null()}})), kBefore), R"({"a":1,"b":[1,{"k":null}]})");
  EXPECT_EQ(Apply(DiffOf(kReplace, "$.b[last]", True()), kBefore), R"({"a":1,"b":[1,true]})");
  EXPECT_EQ(Apply(DiffOf(kReplace, "$.b[last-1]", False()), kBefore), R"({"a":1,"b":[false,2]})");
}

TEST(JsonBinaryDiffTest, Insert) {
  EXPECT_EQ(Apply(DiffOf(kInsert, "$.c", True()), kBefore), R"({"a":1,"b":[1,2],"c":true})");
  // MySQL orders keys by length first: "aa" comes after "b".
  EXPECT_EQ(Apply(DiffOf(kInsert, "$.aa", I16(3)), kBefore), R"({"a":1,"b":[1,2],"aa":3})");
  EXPECT_EQ(Apply(DiffOf(kInsert, "$.b[0]", I16(0)), kBefore), R"({"a":1,"b":[0,1,2]})");
  EXPECT_EQ(Apply(DiffOf(kInsert, "$.b[1]", I16(9)), kBefore), R"({"a":1,"b":[1,9,2]})");
  EXPECT_EQ(Apply(DiffOf(kInsert, "$.b[99]", I16(3)), kBefore), R"({"a":1,"b":[1,2,3]})");  // past the end appends
  EXPECT_EQ(Apply(DiffOf(kInsert, "$.b[last]", I16(7)), kBefore), R"({"a":1,"b":[1,7,2]})");
}

TEST(JsonBinaryDiffTest, Remove) {
  EXPECT_EQ(Apply(DiffOf(kRemove, "$.a"), kBefore), R"({"b":[1,2]})");
  EXPECT_EQ(Apply(DiffOf(kRemove, "$.b[0]"), kBefore), R"({"a":1,"b":[2]})");
  EXPECT_EQ(Apply(DiffOf(kRemove, "$.b[last]"), kBefore), R"({"a":1,"b":[1]})");
}

TEST(JsonBinaryDiffTest, QuotedMemberNames) {
  const std::string before = R"({"k y":1,"a\"b":{"x.y":[10,20]}})";
  EXPECT_EQ(Apply(DiffOf(kReplace, R"($."k y")", I16(2)), before), R"({"a\"b":{"x.y":[10,20]},"k y":2})");
  EXPECT_EQ(Apply(DiffOf(kRemove, R"($."a\"b"."x.y"[1])"), before), R"({"a\"b":{"x.y":[10]},"k y":1})");
  EXPECT_EQ(Apply(DiffOf(kInsert, R"($."é")", Str("ü")), R"({})"), R"({"é":"ü"})");
}

TEST(JsonBinaryDiffTest, SeveralDiffsInOrder) {
  const std::string diffs = DiffOf(kReplace, "$.a", I16(5)) + DiffOf(kInsert, "$.b[2]", Str("three")) +
                            DiffOf(kRemove, "$.b[0]") + DiffOf(kInsert, "$.new", Arr({Null()}));
  EXPECT_EQ(Apply(diffs, kBefore), R"({"a":5,"b":[2,"three"],"new":[null]})");
}

TEST(JsonBinaryDiffTest, UntouchedValuesKeepTheirText) {
  // A DECIMAL inside a document keeps its scale; other numbers their form.
  const std::string before = R"({"p":1.50,"q":1,"r":-0.0,"s":1e+300,"t":18446744073709551615})";
  EXPECT_EQ(Apply(DiffOf(kReplace, "$.q", Opaque(kTypeNewDecimal, Hex("05 02 80 02 05"))), before),
            R"({"p":1.50,"q":2.05,"r":-0.0,"s":1e+300,"t":18446744073709551615})");
}

TEST(JsonBinaryDiffTest, EmptyDiffListReserializesBefore) {
  EXPECT_EQ(Apply("", R"({ "b" : [1, 2], "a" : "x" })"), R"({"a":"x","b":[1,2]})");
}

TEST(JsonBinaryDiffTest, DiffsThatDoNotFitAreCorruption) {
  EXPECT_EQ(ApplyError(DiffOf(kReplace, "$.zz", I16(1)), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kReplace, "$.b[2]", I16(1)), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kReplace, "$", I16(1)), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kInsert, "$.a", I16(1)), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kInsert, "$.x.y", I16(1)), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kInsert, "$.a[0]", I16(1)), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kRemove, "$.b[5]"), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kRemove, "$.nope"), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kRemove, "$[0]"), kBefore).code(), StatusCode::kCorruption);
  const Status st = ApplyError(DiffOf(kReplace, "$.a", I16(1)) + DiffOf(kInsert, "$.a", I16(1)), kBefore);
  EXPECT_EQ(st.message(), "JSON diff 2 (INSERT $.a) does not apply to the before image: the member already exists");
}

TEST(JsonBinaryDiffTest, MalformedDiffsAreCorruption) {
  EXPECT_EQ(ApplyError(Hex("03 01 24"), kBefore).code(), StatusCode::kCorruption);                 // unknown operation
  EXPECT_EQ(ApplyError(Hex("02 05 24 2E"), kBefore).code(), StatusCode::kCorruption);              // path cut short
  EXPECT_EQ(ApplyError(Hex("00 03 24 2E 61"), kBefore).code(), StatusCode::kCorruption);           // value missing
  EXPECT_EQ(ApplyError(Hex("00 03 24 2E 61 05 05 02"), kBefore).code(), StatusCode::kCorruption);  // value cut
  EXPECT_EQ(ApplyError(Hex("00 03 24 2E 61 02 04 07"), kBefore).code(), StatusCode::kCorruption);  // bad value
  EXPECT_EQ(ApplyError(DiffOf(kRemove, "a.b"), kBefore).code(), StatusCode::kCorruption);          // no '$'
  EXPECT_EQ(ApplyError(DiffOf(kRemove, "$.b[x]"), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kRemove, "$.b[0"), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kRemove, "$.\"unterminated"), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError(DiffOf(kRemove, "$.*"), kBefore).code(), StatusCode::kCorruption);
  EXPECT_EQ(ApplyError("", "{not json").code(), StatusCode::kCorruption);
  // Every truncation of a valid diff list fails cleanly.
  const std::string diffs = DiffOf(kReplace, "$.a", Str("long enough")) + DiffOf(kRemove, "$.b[0]");
  for (size_t n = 1; n < diffs.size(); ++n) {
    if (n == diffs.size() - DiffOf(kRemove, "$.b[0]").size()) continue;  // a whole first diff
    EXPECT_EQ(ApplyError(diffs.substr(0, n), kBefore).code(), StatusCode::kCorruption) << n;
  }
}

TEST(JsonBinaryDiffTest, PartialColumnValue) {
  Arena arena;
  ColumnMeta col = JsonColumn();
  const std::string diffs = DiffOf(kReplace, "$.a", I16(2));
  const std::string bytes = LE(diffs.size(), 4) + diffs + "next";
  ByteReader r(bytes);
  Value v;
  ASSERT_TRUE(DecodeJsonPartialColumn(r, col, kBefore, arena, v).ok());
  EXPECT_EQ(v.kind, ValueKind::kJson);
  EXPECT_EQ(v.s, R"({"a":2,"b":[1,2]})");
  EXPECT_EQ(r.remaining(), 4u);

  const std::string cut = bytes.substr(0, 6);
  ByteReader r2(cut);
  EXPECT_EQ(DecodeJsonPartialColumn(r2, col, kBefore, arena, v).code(), StatusCode::kCorruption);
  EXPECT_FALSE(r2.ok());
}

}  // namespace
}  // namespace sluice::mysql
