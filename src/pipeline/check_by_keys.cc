// The check of a target that is not MySQL (pipeline/check_target.h): rows
// compared by keys through a sink::RowReader, because a target's collation
// orders strings differently from MySQL's and the same key range would
// select different rows there.

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_set>

#include "pipeline/check_target.h"
#include "sink/registry.h"
#include "source/postgres/pg_value.h"

namespace sluice::pipeline {

namespace {

// Integral numbers as integers: 1.0, 1 and 1e0 are one number.
void CanonicalNumbers(nlohmann::json& j) {
  if (j.is_object() || j.is_array()) {
    for (auto& v : j) CanonicalNumbers(v);
  } else if (j.is_number_float()) {
    double d = j.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15) {
      j = static_cast<int64_t>(d);
    }
  }
}

}  // namespace

std::optional<std::string> CanonicalJson(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  CanonicalNumbers(j);
  try {
    return j.dump();
  } catch (const nlohmann::json::exception&) {  // invalid UTF-8 in a string: compare the text as is
    return std::nullopt;
  }
}

namespace detail {
namespace {

// Target keys per page of the extras scan (and source lookups per page).
constexpr size_t kKeyPage = 1000;

}  // namespace

mysql::KeyPart MysqlKeyPart(const Value& v, const ColumnMeta& column) {
  mysql::KeyPart p;
  switch (v.kind) {
    case ValueKind::kNull:
    case ValueKind::kAbsent:
      return p;
    case ValueKind::kInt:
    case ValueKind::kYear:
      p.text = std::to_string(v.i);
      return p;
    case ValueKind::kUInt:
      p.text = std::to_string(v.u);
      return p;
    case ValueKind::kBit: {
      // The text protocol's BIT: its bytes, most significant first.
      const unsigned bits = ((column.meta >> 8) & 0xff) * 8u + (column.meta & 0xff);
      const unsigned bytes = std::max(1u, (bits + 7) / 8);
      std::string b;
      for (unsigned i = bytes; i-- > 0;) b += static_cast<char>(i < 8 ? (v.u >> (8 * i)) & 0xff : 0);
      p.text = std::move(b);
      p.binary = true;
      return p;
    }
    case ValueKind::kFloat:
      p.text = fmt::format("{}", static_cast<float>(v.d));
      return p;
    case ValueKind::kDouble:
      p.text = fmt::format("{}", v.d);
      return p;
    default:
      p.text = std::string(v.s);
      p.binary = v.kind == ValueKind::kBytes || v.kind == ValueKind::kGeometry || column.charset == Charset::kBinary;
      return p;
  }
}

mysql::KeyPart PgKeyPart(const Value& v) {
  if (v.kind != ValueKind::kBytes && v.kind != ValueKind::kGeometry) {
    // Numbers print alike; text, decimals, temporals (timestamptz in UTC,
    // the session's zone), JSON and booleans (true/false, 1/0) are taken as is.
    mysql::KeyPart p = MysqlKeyPart(v, ColumnMeta{});
    p.binary = false;
    return p;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex = "\\x";
  for (unsigned char c : v.s) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  mysql::KeyPart p;
  p.text = std::move(hex);
  return p;
}

Status DecodeKeyPart(const ColumnMeta& column, const mysql::KeyPart& part, Arena& arena, Value& out) {
  if (column.pg_type_oid == 0) {
    return mysql::DecodeTextValue(column, part.text ? part.text->data() : nullptr, part.text ? part.text->size() : 0,
                                  arena, out);
  }
  if (!part.text) {
    out = Value::Null();
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(auto type, postgres::ResolvePgType(column.pg_type_oid, nullptr));
  ASSIGN_OR_RETURN(out, postgres::DecodePgText(*type, *part.text, arena));
  const std::string& text = *part.text;
  if (!out.s.empty() && out.s.data() >= text.data() && out.s.data() < text.data() + text.size()) {
    out.s = arena.Copy(out.s);  // a view into the key's text
  }
  return Status::Ok();
}

void FitPgReadBack(Value& v, const ColumnMeta& column, Arena& arena) {
  constexpr uint32_t kBool = 16, kNumeric = 1700;
  if (column.pg_type_oid == kBool && (v.kind == ValueKind::kJson || v.kind == ValueKind::kText)) {
    if (v.s == "true" || v.s == "false") v = Value::Int(v.s == "true" ? 1 : 0);
  } else if (column.pg_type_oid == kNumeric && v.kind == ValueKind::kDecimal) {
    v.s = arena.Copy(sink::FitFraction(v.s, column.meta & 0xff));
  }
}

std::vector<RowMismatch> CompareRows(std::span<const Value> source, std::span<const Value> target, size_t width,
                                     const std::vector<uint32_t>& key, Arena& arena,
                                     const std::function<void(Value&, size_t)>& fit) {
  std::vector<Value> sides[2] = {{source.begin(), source.end()}, {target.begin(), target.end()}};
  for (std::vector<Value>& side : sides) {
    for (size_t i = 0; i < side.size(); ++i) {
      Value& v = side[i];
      if (fit) fit(v, i % width);
      // Equal documents compare equal whichever side normalized them.
      if (v.kind != ValueKind::kJson) continue;
      if (auto c = CanonicalJson(v.s)) v.s = arena.Copy(*c);
    }
  }
  return DiffRows(sides[0], sides[1], width, key);
}

Status TargetCheck::PrepareTableByKeys(Table& t) {
  const SourcePlan& src = *t.src;
  const TargetTable& tt = *src.mapping->target;
  ASSIGN_OR_RETURN(std::string missing, main_.rows->CheckTable(tt));
  if (!missing.empty()) {
    t.report.error = missing;
    return Status::Ok();
  }
  // Target key i is source column source_index[key[i]]: its place in the
  // source reader's key, by which source rows are looked up.
  const std::vector<uint32_t>& reader_key = src.key();
  for (uint32_t k : tt.key) {
    auto it = std::find(reader_key.begin(), reader_key.end(), src.mapping->source_index[k]);
    if (it == reader_key.end()) {
      t.report.error = fmt::format("key column `{}` of the target is not a key column of the source", tt.columns[k]);
      return Status::Ok();
    }
    t.source_key_pos.push_back(static_cast<uint32_t>(it - reader_key.begin()));
  }
  if (tt.has_key() && reader_key.size() != tt.key.size()) {
    t.report.error = "the target's key is not the source's key";
    return Status::Ok();
  }
  // Merged tables: one key tuple looks a row up in every member.
  for (const SourcePlan* m : t.members) {
    for (size_t i = 0; i < tt.key.size(); ++i) {
      if (m->key()[t.source_key_pos[i]] != m->mapping->source_index[tt.key[i]]) {
        t.report.error = fmt::format("source tables {} and {} are merged into this table with their keys in another "
                                     "order (not checked)",
                                     src.table.name(), m->table.name());
        return Status::Ok();
      }
    }
  }
  t.chunks.resize(SourceChunks(t) + (src.keyed() && !t.extras_left_out ? 1 : 0));
  t.report.chunks = t.chunks.size();
  return Status::Ok();
}

mysql::KeyPart TargetCheck::SourceKeyPart(const Table& t, const Value& v, size_t i) const {
  const TargetTable& tt = *t.src->mapping->target;
  return t.src->pg_reader ? PgKeyPart(v) : MysqlKeyPart(v, tt.column_meta(tt.key[i]));
}

std::function<void(Value&, size_t)> TargetCheck::Fit(const Table& t, Arena& arena) const {
  if (!t.src->pg_reader) return {};
  const TargetTable* tt = t.src->mapping->target.get();
  return [tt, &arena](Value& v, size_t column) { FitPgReadBack(v, tt->column_meta(column), arena); };
}

Status TargetCheck::KeyValues(const Table& t, const std::vector<KeyTuple>& keys, Arena& arena,
                              std::vector<Value>& out) const {
  const SourcePlan& src = *t.src;
  const std::vector<uint32_t>& reader_key = src.key();
  const size_t kw = t.source_key_pos.size();
  for (const KeyTuple& key : keys) {
    if (key.size() != reader_key.size()) continue;
    const size_t base = out.size();
    out.resize(base + kw);
    for (size_t i = 0; i < kw; ++i) {
      const mysql::KeyPart& part = key[t.source_key_pos[i]];
      const ColumnMeta& col = src.schema->columns[reader_key[t.source_key_pos[i]]];
      RETURN_IF_ERROR(DecodeKeyPart(col, part, arena, out[base + i]));
    }
  }
  return Status::Ok();
}

Result<std::vector<KeyTuple>> TargetCheck::ScanExtraKeys(Session& s, sink::RowReader& rows, const Table& t) {
  const TargetTable& tt = *t.src->mapping->target;
  const size_t kw = tt.key.size();
  std::vector<KeyTuple> extra;
  std::unordered_set<std::string> seen;
  sink::KeyCursor cursor;
  std::string buf;
  while (!cursor.done) {
    if (cancelled()) return Status::Error(StatusCode::kCancelled, "cancelled");
    ASSIGN_OR_RETURN(RowBlock page, rows.ReadKeyPage(tt, cursor, kKeyPage));
    const size_t n = page.rows();
    if (n == 0) continue;
    // The page's keys as source key tuples, looked up on the source.
    std::vector<KeyTuple> tuples(n, KeyTuple(kw));
    for (size_t r = 0; r < n; ++r) {
      for (size_t i = 0; i < kw; ++i) {
        tuples[r][t.source_key_pos[i]] = SourceKeyPart(t, page.values[r * kw + i], i);
      }
    }
    ASSIGN_OR_RETURN(RowBlock found, t.merged() ? MembersRows(s, t.members, nullptr, &tuples)
                                                : s.SourceKeys(*t.src, tuples));
    ASSIGN_OR_RETURN(Compared c, Project(t, found));  // rows the `where:` leaves out are not there
    std::unordered_set<std::string> present;
    const size_t width = t.src->width();
    const auto fit = Fit(t, *page.arena);
    auto append = [&](Value v, uint32_t column) {
      if (fit) fit(v, column);
      AppendValueBytes(buf, v);
    };
    for (size_t r = 0; r < c.source_rows.size(); ++r) {
      buf.clear();
      for (uint32_t k : tt.key) append(c.source[r * width + k], k);
      present.insert(buf);
    }
    for (size_t r = 0; r < n; ++r) {
      buf.clear();
      for (size_t i = 0; i < kw; ++i) append(page.values[r * kw + i], tt.key[i]);
      // A key paged twice (Redis SCAN may return one again) is one extra row.
      if (!present.count(buf) && seen.insert(buf).second) extra.push_back(std::move(tuples[r]));
    }
  }
  return extra;
}

Result<TargetCheck::ByKeysRead> TargetCheck::ReadChunkByKeys(Session& s, sink::RowReader& rows, const Table& t,
                                                             uint32_t chunk, const std::vector<KeyTuple>* keys) {
  const SourcePlan& plan = *t.src;
  const TargetTable& tt = *plan.mapping->target;
  ByKeysRead r;
  std::vector<KeyTuple> extra;
  const KeyRange whole;
  if (!plan.keyed()) {
    ASSIGN_OR_RETURN(r.src, t.merged() ? MembersRows(s, t.members, &whole, nullptr)
                                       : s.SourceRange(plan, whole, false));
    ASSIGN_OR_RETURN(r.dst, rows.ReadAll(tt));
  } else {
    if (keys == nullptr && chunk == ExtrasChunk(t)) {
      ASSIGN_OR_RETURN(extra, ScanExtraKeys(s, rows, t));
      keys = &extra;
    }
    std::vector<Value> lookup;
    if (keys != nullptr) {
      ASSIGN_OR_RETURN(r.src, t.merged() ? MembersRows(s, t.members, nullptr, keys) : s.SourceKeys(plan, *keys));
      RETURN_IF_ERROR(KeyValues(t, *keys, *r.dst.arena, lookup));
    } else if (t.merged()) {
      auto [member, member_chunk] = MemberChunk(t, chunk);
      const KeyRange range = member->Range(member_chunk);
      ASSIGN_OR_RETURN(r.src, MembersRows(s, std::span<const SourcePlan* const>(&member, 1), &range, nullptr));
    } else {
      ASSIGN_OR_RETURN(r.src, s.SourceRange(plan, plan.Range(chunk), true));
    }
    ASSIGN_OR_RETURN(r.c, Project(t, r.src));
    if (keys == nullptr) {
      const size_t width = plan.width();
      for (size_t i = 0; i < r.c.source_rows.size(); ++i) {
        for (uint32_t k : tt.key) lookup.push_back(r.c.source[i * width + k]);
      }
    }
    auto arena = std::move(r.dst.arena);  // keeps the lookup keys' bytes
    ASSIGN_OR_RETURN(r.dst, rows.ReadKeys(tt, lookup));
    // Each target row's key as a source key tuple (for re-reads and reports).
    const size_t kw = tt.key.size();
    for (size_t i = 0; i < r.dst.rows(); ++i) {
      auto row = r.dst.row(i);
      KeyTuple key(kw);
      for (size_t j = 0; j < kw; ++j) key[t.source_key_pos[j]] = SourceKeyPart(t, row[tt.key[j]], j);
      r.dst.keys.push_back(std::move(key));
    }
  }
  if (!plan.keyed()) {
    ASSIGN_OR_RETURN(r.c, Project(t, r.src));
  }
  r.c.mismatches = CompareRows(r.c.source, r.dst.values, plan.width(), tt.key, *r.src.arena, Fit(t, *r.src.arena));
  if (t.extras_left_out) LeaveOutExtras(r.c.mismatches);
  if (plan.keyed() && chunk == ExtrasChunk(t)) {
    // Only the extra rows are this chunk's: a source row its keys found
    // (another spelling of the key under MySQL's collation, say) belongs to
    // the source chunk that reports it.
    std::erase_if(r.c.mismatches, [](const RowMismatch& m) { return m.kind != DiffKind::kExtra; });
  }
  return r;
}

Status TargetCheck::CompareChunkByKeys(Session& s, Table& t, uint32_t chunk) {
  auto r = ReadChunkByKeys(s, *s.rows, t, chunk, nullptr);
  if (!r.ok()) return r.status().WithContext(Where(t, chunk));
  ChunkState st = ToState(t, chunk, r->c, r->src, r->dst);
  if (t.src->keyed() && chunk == ExtrasChunk(t)) st.rows = 0;  // source rows are counted in their chunks
  Store(t, chunk, std::move(st));
  return Status::Ok();
}

Status TargetCheck::RecheckChunkByKeys(Session& s, Table& t, uint32_t chunk) {
  auto keys = KeysOf(t, chunk);
  if (!keys) return CompareChunkByKeys(s, t, chunk);
  auto r = ReadChunkByKeys(s, *s.rows, t, chunk, &*keys);
  if (!r.ok()) return r.status().WithContext(Where(t, chunk));
  ChunkState st = ToState(t, chunk, r->c, r->src, r->dst);
  {
    std::lock_guard lock(t.mu);
    st.rows = t.chunks[chunk].rows;  // only some keys were read again
  }
  Store(t, chunk, std::move(st));
  return Status::Ok();
}

Status TargetCheck::RepairChunkByKeys(Session& s, Table& t, uint32_t chunk) {
  auto keys = KeysOf(t, chunk);
  const std::vector<KeyTuple>* by_keys = keys ? &*keys : nullptr;
  const TargetTablePtr& table = t.src->mapping->target;
  ASSIGN_OR_RETURN(uint64_t written, RepairThroughChunkTarget(
                                         s.chunks, sink_options_, options_.interrupter, Where(t, chunk),
                                         [&]() -> Result<std::vector<SinkChange>> {
                                           ASSIGN_OR_RETURN(ByKeysRead r, ReadChunkByKeys(s, *s.rows, t, chunk, by_keys));
                                           return RepairChanges(table, r.c.mismatches, r.c.source, r.dst.values);
                                         },
                                         nullptr));
  std::lock_guard lock(t.mu);
  t.report.repaired_rows += written;
  return Status::Ok();
}

}  // namespace detail
}  // namespace sluice::pipeline
