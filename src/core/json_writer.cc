#include "core/json_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace sluice {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <typename T>
void AppendNumber(std::string& out, T v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

}  // namespace

namespace {

// True if any of the 8 bytes is < 0x20, '"' or '\\' (SWAR: the classic
// "has zero byte" trick applied to the byte and to its XOR with each quote).
inline bool NeedsEscape8(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  uint64_t lt_space = (w - kOnes * 0x20) & ~w & kHigh;
  uint64_t q = w ^ (kOnes * '"');
  uint64_t b = w ^ (kOnes * '\\');
  uint64_t is_quote = (q - kOnes) & ~q & kHigh;
  uint64_t is_backslash = (b - kOnes) & ~b & kHigh;
  return (lt_space | is_quote | is_backslash) != 0;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  size_t run = 0;  // start of the current run of bytes that need no escaping
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Skip clean 8-byte words at once; most text has nothing to escape.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (NeedsEscape8(w)) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    ++i;
  }
  out.append(s.data() + run, n - run);
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
