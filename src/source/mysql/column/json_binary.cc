// MySQL binary JSON to text, partial JSON updates, and the JSON column
// decoder. Format reference: MySQL sql-common/json_binary.h (reproduced in
// short beside JsonPrinter) and sql/json_diff.cc.

#include "source/mysql/column/json_binary.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/byte_reader.h"
#include "source/mysql/column/column_decoder.h"
#include "source/mysql/column/column_families.h"
#include "client/mysql/column_types.h"
#include "source/mysql/column/decimal.h"
#include "source/mysql/column/temporal.h"

namespace sluice::mysql {
namespace {

// Value type bytes.
enum JsonType : uint8_t {
  kSmallObject = 0x00,
  kLargeObject = 0x01,
  kSmallArray = 0x02,
  kLargeArray = 0x03,
  kLiteral = 0x04,
  kInt16 = 0x05,
  kUint16 = 0x06,
  kInt32 = 0x07,
  kUint32 = 0x08,
  kInt64 = 0x09,
  kUint64 = 0x0a,
  kDouble = 0x0b,
  kString = 0x0c,
  kOpaque = 0x0f,
};

enum JsonLiteral : uint8_t { kNullLiteral = 0x00, kTrueLiteral = 0x01, kFalseLiteral = 0x02 };

// MySQL refuses documents nested deeper than 100 (JSON_DOCUMENT_MAX_DEPTH);
// a little slack, and a bound on recursion for corrupt input.
constexpr int kMaxDepth = 150;

void AppendInt(std::string& out, int64_t v) {
  fmt::format_int f(v);
  out.append(f.data(), f.size());
}
void AppendUInt(std::string& out, uint64_t v) {
  fmt::format_int f(v);
  out.append(f.data(), f.size());
}

void AppendBase64(std::string& out, std::string_view s) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    const uint32_t v = uint32_t{p[i]} << 16 | uint32_t{p[i + 1]} << 8 | p[i + 2];
    const char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
    out.append(quad, 4);
  }
  if (i < s.size()) {
    const bool two = i + 1 < s.size();
    const uint32_t v = uint32_t{p[i]} << 16 | (two ? uint32_t{p[i + 1]} << 8 : 0);
    const char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], two ? kAlphabet[(v >> 6) & 63] : '=', '='};
    out.append(quad, 4);
  }
}

// Renders one binary JSON document.
//
//   doc        ::= type value
//   type       ::= 0x00 small object | 0x01 large object | 0x02 small array
//                | 0x03 large array | 0x04 literal | 0x05 int16 | 0x06 uint16
//                | 0x07 int32 | 0x08 uint32 | 0x09 int64 | 0x0a uint64
//                | 0x0b double | 0x0c string | 0x0f opaque
//   object     ::= count size key-entry* value-entry* key* value*
//   array      ::= count size value-entry* value*
//                  count, size and offsets: uint16 (small) / uint32 (large),
//                  offsets relative to the start of count; size covers the
//                  whole container from count on
//   key-entry  ::= key-offset key-length(uint16)
//   value-entry::= type offset-or-inlined-value
//                  inlined: literals, int16, uint16; in large containers
//                  also int32, uint32
//   literal    ::= 0x00 null | 0x01 true | 0x02 false
//   numbers    ::= little-endian; double is IEEE 754 little-endian
//   string     ::= data-length utf8mb4-bytes
//   opaque     ::= field-type(uint8) data-length bytes
//   data-length::= 7 bits per byte, low bits first, high bit = more bytes
//
//   {"a":1} -> 00  01 00  0c 00  0b 00 01 00  05 01 00  61
//              type count size key-entry  value-entry key
class JsonPrinter {
 public:
  explicit JsonPrinter(std::string& out) : out_(out) {}

  Status Document(std::string_view bytes) {
    if (bytes.empty()) {
      out_.append("null");
      return Status::Ok();
    }
    // Text is at most ~6x the binary form (a control character becomes
    // \u00XX); more means entries share offsets, which MySQL never writes
    // and which could otherwise blow up exponentially with nesting.
    max_output_ = 16 * bytes.size() + 4096;
    return Print(static_cast<uint8_t>(bytes[0]), bytes.substr(1), 0);
  }

 private:
  // `data` runs from the value's first byte to the end of the enclosing
  // container (or document): the bound every read of the value must keep.
  Status Print(uint8_t type, std::string_view data, int depth) {
    if (out_.size() > max_output_) {
      return Status::Corruption("binary JSON expands to more than {} bytes of text: overlapping values", max_output_);
    }
    ByteReader r(data);
    switch (type) {
      case kSmallObject:
      case kLargeObject:
      case kSmallArray:
      case kLargeArray:
        if (depth >= kMaxDepth) {
          return Status::Corruption("binary JSON nested deeper than {} levels", kMaxDepth);
        }
        return Container(type, data, depth + 1);
      case kLiteral: {
        const uint8_t v = r.U8();
        return Literal(v, r.ok());
      }
      case kInt16:
        AppendInt(out_, static_cast<int16_t>(r.U16()));
        break;
      case kUint16:
        AppendUInt(out_, r.U16());
        break;
      case kInt32:
        AppendInt(out_, static_cast<int32_t>(r.U32()));
        break;
      case kUint32:
        AppendUInt(out_, r.U32());
        break;
      case kInt64:
        AppendInt(out_, static_cast<int64_t>(r.U64()));
        break;
      case kUint64:
        AppendUInt(out_, r.U64());
        break;
      case kDouble: {
        const double d = r.F64();
        if (r.ok() && !std::isfinite(d)) {
          return Status::Corruption("binary JSON double is not finite");
        }
        fmt::format_to(std::back_inserter(out_), "{}", d);
        break;
      }
      case kString: {
        std::string_view s;
        RETURN_IF_ERROR(DataWithLength(r, "string", s));
        AppendJsonString(out_, s);
        break;
      }
      case kOpaque:
        return Opaque(r);
      default:
        return Status::Corruption("binary JSON has unknown value type {:#04x}", type);
    }
    if (!r.ok()) {
      return Status::Corruption("binary JSON value of type {:#04x} is truncated", type);
    }
    return Status::Ok();
  }

  Status Literal(uint8_t v, bool ok) {
    if (!ok) {
      return Status::Corruption("binary JSON literal is truncated");
    }
    switch (v) {
      case kNullLiteral:
        out_.append("null");
        return Status::Ok();
      case kTrueLiteral:
        out_.append("true");
        return Status::Ok();
      case kFalseLiteral:
        out_.append("false");
        return Status::Ok();
      default:
        return Status::Corruption("binary JSON literal has unknown value {:#04x}", v);
    }
  }

  static bool Inlined(uint8_t type, bool large) {
    switch (type) {
      case kLiteral:
      case kInt16:
      case kUint16:
        return true;
      case kInt32:
      case kUint32:
        return large;
      default:
        return false;
    }
  }

  Status InlinedValue(uint8_t type, uint32_t v) {
    switch (type) {
      case kLiteral:
        return Literal(static_cast<uint8_t>(v), true);
      case kInt16:
        AppendInt(out_, static_cast<int16_t>(v & 0xffff));
        break;
      case kUint16:
        AppendUInt(out_, v & 0xffff);
        break;
      case kInt32:
        AppendInt(out_, static_cast<int32_t>(v));
        break;
      default:
        AppendUInt(out_, v);
        break;
    }
    return Status::Ok();
  }

  Status Container(uint8_t type, std::string_view data, int depth) {
    const bool object = type == kSmallObject || type == kLargeObject;
    const bool large = type == kLargeObject || type == kLargeArray;
    const char* what = object ? "object" : "array";
    const size_t osz = large ? 4 : 2;
    ByteReader r(data);
    const uint64_t count = r.UInt(osz);
    const uint64_t bytes = r.UInt(osz);
    if (!r.ok()) {
      return Status::Corruption("binary JSON {} header is truncated", what);
    }
    if (bytes > data.size()) {
      return Status::Corruption("binary JSON {} claims {} bytes, only {} present", what, bytes, data.size());
    }
    const size_t key_entry = osz + 2;
    const size_t value_entry = 1 + osz;
    const uint64_t header = 2 * osz + count * ((object ? key_entry : 0) + value_entry);
    if (header > bytes) {
      return Status::Corruption("binary JSON {} of {} bytes cannot hold {} entries", what, bytes, count);
    }
    data = data.substr(0, static_cast<size_t>(bytes));
    const size_t values_at = 2 * osz + (object ? static_cast<size_t>(count) * key_entry : 0);

    out_.push_back(object ? '{' : '[');
    for (size_t i = 0; i < count; ++i) {
      if (i) {
        out_.push_back(',');
      }
      if (object) {
        r.Seek(2 * osz + i * key_entry);
        const uint64_t key_offset = r.UInt(osz);
        const uint64_t key_length = r.U16();
        if (key_offset > bytes || key_length > bytes - key_offset) {
          return Status::Corruption("binary JSON object key {} at {}+{} lies outside the object's {} bytes", i,
                                    key_offset, key_length, bytes);
        }
        AppendJsonString(out_, data.substr(static_cast<size_t>(key_offset), static_cast<size_t>(key_length)));
        out_.push_back(':');
      }
      r.Seek(values_at + i * value_entry);
      const uint8_t value_type = r.U8();
      const uint64_t offset_or_value = r.UInt(osz);
      if (Inlined(value_type, large)) {
        RETURN_IF_ERROR(InlinedValue(value_type, static_cast<uint32_t>(offset_or_value)));
        continue;
      }
      if (offset_or_value >= bytes) {
        return Status::Corruption("binary JSON {} element {} at offset {} lies outside the {}'s {} bytes", what, i,
                                  offset_or_value, what, bytes);
      }
      RETURN_IF_ERROR(Print(value_type, data.substr(static_cast<size_t>(offset_or_value)), depth));
    }
    out_.push_back(object ? '}' : ']');
    return Status::Ok();
  }

  // data-length: up to 5 bytes of 7 bits, least significant first.
  static Status DataWithLength(ByteReader& r, const char* what, std::string_view& bytes) {
    uint64_t len = 0;
    for (int i = 0;; ++i) {
      if (i == 5) {
        return Status::Corruption("binary JSON {} length is longer than 5 bytes", what);
      }
      const uint8_t b = r.U8();
      if (!r.ok()) {
        return Status::Corruption("binary JSON {} length is truncated", what);
      }
      len |= uint64_t{b & 0x7fu} << (7 * i);
      if ((b & 0x80) == 0) {
        break;
      }
    }
    if (len > r.remaining()) {
      return Status::Corruption("binary JSON {} of {} bytes runs past its container ({} bytes left)", what, len,
                                r.remaining());
    }
    bytes = r.Bytes(static_cast<size_t>(len));
    return Status::Ok();
  }

  // Opaque values: what MySQL's JSON functions show for them.
  Status Opaque(ByteReader& r) {
    const uint8_t field_type = r.U8();
    if (!r.ok()) {
      return Status::Corruption("binary JSON opaque value is truncated");
    }
    std::string_view data;
    RETURN_IF_ERROR(DataWithLength(r, "opaque value", data));
    switch (field_type) {
      case kTypeNewDecimal: {
        // precision(1) scale(1) binary decimal
        if (data.size() < 2) {
          return Status::Corruption("binary JSON DECIMAL is truncated");
        }
        char buf[kMaxDecimalTextSize];
        size_t len = 0;
        Status st =
            FormatDecimalBinary(data.substr(2), static_cast<uint8_t>(data[0]), static_cast<uint8_t>(data[1]), buf, len);
        if (!st.ok()) {
          return st.WithContext("binary JSON");
        }
        out_.append(buf, len);
        return Status::Ok();
      }
      case kTypeDate:
      case kTypeDateTime:
      case kTypeTimestamp:
      case kTypeTime: {
        // The packed temporal (temporal.h), int64 little-endian.
        if (data.size() != 8) {
          return Status::Corruption("binary JSON temporal of type {} has {} bytes, not 8", field_type, data.size());
        }
        ByteReader v(data);
        const auto packed = static_cast<int64_t>(v.U64());
        char buf[kMaxTemporalTextSize];
        size_t len = 0;
        const bool ok = field_type == kTypeTime
                            ? FormatPackedTime(packed, kMaxFsp, buf, len)
                            : FormatPackedDateTime(packed, field_type == kTypeDate, kMaxFsp, buf, len);
        if (!ok) {
          return Status::Corruption("binary JSON temporal of type {} is out of range", field_type);
        }
        out_.push_back('"');
        out_.append(buf, len);
        out_.push_back('"');
        return Status::Ok();
      }
      default:
        out_.append("\"base64:type");
        AppendUInt(out_, field_type);
        out_.push_back(':');
        AppendBase64(out_, data);
        out_.push_back('"');
        return Status::Ok();
    }
  }

  std::string& out_;
  size_t max_output_ = 0;
};

// ---- partial updates -------------------------------------------------------

// A JSON DOM that keeps numbers as written, so that values the diffs do not
// touch come out exactly as they went in.
struct JNode {
  enum class Kind : uint8_t { kNull, kTrue, kFalse, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  std::string text;               // kNumber: as written; kString: unescaped
  std::vector<JNode> items;       // kArray elements, kObject member values
  std::vector<std::string> keys;  // kObject member names, parallel to items
};

// Builds a JNode from nlohmann's SAX events.
class JNodeBuilder {
 public:
  using json = nlohmann::json;

  explicit JNodeBuilder(JNode& root) : root_(root) {}

  bool null() {
    Add(JNode::Kind::kNull);
    return true;
  }
  bool boolean(bool v) {
    Add(v ? JNode::Kind::kTrue : JNode::Kind::kFalse);
    return true;
  }
  bool number_integer(json::number_integer_t v) { return Number(fmt::format_int(v).str()); }
  bool number_unsigned(json::number_unsigned_t v) { return Number(fmt::format_int(v).str()); }
  bool number_float(json::number_float_t, const json::string_t& s) { return Number(s); }
  bool string(json::string_t& s) {
    Add(JNode::Kind::kString)->text = std::move(s);
    return true;
  }
  bool binary(json::binary_t&) { return false; }  // not produced by the text parser
  bool start_object(std::size_t) { return Open(JNode::Kind::kObject); }
  bool key(json::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(JNode::Kind::kArray); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_ = fmt::format("at byte {}: {}", position, e.what());
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  JNode* Add(JNode::Kind kind) {
    JNode* n;
    if (stack_.empty()) {
      n = &root_;
    } else {
      JNode* parent = stack_.back();
      if (parent->kind == JNode::Kind::kObject) {
        parent->keys.push_back(std::move(key_));
      }
      n = &parent->items.emplace_back();
    }
    n->kind = kind;
    return n;
  }
  bool Number(const std::string& text) {
    Add(JNode::Kind::kNumber)->text = text;
    return true;
  }
  bool Open(JNode::Kind kind) {
    if (stack_.size() >= static_cast<size_t>(kMaxDepth)) {
      error_ = fmt::format("nested deeper than {} levels", kMaxDepth);
      return false;
    }
    // Children are only appended to the innermost open node, so pointers to
    // the outer ones stay valid while they are on the stack.
    stack_.push_back(Add(kind));
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }

  JNode& root_;
  std::vector<JNode*> stack_;
  std::string key_;
  std::string error_;
};

Status ParseJNode(std::string_view text, JNode& out, const char* what) {
  out = JNode();
  JNodeBuilder builder(out);
  if (!nlohmann::json::sax_parse(text, &builder)) {
    return Status::Corruption("{} is not valid JSON: {}", what, builder.error());
  }
  return Status::Ok();
}

// MySQL's member order: shorter keys first, equal lengths bytewise.
bool MysqlKeyLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return a.size() < b.size();
  }
  return std::memcmp(a.data(), b.data(), a.size()) < 0;
}

void Serialize(const JNode& n, std::string& out) {
  switch (n.kind) {
    case JNode::Kind::kNull:
      out.append("null");
      return;
    case JNode::Kind::kTrue:
      out.append("true");
      return;
    case JNode::Kind::kFalse:
      out.append("false");
      return;
    case JNode::Kind::kNumber:
      out.append(n.text);
      return;
    case JNode::Kind::kString:
      AppendJsonString(out, n.text);
      return;
    case JNode::Kind::kArray:
      out.push_back('[');
      for (size_t i = 0; i < n.items.size(); ++i) {
        if (i) {
          out.push_back(',');
        }
        Serialize(n.items[i], out);
      }
      out.push_back(']');
      return;
    case JNode::Kind::kObject: {
      std::vector<size_t> order(n.items.size());
      for (size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
      }
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return MysqlKeyLess(n.keys[a], n.keys[b]); });
      out.push_back('{');
      for (size_t i = 0; i < order.size(); ++i) {
        if (i) {
          out.push_back(',');
        }
        AppendJsonString(out, n.keys[order[i]]);
        out.push_back(':');
        Serialize(n.items[order[i]], out);
      }
      out.push_back('}');
      return;
    }
  }
}

// One leg of a JSON path: ".member", "[n]" or "[last-n]".
struct PathLeg {
  bool member = false;
  bool from_last = false;  // [last] / [last-n]: index counts back from the end
  uint64_t index = 0;
  std::string name;
};

// Parses the path text Json_path::to_string writes: "$" followed by legs;
// member names unquoted when they are identifiers, else JSON string literals.
Status ParsePath(std::string_view text, std::vector<PathLeg>& legs) {
  legs.clear();
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
      ++i;
    }
  };
  auto bad = [&](const char* why) {
    return Status::Corruption("JSON diff path \"{}\" is invalid at byte {}: {}", text, i, why);
  };
  skip_space();
  if (i >= text.size() || text[i] != '$') {
    return bad("does not start with '$'");
  }
  ++i;
  while (true) {
    skip_space();
    if (i >= text.size()) {
      break;
    }
    PathLeg leg;
    if (text[i] == '.') {
      ++i;
      skip_space();
      leg.member = true;
      if (i < text.size() && text[i] == '"') {
        size_t end = i + 1;
        while (end < text.size() && text[end] != '"') {
          end += text[end] == '\\' ? 2 : 1;
        }
        if (end >= text.size()) {
          return bad("unterminated quoted member name");
        }
        const nlohmann::json name = nlohmann::json::parse(text.substr(i, end + 1 - i), nullptr, false);
        if (!name.is_string()) {
          return bad("malformed quoted member name");
        }
        leg.name = name.get<std::string>();
        i = end + 1;
      } else {
        const size_t start = i;
        while (i < text.size() && text[i] != '.' && text[i] != '[' && text[i] != ' ') {
          ++i;
        }
        if (i == start) {
          return bad("empty member name");
        }
        leg.name.assign(text.substr(start, i - start));
        if (leg.name == "*") {
          return bad("wildcards cannot appear in a diff path");
        }
      }
    } else if (text[i] == '[') {
      ++i;
      skip_space();
      bool has_number = true;
      if (text.substr(i).starts_with("last")) {
        // "[last]" or "[last-n]"
        leg.from_last = true;
        i += 4;
        skip_space();
        has_number = i < text.size() && text[i] == '-';
        if (has_number) {
          ++i;
          skip_space();
        }
      }
      if (has_number) {
        const size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
          if (leg.index > (UINT64_MAX - 9) / 10) {
            return bad("array index too large");
          }
          leg.index = leg.index * 10 + static_cast<uint64_t>(text[i] - '0');
          ++i;
        }
        if (i == start) {
          return bad("expected an array index");
        }
      }
      skip_space();
      if (i >= text.size() || text[i] != ']') {
        return bad("expected ']'");
      }
      ++i;
    } else {
      return bad("expected '.' or '['");
    }
    legs.push_back(std::move(leg));
  }
  return Status::Ok();
}

// The element a leg selects in an array of `size`, if within bounds.
bool ElementIndex(const PathLeg& leg, size_t size, size_t& index) {
  if (leg.index >= size) {
    return false;
  }
  index = leg.from_last ? size - 1 - static_cast<size_t>(leg.index) : static_cast<size_t>(leg.index);
  return true;
}

// Where INSERT puts a new element (MySQL's Json_array_index): clamped into
// [0, size], so an index past the end appends.
size_t InsertPosition(const PathLeg& leg, size_t size) {
  if (leg.from_last) {
    return leg.index < size ? size - 1 - static_cast<size_t>(leg.index) : 0;
  }
  return leg.index < size ? static_cast<size_t>(leg.index) : size;
}

ptrdiff_t FindMember(const JNode& object, std::string_view name) {
  for (size_t i = 0; i < object.keys.size(); ++i) {
    if (object.keys[i] == name) {
      return static_cast<ptrdiff_t>(i);
    }
  }
  return -1;
}

// Follows legs [0, n) from root; nullptr if any is missing.
JNode* Seek(JNode& root, const std::vector<PathLeg>& legs, size_t n) {
  JNode* node = &root;
  for (size_t i = 0; i < n; ++i) {
    const PathLeg& leg = legs[i];
    if (node->kind == JNode::Kind::kObject && leg.member) {
      const ptrdiff_t at = FindMember(*node, leg.name);
      if (at < 0) {
        return nullptr;
      }
      node = &node->items[static_cast<size_t>(at)];
    } else if (node->kind == JNode::Kind::kArray && !leg.member) {
      size_t at;
      if (!ElementIndex(leg, node->items.size(), at)) {
        return nullptr;
      }
      node = &node->items[at];
    } else {
      return nullptr;
    }
  }
  return node;
}

enum class DiffOp : uint8_t { kReplace = 0, kInsert = 1, kRemove = 2 };

const char* OpName(DiffOp op) {
  switch (op) {
    case DiffOp::kReplace:
      return "REPLACE";
    case DiffOp::kInsert:
      return "INSERT";
    default:
      return "REMOVE";
  }
}

// Applies one diff; a false return means the before image does not have the
// shape the diff expects.
bool ApplyDiff(JNode& root, DiffOp op, const std::vector<PathLeg>& legs, JNode&& value, const char*& why) {
  if (legs.empty()) {
    why = "the diff path is the document root";
    return false;
  }
  if (op == DiffOp::kReplace) {
    JNode* target = Seek(root, legs, legs.size());
    if (!target) {
      why = "the path does not exist";
      return false;
    }
    *target = std::move(value);
    return true;
  }
  JNode* parent = Seek(root, legs, legs.size() - 1);
  if (!parent) {
    why = "the parent of the path does not exist";
    return false;
  }
  const PathLeg& last = legs.back();
  if (parent->kind == JNode::Kind::kObject && last.member) {
    const ptrdiff_t at = FindMember(*parent, last.name);
    if (op == DiffOp::kInsert) {
      if (at >= 0) {
        why = "the member already exists";
        return false;
      }
      parent->keys.push_back(last.name);
      parent->items.push_back(std::move(value));
      return true;
    }
    if (at < 0) {
      why = "the member does not exist";
      return false;
    }
    parent->keys.erase(parent->keys.begin() + at);
    parent->items.erase(parent->items.begin() + at);
    return true;
  }
  if (parent->kind == JNode::Kind::kArray && !last.member) {
    if (op == DiffOp::kInsert) {
      const size_t at = InsertPosition(last, parent->items.size());
      parent->items.insert(parent->items.begin() + static_cast<ptrdiff_t>(at), std::move(value));
      return true;
    }
    size_t at;
    if (!ElementIndex(last, parent->items.size(), at)) {
      why = "the array index is out of bounds";
      return false;
    }
    parent->items.erase(parent->items.begin() + static_cast<ptrdiff_t>(at));
    return true;
  }
  why = "the path's last leg does not match the type of its parent";
  return false;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the pending stretch of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, 6);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

Status DecodeJsonBinary(std::string_view bytes, std::string& out) {
  out.clear();
  return JsonPrinter(out).Document(bytes);
}

Status ApplyJsonDiffs(std::string_view diff_blob, std::string_view before_json_text, std::string& out_json_text) {
  JNode root;
  RETURN_IF_ERROR(ParseJNode(before_json_text, root, "JSON before image"));

  ByteReader r(diff_blob);
  std::vector<PathLeg> legs;
  std::string value_text;
  for (int n = 1; !r.at_end(); ++n) {
    const uint8_t op_byte = r.U8();
    if (op_byte > static_cast<uint8_t>(DiffOp::kRemove)) {
      return Status::Corruption("JSON diff {} has unknown operation {}", n, op_byte);
    }
    const auto op = static_cast<DiffOp>(op_byte);
    const uint64_t path_len = r.LenEnc();
    if (!r.ok() || path_len > r.remaining()) {
      return Status::Corruption("JSON diff {} ({}): path is truncated", n, OpName(op));
    }
    const std::string_view path = r.Bytes(static_cast<size_t>(path_len));
    RETURN_IF_ERROR(ParsePath(path, legs));

    JNode value;
    if (op != DiffOp::kRemove) {
      const uint64_t value_len = r.LenEnc();
      if (!r.ok() || value_len > r.remaining()) {
        return Status::Corruption("JSON diff {} ({} {}): value is truncated", n, OpName(op), path);
      }
      Status st = DecodeJsonBinary(r.Bytes(static_cast<size_t>(value_len)), value_text);
      if (!st.ok()) {
        return st.WithContext(fmt::format("JSON diff {} ({} {})", n, OpName(op), path));
      }
      RETURN_IF_ERROR(ParseJNode(value_text, value, "JSON diff value"));
    }
    const char* why = "";
    if (!ApplyDiff(root, op, legs, std::move(value), why)) {
      return Status::Corruption("JSON diff {} ({} {}) does not apply to the before image: {}", n, OpName(op), path,
                                why);
    }
  }
  out_json_text.clear();
  Serialize(root, out_json_text);
  return Status::Ok();
}

Status DecodeJsonPartialColumn(ByteReader& r, const ColumnMeta& col, std::string_view before_json, Arena& arena,
                               Value& out) {
  // The diff vector's length is always 4 bytes (Json_diff_vector's
  // ENCODED_LENGTH_BYTES), whatever the column's own length-prefix size.
  constexpr size_t kDiffVectorLengthBytes = 4;
  std::string_view blob;
  RETURN_IF_ERROR(internal::ReadPrefixed(r, col, kDiffVectorLengthBytes, blob));
  thread_local std::string text;
  Status st = ApplyJsonDiffs(blob, before_json, text);
  if (!st.ok()) {
    r.Fail();
    return st;
  }
  out = Value::Str(ValueKind::kJson, arena.Copy(text));
  return Status::Ok();
}

namespace internal {

// JSON (MySQL 5.7+; meta = length-prefix size, 4 in practice): the length,
// then one binary JSON document (see JsonPrinter). An empty value is JSON
// null.
Status DecodeJson(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  std::string_view raw;
  RETURN_IF_ERROR(ReadPrefixed(r, col, col.meta, raw));
  // Rendered into a per-thread buffer and copied once: the text's size is not
  // known up front, and the arena cannot grow an allocation in place.
  thread_local std::string text;
  Status st = DecodeJsonBinary(raw, text);
  if (!st.ok()) {
    r.Fail();
    return st;
  }
  out = Value::Str(ValueKind::kJson, arena.Copy(text));
  if (text.capacity() > (8u << 20)) {
    std::string().swap(text);  // don't pin a huge document per thread
  }
  return Status::Ok();
}

}  // namespace internal
}  // namespace sluice::mysql
