#include "core/json_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace sluice {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <typename T>
void AppendNumber(std::string& out, T v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(p - buf));  // (pointer, length): the iterator-pair overload goes through replace()
}

}  // namespace

namespace {

inline bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

#ifdef __SSE2__
// Bit i set where byte i of the 16 needs escaping (< 0x20 unsigned, '"', '\\').
inline unsigned EscapeMask16(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                   _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
  return static_cast<unsigned>(_mm_movemask_epi8(hit));
}
#endif

// The index of the first byte at or after i that needs escaping, or n.
// Most text has none, so whole strings are usually one scan and one append.
inline size_t FirstEscape(const char* d, size_t i, size_t n) {
#ifdef __SSE2__
  for (; i + 16 <= n; i += 16) {
    if (unsigned m = EscapeMask16(d + i)) return i + static_cast<size_t>(__builtin_ctz(m));
  }
  if (i == n) return n;
  // The last 1..15 bytes: scanned from a padded copy (never reads past the string).
  char tail[16];
  std::memset(tail, 'a', sizeof tail);
  std::memcpy(tail, d + i, n - i);
  if (unsigned m = EscapeMask16(tail)) return i + static_cast<size_t>(__builtin_ctz(m));
  return n;
#else
  for (; i < n; ++i) {
    if (NeedsEscape(static_cast<unsigned char>(d[i]))) return i;
  }
  return n;
#endif
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  const char* d = s.data();
  const size_t n = s.size();
  out.reserve(out.size() + n + 2);
  out += '"';
  size_t run = 0;  // start of the current run of bytes that need no escaping
  for (size_t i = FirstEscape(d, 0, n); i < n; i = FirstEscape(d, i + 1, n)) {
    out.append(d + run, i - run);
    run = i + 1;
    const auto c = static_cast<unsigned char>(d[i]);
    switch (c) {
      case '"': out.append("\\\"", 2); break;
      case '\\': out.append("\\\\", 2); break;
      case '\n': out.append("\\n", 2); break;
      case '\r': out.append("\\r", 2); break;
      case '\t': out.append("\\t", 2); break;
      case '\b': out.append("\\b", 2); break;
      case '\f': out.append("\\f", 2); break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(u, sizeof u);
      }
    }
  }
  out.append(d + run, n - run);
  out += '"';
}

void AppendBase64(std::string& out, std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t n = in.size();
  size_t start = out.size();
  out.resize(start + (n + 2) / 3 * 4);
  char* o = out.data() + start;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = kAlphabet[v & 63];
  }
  if (i < n) {
    uint32_t v = p[i] << 16;
    if (i + 1 < n) v |= p[i + 1] << 8;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
}

void AppendJsonValue(std::string& out, const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
    case ValueKind::kAbsent:
      out += "null";
      return;
    case ValueKind::kInt:
    case ValueKind::kYear:
      AppendNumber(out, v.i);
      return;
    case ValueKind::kUInt:
    case ValueKind::kBit:
      AppendNumber(out, v.u);
      return;
    case ValueKind::kFloat:
      fmt::format_to(std::back_inserter(out), "{}", static_cast<float>(v.d));
      return;
    case ValueKind::kDouble:
      fmt::format_to(std::back_inserter(out), "{}", v.d);
      return;
    case ValueKind::kJson:
      if (v.s.empty()) {
        out += "null";
      } else {
        out.append(v.s);
      }
      return;
    case ValueKind::kBytes:
    case ValueKind::kGeometry:
      out += '"';
      AppendBase64(out, v.s);
      out += '"';
      return;
    case ValueKind::kDecimal:
    case ValueKind::kText:
    case ValueKind::kDate:
    case ValueKind::kDateTime:
    case ValueKind::kTimestamp:
    case ValueKind::kTime:
    case ValueKind::kEnum:
    case ValueKind::kSet:
      AppendJsonString(out, v.s);
      return;
  }
}

void AppendRowChangeJson(std::string& out, const RowChange& c) {
  JsonRowWriter::Prepared p;
  JsonRowWriter::Prepare(*c.table, p);
  JsonRowWriter::Render(out, p, c);
}

}  // namespace sluice

namespace sluice {

const JsonRowWriter::Prepared& JsonRowWriter::For(const RowChange& c) {
  if (c.table == last_table_) return *last_;  // rows come in runs of one table
  auto it = cache_.find(c.table);
  if (it != cache_.end()) {
    last_table_ = c.table;
    last_ = &it->second;
    return it->second;
  }
  if (cache_.size() > 4096) {  // schema churn: start over rather than grow
    cache_.clear();
    last_table_ = nullptr;
  }
  Prepared p;
  p.pin = c.table_ptr;
  Prepare(*c.table, p);
  last_table_ = c.table;
  last_ = &cache_.emplace(c.table, std::move(p)).first->second;
  return *last_;
}

void JsonRowWriter::AppendImage(std::string& out, const Prepared& p, const std::vector<Value>* image) {
  if (image == nullptr) {
    out += "null";
    return;
  }
  out += '{';
  bool first = true;
  const size_t n = std::min(image->size(), p.keys.size());
  for (size_t i = 0; i < n; ++i) {
    const Value& v = (*image)[i];
    if (v.kind == ValueKind::kAbsent) continue;
    if (!first) out += ',';
    first = false;
    out += p.keys[i];
    AppendJsonValue(out, v);
  }
  out += '}';
}

void JsonRowWriter::Prepare(const TableSchema& t, Prepared& p) {
  p.head_after_op = "\",\"db\":";
  AppendJsonString(p.head_after_op, t.db);
  p.head_after_op += ",\"table\":";
  AppendJsonString(p.head_after_op, t.table);
  p.head_after_op += ",\"pk\":[";
  for (size_t i = 0; i < t.primary_key.size(); ++i) {
    if (i) p.head_after_op += ',';
    AppendJsonString(p.head_after_op, t.columns[t.primary_key[i]].name);
  }
  p.head_after_op += "],\"before\":";
  p.keys.clear();
  for (const auto& col : t.columns) {
    std::string k;
    AppendJsonString(k, col.name);
    k += ':';
    p.keys.push_back(std::move(k));
  }
}

void JsonRowWriter::Render(std::string& out, const Prepared& p, const RowChange& c) {
  out += "{\"op\":\"";
  out += OpName(c.op);
  out += p.head_after_op;
  AppendImage(out, p, c.before);
  out += ",\"after\":";
  AppendImage(out, p, c.after);
  out += ",\"ts_ms\":";
  AppendNumber(out, c.ts_ms);
  out += ",\"gtid\":";
  if (c.gtid.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, c.gtid);
  }
  out += ",\"pos\":\"";
  out.append(c.file);
  if (!c.lsn_position) {
    out += ':';
    AppendNumber(out, c.offset);
  }
  out += "\"}\n";
}

void JsonRowWriter::Append(std::string& out, const RowChange& c) {
  // A schema without a shared owner cannot be pinned, so it is not cached.
  if (!c.table_ptr) {
    AppendRowChangeJson(out, c);
    return;
  }
  Render(out, For(c), c);
}

}  // namespace sluice
