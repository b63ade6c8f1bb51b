#include "client/mysql/charset.h"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace sluice::mysql {
namespace {

// The charsets MySQL and MariaDB know, with how sluice turns their bytes into
// UTF-8: as is (utf8*, ascii), by table (latin1), not at all (binary), or by
// iconv under the given name.
enum class Cs : uint8_t {
  kBig5,
  kLatin2,
  kDec8,
  kCp850,
  kLatin1,
  kHp8,
  kKoi8r,
  kSwe7,
  kAscii,
  kUjis,
  kSjis,
  kCp1251,
  kHebrew,
  kTis620,
  kEuckr,
  kLatin7,
  kKoi8u,
  kGb2312,
  kGreek,
  kCp1250,
  kGbk,
  kCp1257,
  kLatin5,
  kArmscii8,
  kUtf8mb3,
  kUcs2,
  kCp866,
  kKeybcs2,
  kMacce,
  kMacroman,
  kCp852,
  kUtf8mb4,
  kUtf16,
  kUtf16le,
  kCp1256,
  kUtf32,
  kBinary,
  kGeostd8,
  kCp932,
  kEucjpms,
  kGb18030,
  kCount,
};

struct CharsetInfo {
  std::string_view mysql_name;
  Charset charset;
  std::string_view iconv_name;  // for kOther only
};

// Indexed by Cs. glibc's iconv knows every name here except KEYBCS2 (a
// Czech DOS code page nobody stores data in any more): converting it reports
// NotSupported rather than guessing.
constexpr std::array<CharsetInfo, static_cast<size_t>(Cs::kCount)> kCharsets = {{
    {"big5", Charset::kOther, "BIG5"},
    {"latin2", Charset::kOther, "ISO-8859-2"},
    {"dec8", Charset::kOther, "DEC-MCS"},
    {"cp850", Charset::kOther, "CP850"},
    {"latin1", Charset::kLatin1, ""},
    {"hp8", Charset::kOther, "HP-ROMAN8"},
    {"koi8r", Charset::kOther, "KOI8-R"},
    {"swe7", Charset::kOther, "ISO646-SE"},
    {"ascii", Charset::kAscii, ""},
    {"ujis", Charset::kOther, "EUC-JP"},
    {"sjis", Charset::kOther, "SJIS"},
    {"cp1251", Charset::kOther, "CP1251"},
    {"hebrew", Charset::kOther, "ISO-8859-8"},
    {"tis620", Charset::kOther, "TIS-620"},
    {"euckr", Charset::kOther, "EUC-KR"},
    {"latin7", Charset::kOther, "ISO-8859-13"},
    {"koi8u", Charset::kOther, "KOI8-U"},
    {"gb2312", Charset::kOther, "GB2312"},
    {"greek", Charset::kOther, "ISO-8859-7"},
    {"cp1250", Charset::kOther, "CP1250"},
    {"gbk", Charset::kOther, "GBK"},
    {"cp1257", Charset::kOther, "CP1257"},
    {"latin5", Charset::kOther, "ISO-8859-9"},
    {"armscii8", Charset::kOther, "ARMSCII-8"},
    {"utf8mb3", Charset::kUtf8, ""},
    {"ucs2", Charset::kOther, "UCS-2BE"},  // MySQL stores UCS-2 and UTF-16/32 big-endian
    {"cp866", Charset::kOther, "CP866"},
    {"keybcs2", Charset::kOther, "KEYBCS2"},
    {"macce", Charset::kOther, "MAC-CENTRALEUROPE"},
    {"macroman", Charset::kOther, "MACINTOSH"},
    {"cp852", Charset::kOther, "CP852"},
    {"utf8mb4", Charset::kUtf8, ""},
    {"utf16", Charset::kOther, "UTF-16BE"},
    {"utf16le", Charset::kOther, "UTF-16LE"},
    {"cp1256", Charset::kOther, "CP1256"},
    {"utf32", Charset::kOther, "UTF-32BE"},
    {"binary", Charset::kBinary, ""},
    {"geostd8", Charset::kOther, "GEORGIAN-PS"},
    {"cp932", Charset::kOther, "CP932"},
    {"eucjpms", Charset::kOther, "EUC-JP-MS"},
    {"gb18030", Charset::kOther, "GB18030"},
}};

struct CollationRange {
  uint16_t first;
  uint16_t last;
  Cs cs;
};

// Collation ids below 1024, sorted. Ids 1..247 are common to MySQL 5.x/8.x
// and MariaDB (SHOW COLLATION); 76 (utf8mb3_tolower_ci), 248..250 (gb18030)
// and 255..323 (the utf8mb4 *_0900_* collations) are MySQL 8's; 576..738 are
// MariaDB's extra UCA collations. Checked against MariaDB 10.11's
// information_schema.COLLATION_CHARACTER_SET_APPLICABILITY and MySQL 8.0's
// SHOW COLLATION.
constexpr CollationRange kCollations[] = {
    {1, 1, Cs::kBig5},        {2, 2, Cs::kLatin2},      {3, 3, Cs::kDec8},        {4, 4, Cs::kCp850},
    {5, 5, Cs::kLatin1},      {6, 6, Cs::kHp8},         {7, 7, Cs::kKoi8r},       {8, 8, Cs::kLatin1},
    {9, 9, Cs::kLatin2},      {10, 10, Cs::kSwe7},      {11, 11, Cs::kAscii},     {12, 12, Cs::kUjis},
    {13, 13, Cs::kSjis},      {14, 14, Cs::kCp1251},    {15, 15, Cs::kLatin1},    {16, 16, Cs::kHebrew},
    {18, 18, Cs::kTis620},    {19, 19, Cs::kEuckr},     {20, 20, Cs::kLatin7},    {21, 21, Cs::kLatin2},
    {22, 22, Cs::kKoi8u},     {23, 23, Cs::kCp1251},    {24, 24, Cs::kGb2312},    {25, 25, Cs::kGreek},
    {26, 26, Cs::kCp1250},    {27, 27, Cs::kLatin2},    {28, 28, Cs::kGbk},       {29, 29, Cs::kCp1257},
    {30, 30, Cs::kLatin5},    {31, 31, Cs::kLatin1},    {32, 32, Cs::kArmscii8},  {33, 33, Cs::kUtf8mb3},
    {34, 34, Cs::kCp1250},    {35, 35, Cs::kUcs2},      {36, 36, Cs::kCp866},     {37, 37, Cs::kKeybcs2},
    {38, 38, Cs::kMacce},     {39, 39, Cs::kMacroman},  {40, 40, Cs::kCp852},     {41, 42, Cs::kLatin7},
    {43, 43, Cs::kMacce},     {44, 44, Cs::kCp1250},    {45, 46, Cs::kUtf8mb4},   {47, 49, Cs::kLatin1},
    {50, 52, Cs::kCp1251},    {53, 53, Cs::kMacroman},  {54, 55, Cs::kUtf16},     {56, 56, Cs::kUtf16le},
    {57, 57, Cs::kCp1256},    {58, 59, Cs::kCp1257},    {60, 61, Cs::kUtf32},     {62, 62, Cs::kUtf16le},
    {63, 63, Cs::kBinary},    {64, 64, Cs::kArmscii8},  {65, 65, Cs::kAscii},     {66, 66, Cs::kCp1250},
    {67, 67, Cs::kCp1256},    {68, 68, Cs::kCp866},     {69, 69, Cs::kDec8},      {70, 70, Cs::kGreek},
    {71, 71, Cs::kHebrew},    {72, 72, Cs::kHp8},       {73, 73, Cs::kKeybcs2},   {74, 74, Cs::kKoi8r},
    {75, 75, Cs::kKoi8u},     {76, 76, Cs::kUtf8mb3},   {77, 77, Cs::kLatin2},    {78, 78, Cs::kLatin5},
    {79, 79, Cs::kLatin7},    {80, 80, Cs::kCp850},     {81, 81, Cs::kCp852},     {82, 82, Cs::kSwe7},
    {83, 83, Cs::kUtf8mb3},   {84, 84, Cs::kBig5},      {85, 85, Cs::kEuckr},     {86, 86, Cs::kGb2312},
    {87, 87, Cs::kGbk},       {88, 88, Cs::kSjis},      {89, 89, Cs::kTis620},    {90, 90, Cs::kUcs2},
    {91, 91, Cs::kUjis},      {92, 93, Cs::kGeostd8},   {94, 94, Cs::kLatin1},    {95, 96, Cs::kCp932},
    {97, 98, Cs::kEucjpms},   {99, 99, Cs::kCp1250},    {101, 124, Cs::kUtf16},   {128, 151, Cs::kUcs2},
    {159, 159, Cs::kUcs2},    {160, 183, Cs::kUtf32},   {192, 215, Cs::kUtf8mb3}, {223, 223, Cs::kUtf8mb3},
    {224, 247, Cs::kUtf8mb4}, {248, 250, Cs::kGb18030}, {255, 323, Cs::kUtf8mb4}, {576, 578, Cs::kUtf8mb3},
    {608, 610, Cs::kUtf8mb4}, {640, 642, Cs::kUcs2},    {672, 674, Cs::kUtf16},   {736, 738, Cs::kUtf32},
};

// MariaDB numbers its NO PAD variant of collation N as 1024 + N, and its
// UCA-14.0 collations (10.10+) as 2048 + 256 * charset slot + flags, the
// slots being utf8mb3, utf8mb4, ucs2, utf16, utf32.
constexpr uint32_t kMariadbNoPadBase = 1024;
constexpr uint32_t kMariadbUca1400Base = 2048;
constexpr Cs kUca1400Slots[] = {Cs::kUtf8mb3, Cs::kUtf8mb4, Cs::kUcs2, Cs::kUtf16, Cs::kUtf32};

bool LookupCollation(uint32_t id, Cs& cs) {
  if (id >= kMariadbUca1400Base) {
    uint32_t slot = (id - kMariadbUca1400Base) >> 8;
    if (slot >= std::size(kUca1400Slots)) {
      return false;
    }
    cs = kUca1400Slots[slot];
    return true;
  }
  if (id >= kMariadbNoPadBase) {
    id -= kMariadbNoPadBase;
  }
  auto it = std::upper_bound(std::begin(kCollations), std::end(kCollations), id,
                             [](uint32_t v, const CollationRange& r) { return v < r.first; });
  if (it == std::begin(kCollations)) {
    return false;
  }
  --it;
  if (id > it->last) {
    return false;
  }
  cs = it->cs;
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

const CharsetInfo* FindCharset(std::string_view name) {
  // "utf8" is utf8mb3 on every server that still accepts the name.
  if (EqualsIgnoreCase(name, "utf8")) {
    name = "utf8mb3";
  }
  for (const CharsetInfo& info : kCharsets) {
    if (EqualsIgnoreCase(info.mysql_name, name)) {
      return &info;
    }
  }
  return nullptr;
}

// ---- latin1 ----------------------------------------------------------------

struct Utf8Seq {
  uint8_t len;
  char bytes[3];
};

// Windows-1252 0x80..0x9F. MySQL's latin1 fills the five holes of cp1252
// (0x81, 0x8D, 0x8F, 0x90, 0x9D) with the C1 controls of the same value.
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,  // 80..87
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,  // 88..8F
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,  // 90..97
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,  // 98..9F
};

constexpr std::array<Utf8Seq, 256> MakeLatin1Table() {
  std::array<Utf8Seq, 256> t{};
  for (unsigned b = 0; b < 256; ++b) {
    unsigned cp = (b >= 0x80 && b < 0xA0) ? kCp1252High[b - 0x80] : b;
    if (cp < 0x80) {
      t[b] = {1, {static_cast<char>(cp), 0, 0}};
    } else if (cp < 0x800) {
      t[b] = {2, {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F)), 0}};
    } else {
      t[b] = {3,
              {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
               static_cast<char>(0x80 | (cp & 0x3F))}};
    }
  }
  return t;
}

constexpr std::array<Utf8Seq, 256> kLatin1ToUtf8 = MakeLatin1Table();

// Index of the first byte >= 0x80, or s.size(). Eight bytes per step: most
// text in latin1 columns is plain ASCII and then needs no copy at all.
size_t FirstNonAscii(std::string_view s) {
  size_t i = 0;
  constexpr uint64_t kHighBits = 0x8080808080808080ULL;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & kHighBits) {
      break;
    }
  }
  for (; i < s.size(); ++i) {
    if (static_cast<uint8_t>(s[i]) >= 0x80) {
      return i;
    }
  }
  return i;
}

// ---- iconv -----------------------------------------------------------------

// One converter per charset and thread, opened on first use and closed when
// the thread ends. A charset iconv does not know is remembered as such so that
// every value of such a column fails fast.
class IconvCache {
 public:
  IconvCache() = default;
  IconvCache(const IconvCache&) = delete;
  IconvCache& operator=(const IconvCache&) = delete;
  ~IconvCache() {
    for (Entry& e : entries_) {
      if (e.cd != kInvalid) {
        iconv_close(e.cd);
      }
    }
  }

  iconv_t Get(std::string_view name) {
    for (Entry& e : entries_) {
      if (e.name == name) {
        return e.cd;
      }
    }
    std::string n(name);
    iconv_t cd = iconv_open("UTF-8", n.c_str());
    entries_.push_back(Entry{std::move(n), cd});
    return cd;
  }

  // iconv_open's failure value is (iconv_t)-1 by its API.
  static inline const iconv_t kInvalid = reinterpret_cast<iconv_t>(-1);  // NOLINT(performance-no-int-to-ptr)

 private:
  struct Entry {
    std::string name;
    iconv_t cd;
  };
  std::vector<Entry> entries_;
};

thread_local IconvCache t_iconv_cache;
thread_local std::string t_iconv_out;

}  // namespace

Charset CharsetFromCollationId(uint32_t id, std::string* charset_name) {
  Cs cs;
  if (!LookupCollation(id, cs)) {
    if (charset_name) {
      charset_name->clear();
    }
    return Charset::kUnknown;
  }
  const CharsetInfo& info = kCharsets[static_cast<size_t>(cs)];
  if (charset_name) {
    charset_name->assign(info.iconv_name);
  }
  return info.charset;
}

Charset CharsetFromName(std::string_view charset_name, std::string* iconv_name) {
  if (const CharsetInfo* info = FindCharset(charset_name)) {
    if (iconv_name) {
      iconv_name->assign(info->iconv_name);
    }
    return info->charset;
  }
  if (iconv_name) {
    iconv_name->assign(charset_name);
    for (char& c : *iconv_name) {
      if (c >= 'a' && c <= 'z') {
        c = static_cast<char>(c - 'a' + 'A');
      }
    }
  }
  return Charset::kOther;
}

std::string_view IconvNameForCharset(std::string_view mysql_charset_name) {
  const CharsetInfo* info = FindCharset(mysql_charset_name);
  return info ? info->iconv_name : std::string_view();
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* end = p + s.size();
  while (p < end) {
    // ASCII runs are the common case.
    if (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    uint8_t c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;
    uint32_t min;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) < n) {
      return false;
    }
    for (size_t i = 1; i < n; ++i) {
      if ((p[i] & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n;
  }
  return true;
}

std::string_view Latin1ToUtf8(std::string_view raw, Arena& arena) {
  const size_t ascii = FirstNonAscii(raw);
  if (ascii == raw.size()) {
    return raw;
  }
  // Size exactly first, so the arena holds no slack.
  size_t n = ascii;
  for (size_t i = ascii; i < raw.size(); ++i) {
    n += kLatin1ToUtf8[static_cast<uint8_t>(raw[i])].len;
  }
  // +2: each character below is copied as 3 bytes, its unused tail being
  // overwritten by the next one; the last may spill 2 bytes past n.
  char* out = arena.Allocate(n + 2);
  std::memcpy(out, raw.data(), ascii);
  char* p = out + ascii;
  for (size_t i = ascii; i < raw.size(); ++i) {
    const Utf8Seq& seq = kLatin1ToUtf8[static_cast<uint8_t>(raw[i])];
    std::memcpy(p, seq.bytes, 3);  // always 3: the unused tail is overwritten next
    p += seq.len;
  }
  return {out, n};
}

Status IconvToUtf8(std::string_view raw, std::string_view iconv_name, Arena& arena, std::string_view& out) {
  if (iconv_name.empty()) {
    return Status::Error(StatusCode::kNotSupported, "text column has no charset name to convert from");
  }
  iconv_t cd = t_iconv_cache.Get(iconv_name);
  if (cd == IconvCache::kInvalid) {
    return Status::Error(StatusCode::kNotSupported,
                         "charset \"{}\" cannot be converted to UTF-8: iconv has no converter for it", iconv_name);
  }
  if (raw.empty()) {
    out = {};
    return Status::Ok();
  }
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset shift state left by an earlier value

  // UTF-8 needs at most 3 bytes per source byte for every MySQL charset (a
  // single-byte charset maps into the BMP; 2-byte units become at most 3
  // bytes; 4-byte units at most 4); grow anyway if a converter disagrees.
  std::string& buf = t_iconv_out;
  if (buf.size() < raw.size() * 3 + 16) {
    buf.resize(raw.size() * 3 + 16);
  }
  char* in = const_cast<char*>(raw.data());  // iconv's signature; it does not write
  size_t in_left = raw.size();
  size_t used = 0;
  auto grow = [&](size_t extra) { buf.resize(std::max(buf.size() * 2, used + extra)); };
  while (in_left > 0) {
    char* o = buf.data() + used;
    size_t o_left = buf.size() - used;
    size_t rc = iconv(cd, &in, &in_left, &o, &o_left);
    used = static_cast<size_t>(o - buf.data());
    if (rc != static_cast<size_t>(-1)) {
      break;  // all input converted
    }
    if (errno == E2BIG) {
      grow(16);
      continue;
    }
    // EILSEQ (a sequence invalid in the source charset) or EINVAL (one cut
    // short at the end): substitute U+FFFD and resynchronise one byte later.
    if (buf.size() - used < 3) {
      grow(3);
    }
    std::memcpy(buf.data() + used, "\xEF\xBF\xBD", 3);
    used += 3;
    ++in;
    --in_left;
  }
  // Stateful encodings may owe a sequence that returns to the initial state.
  while (true) {
    char* o = buf.data() + used;
    size_t o_left = buf.size() - used;
    size_t rc = iconv(cd, nullptr, nullptr, &o, &o_left);
    used = static_cast<size_t>(o - buf.data());
    if (rc == static_cast<size_t>(-1) && errno == E2BIG) {
      grow(16);
      continue;
    }
    break;
  }
  out = arena.Copy(std::string_view(buf.data(), used));
  // Do not let one huge value pin memory in every thread forever.
  if (buf.size() > (8u << 20)) {
    std::string().swap(buf);
  }
  return Status::Ok();
}

}  // namespace sluice::mysql
