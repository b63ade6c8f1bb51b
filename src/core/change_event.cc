#include "core/change_event.h"

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "core/position.h"

namespace sluice {
namespace {

// PostgreSQL positions name their transaction by its commit LSN
// ("0/16B3748"), which orders by value, not as text. Binlog file names
// never hold a '/'.
bool LsnOf(std::string_view file, uint64_t* out) {
  if (file.find('/') == std::string_view::npos) return false;
  auto lsn = Lsn::Parse(file);
  if (!lsn.ok()) return false;
  *out = lsn->value;
  return true;
}

// Binlog files are PREFIX.NNNNNN: order by the number, then by name.
uint64_t FileSequence(std::string_view file) {
  size_t dot = file.rfind('.');
  if (dot == std::string_view::npos) return 0;
  uint64_t n = 0;
  auto r = std::from_chars(file.data() + dot + 1, file.data() + file.size(), n);
  return r.ec == std::errc() ? n : 0;
}

bool IsTextual(ValueKind k) {
  switch (k) {
    case ValueKind::kNull: case ValueKind::kAbsent: case ValueKind::kInt: case ValueKind::kUInt:
    case ValueKind::kFloat: case ValueKind::kDouble: case ValueKind::kYear: case ValueKind::kBit:
      return false;
    default:
      return true;
  }
}

size_t ImageBytes(const std::vector<Value>* image) {
  size_t n = 0;
  if (image) {
    for (const Value& v : *image) {
      if (IsTextual(v.kind)) n += v.s.size();
    }
  }
  return n;
}

void CopyImage(const std::vector<Value>* src, OwnedImage& dst, std::vector<char>& bytes, size_t& used) {
  dst.present = src != nullptr;
  dst.values.clear();
  if (!src) return;
  dst.values.assign(src->begin(), src->end());
  for (Value& v : dst.values) {
    if (!IsTextual(v.kind) || v.s.empty()) continue;
    char* p = bytes.data() + used;
    std::memcpy(p, v.s.data(), v.s.size());
    v.s = std::string_view(p, v.s.size());
    used += v.s.size();
  }
}

}  // namespace

std::string StreamPos::ToString() const {
  if (index == kWholeTransaction) return fmt::format("{}:{}#end", file, txn_offset);
  return fmt::format("{}:{}#{}", file, txn_offset, index);
}

bool StreamPos::Parse(std::string_view text, StreamPos* out) {
  size_t hash = text.rfind('#');
  size_t colon = text.rfind(':', hash);
  if (hash == std::string_view::npos || colon == std::string_view::npos || colon == 0) return false;
  StreamPos p;
  p.file = std::string(text.substr(0, colon));
  std::string_view off = text.substr(colon + 1, hash - colon - 1);
  auto r = std::from_chars(off.data(), off.data() + off.size(), p.txn_offset);
  if (r.ec != std::errc() || r.ptr != off.data() + off.size()) return false;
  std::string_view idx = text.substr(hash + 1);
  if (idx == "end") {
    p.index = kWholeTransaction;
  } else {
    auto r2 = std::from_chars(idx.data(), idx.data() + idx.size(), p.index);
    if (r2.ec != std::errc() || r2.ptr != idx.data() + idx.size()) return false;
  }
  *out = std::move(p);
  return true;
}

std::string StreamPos::ResumePoint() const {
  if (is_lsn()) return Lsn{txn_offset}.ToString();
  return fmt::format("{}:{}", file, txn_offset);
}

std::string StreamPos::TransactionText() const {
  return is_lsn() ? file : fmt::format("{}:{}", file, txn_offset);
}

int StreamPos::Compare(const StreamPos& o) const {
  uint64_t la = 0, lb = 0;
  if (file != o.file && LsnOf(file, &la) && LsnOf(o.file, &lb)) {
    if (la != lb) return la < lb ? -1 : 1;
  } else {
    uint64_t a = FileSequence(file), b = FileSequence(o.file);
    if (a != b) return a < b ? -1 : 1;
    if (file != o.file) return file < o.file ? -1 : 1;
  }
  if (txn_offset != o.txn_offset) return txn_offset < o.txn_offset ? -1 : 1;
  if (index != o.index) return index < o.index ? -1 : 1;
  return 0;
}

void CopyRowChange(const RowChange& row, TableSchemaPtr table, ChangeEvent& out) {
  out.kind = ChangeEvent::Kind::kRow;
  out.op = row.op;
  out.table = std::move(table);
  out.ts_ms = row.ts_ms;
  out.gtid.assign(row.gtid);
  out.no_foreign_key_checks = row.no_foreign_key_checks;
  size_t total = ImageBytes(row.before) + ImageBytes(row.after);
  out.bytes.resize(total);
  size_t used = 0;
  CopyImage(row.before, out.before, out.bytes, used);
  CopyImage(row.after, out.after, out.bytes, used);
}

}  // namespace sluice
