#include "transform/filter_collation.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::transform {
namespace {

// Shapes of the generated tables (collation_weights.inc).
struct WeightRun {
  uint32_t first;   // first code point
  uint32_t count;   // code points first .. first + count - 1
  uint32_t offset;  // their weights: kWeightPool[offset .. offset + n)
  uint8_t n;
  uint8_t incr;  // 1: code point first + k has the last weight plus k
};
struct WeightTableDef {
  std::string_view name;
  const WeightRun* runs;
  size_t run_count;
  bool latin1;  // only latin1's 256 characters: others weigh as '?' (the server converts them so)
};
struct CollationDef {
  uint32_t id;
  std::string_view name;
  int table;  // -1: code points
};
struct CaseMapping {
  uint32_t from;
  uint32_t to;
};

#include "transform/collation_weights.inc"

constexpr uint32_t kNoPadBase = 1024;  // MariaDB: the NO PAD twin of collation N is N + 1024
constexpr uint32_t kBadByte = 0xDC00;  // + byte: an invalid UTF-8 byte, as a code point no text holds

// Decodes the UTF-8 character at s[pos], advancing pos. An invalid byte is
// one "character" of its own, kBadByte + byte.
uint32_t NextCodePoint(std::string_view s, size_t& pos) {
  auto lead = static_cast<unsigned char>(s[pos]);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  size_t n = lead >= 0xF0 && lead < 0xF8 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
  if (n == 0 || pos + n > s.size()) {
    ++pos;
    return kBadByte + lead;
  }
  uint32_t cp = n == 2 ? lead & 0x1F : n == 3 ? lead & 0x0F : lead & 0x07;
  for (size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[pos + k]);
    if ((c & 0xC0) != 0x80) {
      ++pos;
      return kBadByte + lead;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  pos += n;
  return cp;
}

// One weight table expanded for the BMP (a lookup per character); code
// points above it are found by binary search over the runs.
class WeightTable {
 public:
  explicit WeightTable(const WeightTableDef& def) : def_(def) {
    bmp_.assign(0x10000, kAbsent);
    for (size_t r = 0; r < def.run_count; ++r) {
      const WeightRun& run = def.runs[r];
      for (uint32_t k = 0; k < run.count && run.first + k < 0x10000; ++k) {
        bmp_[run.first + k] = static_cast<uint32_t>(pool_.size() << 8) | run.n;
        AppendRun(run, k, pool_);
      }
    }
    uint32_t unknown = def.latin1 ? '?' : 0xFFFD;
    fallback_.assign(pool_.begin() + (bmp_[unknown] >> 8),
                     pool_.begin() + (bmp_[unknown] >> 8) + (bmp_[unknown] & 0xFF));
    space_ = pool_[bmp_[' '] >> 8];
  }

  // Appends the weights of code point cp to out.
  void Weigh(uint32_t cp, std::vector<uint32_t>& out) const {
    if (cp < 0x10000) {
      uint32_t e = bmp_[cp];
      if (e != kAbsent) {
        const uint16_t* w = pool_.data() + (e >> 8);
        out.insert(out.end(), w, w + (e & 0xFF));
        return;
      }
    } else {
      const WeightRun* end = def_.runs + def_.run_count;
      const WeightRun* it =
          std::upper_bound(def_.runs, end, cp, [](uint32_t v, const WeightRun& r) { return v < r.first; });
      if (it != def_.runs) {
        --it;
        if (cp - it->first < it->count) {
          std::vector<uint16_t> tmp;
          AppendRun(*it, cp - it->first, tmp);
          out.insert(out.end(), tmp.begin(), tmp.end());
          return;
        }
      }
    }
    out.insert(out.end(), fallback_.begin(), fallback_.end());
  }

  uint32_t space() const { return space_; }

 private:
  static constexpr uint32_t kAbsent = 0xFFFFFFFF;

  static void AppendRun(const WeightRun& run, uint32_t k, std::vector<uint16_t>& out) {
    for (uint8_t i = 0; i < run.n; ++i) {
      uint32_t w = kWeightPool[run.offset + i];
      if (run.incr && i + 1 == run.n) w += k;
      out.push_back(static_cast<uint16_t>(w));
    }
  }

  const WeightTableDef& def_;
  std::vector<uint32_t> bmp_;  // (offset << 8) | count into pool_
  std::vector<uint16_t> pool_;
  std::vector<uint32_t> fallback_;
  uint32_t space_ = ' ';
};

const WeightTable& TableAt(int index) {
  static std::once_flag once;
  static std::vector<WeightTable>* tables = nullptr;
  std::call_once(once, [] {
    tables = new std::vector<WeightTable>();  // never freed: used until exit
    tables->reserve(std::size(kWeightTables));
    for (const WeightTableDef& def : kWeightTables) tables->emplace_back(def);
  });
  return (*tables)[static_cast<size_t>(index)];
}

// Every known collation and its NO PAD twin, built once.
const std::vector<Collation>& AllCollations() {
  static const std::vector<Collation> all = [] {
    std::vector<Collation> v;
    for (const CollationDef& d : kCollationDefs) v.emplace_back(d.id, d.name, d.table, true);
    for (const CollationDef& d : kCollationDefs) {
      if (d.id != 63) v.emplace_back(d.id + kNoPadBase, d.name, d.table, false);
    }
    return v;
  }();
  return all;
}

void WeighString(std::string_view s, int table, std::vector<uint32_t>& out) {
  out.clear();
  for (size_t pos = 0; pos < s.size();) {
    uint32_t cp = NextCodePoint(s, pos);
    if (table < 0) {
      out.push_back(cp);
    } else {
      TableAt(table).Weigh(cp, out);
    }
  }
}

}  // namespace

const Collation* Collation::ForId(uint32_t id) {
  for (const Collation& c : AllCollations()) {
    if (c.id() == id) return &c;
  }
  return nullptr;
}

const Collation& Collation::Default() {
  static const Collation* general = ForId(45);  // utf8mb4_general_ci
  return *general;
}

int Collation::Compare(std::string_view a, std::string_view b) const {
  thread_local std::vector<uint32_t> wa;
  thread_local std::vector<uint32_t> wb;
  WeighString(a, table_, wa);
  WeighString(b, table_, wb);
  size_t n = std::min(wa.size(), wb.size());
  for (size_t k = 0; k < n; ++k) {
    if (wa[k] != wb[k]) return wa[k] < wb[k] ? -1 : 1;
  }
  if (wa.size() == wb.size()) return 0;
  const std::vector<uint32_t>& longer = wa.size() > n ? wa : wb;
  int sign = wa.size() > n ? 1 : -1;
  if (!pad_space_) return sign;
  // PAD SPACE: the shorter string is compared as if padded with spaces.
  const uint32_t space = table_ < 0 ? ' ' : TableAt(table_).space();
  for (size_t k = n; k < longer.size(); ++k) {
    if (longer[k] != space) return longer[k] < space ? -sign : sign;
  }
  return 0;
}

bool Collation::CharsEqual(std::string_view a, std::string_view b) const {
  if (a == b) return true;
  if (table_ < 0) return false;
  // The server's UCA LIKE (my_uca_charcmp) weighs only characters of its
  // table's range, the BMP: two different characters beyond it never match,
  // although unicode_ci gives them all one weight in comparisons.
  if (kWeightTables[table_].name.starts_with("unicode") && (a.size() == 4 || b.size() == 4)) return false;
  thread_local std::vector<uint32_t> wa;
  thread_local std::vector<uint32_t> wb;
  WeighString(a, table_, wa);
  WeighString(b, table_, wb);
  return wa == wb;
}

size_t CaseMapUtf8(std::string_view s, bool lower, char* out) {
  const CaseMapping* begin = lower ? std::begin(kLowerMap) : std::begin(kUpperMap);
  const CaseMapping* end = lower ? std::end(kLowerMap) : std::end(kUpperMap);
  size_t w = 0;
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    uint32_t cp = NextCodePoint(s, pos);
    if (cp < 0x80) {
      out[w++] = lower ? (cp >= 'A' && cp <= 'Z' ? static_cast<char>(cp + 32) : static_cast<char>(cp))
                       : (cp >= 'a' && cp <= 'z' ? static_cast<char>(cp - 32) : static_cast<char>(cp));
      continue;
    }
    const CaseMapping* it =
        std::lower_bound(begin, end, cp, [](const CaseMapping& m, uint32_t v) { return m.from < v; });
    if (cp >= kBadByte && cp < kBadByte + 0x100 && pos == start + 1) {
      out[w++] = s[start];  // an invalid byte stays as it is
      continue;
    }
    if (it == end || it->from != cp) {
      for (size_t k = start; k < pos; ++k) out[w++] = s[k];
      continue;
    }
    uint32_t to = it->to;
    if (to < 0x80) {
      out[w++] = static_cast<char>(to);
    } else if (to < 0x800) {
      out[w++] = static_cast<char>(0xC0 | (to >> 6));
      out[w++] = static_cast<char>(0x80 | (to & 0x3F));
    } else if (to < 0x10000) {
      out[w++] = static_cast<char>(0xE0 | (to >> 12));
      out[w++] = static_cast<char>(0x80 | ((to >> 6) & 0x3F));
      out[w++] = static_cast<char>(0x80 | (to & 0x3F));
    } else {
      out[w++] = static_cast<char>(0xF0 | (to >> 18));
      out[w++] = static_cast<char>(0x80 | ((to >> 12) & 0x3F));
      out[w++] = static_cast<char>(0x80 | ((to >> 6) & 0x3F));
      out[w++] = static_cast<char>(0x80 | (to & 0x3F));
    }
  }
  return w;
}

}  // namespace sluice::transform
