#include "core/json_writer.h"

#include <fmt/format.h>

#include <charconv>

namespace sluice {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <typename T>
void AppendNumber(std::string& out, T v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

void AppendImage(std::string& out, const TableSchema& t, const std::vector<Value>* image) {
  if (image == nullptr) {
    out += "null";
    return;
  }
  out += '{';
  bool first = true;
  for (size_t i = 0; i < image->size() && i < t.columns.size(); ++i) {
    const Value& v = (*image)[i];
    if (v.kind == ValueKind::kAbsent) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, t.columns[i].name);
    out += ':';
    AppendJsonValue(out, v);
  }
  out += '}';
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  size_t run = 0;  // start of the current run of bytes that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
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
  }
  out.append(s.data() + run, s.size() - run);
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
  const TableSchema& t = *c.table;
  out += "{\"op\":\"";
  out += OpName(c.op);
  out += "\",\"db\":";
  AppendJsonString(out, t.db);
  out += ",\"table\":";
  AppendJsonString(out, t.table);
  out += ",\"pk\":[";
  for (size_t i = 0; i < t.primary_key.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(out, t.columns[t.primary_key[i]].name);
  }
  out += "],\"before\":";
  AppendImage(out, t, c.before);
  out += ",\"after\":";
  AppendImage(out, t, c.after);
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
  out += ':';
  AppendNumber(out, c.offset);
  out += "\"}\n";
}

}  // namespace sluice
