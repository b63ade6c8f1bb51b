#include "sink/row_reader.h"

#include <cstdlib>

#include <charconv>

namespace sluice::sink {

std::string FitFraction(std::string_view text, unsigned digits) {
  std::string out(text);
  size_t dot = out.find('.');
  size_t have = dot == std::string::npos ? 0 : out.size() - dot - 1;
  if (have < digits) {
    if (dot == std::string::npos) out += '.';
    out.append(digits - have, '0');
    return out;
  }
  while (have > digits && out.back() == '0') {
    out.pop_back();
    --have;
  }
  if (have == 0 && dot != std::string::npos) out.pop_back();  // "12:00:00." -> "12:00:00"
  return out;
}

namespace {

template <typename T>
bool ParseWholeOf(std::string_view s, T& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

bool ParseWhole(std::string_view s, int64_t& v) { return ParseWholeOf(s, v); }
bool ParseWhole(std::string_view s, uint64_t& v) { return ParseWholeOf(s, v); }

std::optional<Value> ParseNumber(ValueKind kind, std::string_view s, Arena& arena) {
  auto raw = [&] { return Value::Str(ValueKind::kText, arena.Copy(s)); };
  int64_t i = 0;
  uint64_t u = 0;
  switch (kind) {
    case ValueKind::kInt: return ParseWhole(s, i) ? Value::Int(i) : raw();
    case ValueKind::kUInt: return ParseWhole(s, u) ? Value::UInt(u) : raw();
    case ValueKind::kYear: return ParseWhole(s, i) ? Value::Year(i) : raw();
    case ValueKind::kBit: return ParseWhole(s, u) ? Value::Bit(u) : raw();
    case ValueKind::kFloat:
    case ValueKind::kDouble: {
      std::string tmp(s);
      char* end = nullptr;
      double d = kind == ValueKind::kFloat ? static_cast<double>(std::strtof(tmp.c_str(), &end))
                                           : std::strtod(tmp.c_str(), &end);
      if (tmp.empty() || end != tmp.c_str() + tmp.size()) return raw();
      return kind == ValueKind::kFloat ? Value::Float(static_cast<float>(d)) : Value::Double(d);
    }
    default:
      return std::nullopt;
  }
}

}  // namespace sluice::sink
