#pragma once
// Value: one decoded column value. Small and trivially copyable: text-like
// payloads are views into the event buffer or into an Arena owned by whoever
// decoded the row, valid until that owner moves to the next event.

#include <cstdint>
#include <string_view>

namespace sluice {

enum class ValueKind : uint8_t {
  kNull = 0,
  kInt,        // i: TINYINT..BIGINT signed
  kUInt,       // u: unsigned integers; also ENUM/SET when their names are unknown
  kFloat,      // d holds a float's value; printed with float precision
  kDouble,     // d
  kDecimal,    // s: "-123.4500", exactly the column's scale
  kText,       // s: UTF-8 text (converted from the column's charset)
  kBytes,      // s: raw bytes (BINARY/VARBINARY/BLOB); base64 in JSON
  kDate,       // s: "2024-01-31"
  kDateTime,   // s: "2024-01-31 12:34:56.789"
  kTimestamp,  // s: like kDateTime, in UTC
  kTime,       // s: "-838:59:59.000000"
  kYear,       // i
  kBit,        // u
  kEnum,       // s: the member name
  kSet,        // s: comma-separated member names
  kJson,       // s: JSON text
  kGeometry,   // s: WKB bytes (SRID removed); base64 in JSON
  kAbsent,     // the column is not in this row image (binlog_row_image=MINIMAL)
};

struct Value {
  ValueKind kind = ValueKind::kNull;
  union {
    int64_t i;
    uint64_t u;
    double d;
  };
  std::string_view s;

  Value() : i(0) {}
  static Value Null() { return Value(); }
  static Value Absent() { Value x; x.kind = ValueKind::kAbsent; return x; }
  static Value Int(int64_t v) { Value x; x.kind = ValueKind::kInt; x.i = v; return x; }
  static Value UInt(uint64_t v) { Value x; x.kind = ValueKind::kUInt; x.u = v; return x; }
  static Value Float(float v) { Value x; x.kind = ValueKind::kFloat; x.d = v; return x; }
  static Value Double(double v) { Value x; x.kind = ValueKind::kDouble; x.d = v; return x; }
  static Value Str(ValueKind k, std::string_view v) { Value x; x.kind = k; x.s = v; return x; }
  static Value Year(int64_t v) { Value x; x.kind = ValueKind::kYear; x.i = v; return x; }
  static Value Bit(uint64_t v) { Value x; x.kind = ValueKind::kBit; x.u = v; return x; }

  bool is_null() const { return kind == ValueKind::kNull; }
};

// Same stored value: integers compare by value whatever their signedness
// kind (a key decoded as signed in one event and unsigned in another is the
// same key), floats by value, everything else by kind and bytes.
inline bool SameValue(const Value& a, const Value& b) {
  auto integral = [](ValueKind k) {
    return k == ValueKind::kInt || k == ValueKind::kUInt || k == ValueKind::kYear || k == ValueKind::kBit;
  };
  if (integral(a.kind) && integral(b.kind)) return a.u == b.u;
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ValueKind::kNull:
    case ValueKind::kAbsent:
      return true;
    case ValueKind::kFloat:
    case ValueKind::kDouble:
      return a.d == b.d;
    default:
      return a.s == b.s;
  }
}

}  // namespace sluice
