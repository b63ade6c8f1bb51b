#include "transform/lua/lua_row_transform.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "client/mysql/column_types.h"

namespace sluice::transform::lua {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Scripts mostly return the names they were given: an exact match first
// (cheap), the case-insensitive one of MySQL column names after.
int FindColumn(const TableSchema& s, std::string_view name) {
  for (size_t i = 0; i < s.columns.size(); ++i) {
    if (s.columns[i].name == name) return static_cast<int>(i);
  }
  for (size_t i = 0; i < s.columns.size(); ++i) {
    if (EqualsIgnoreCase(s.columns[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

bool IsStringKind(ValueKind k) {
  switch (k) {
    case ValueKind::kDecimal:
    case ValueKind::kText:
    case ValueKind::kBytes:
    case ValueKind::kDate:
    case ValueKind::kDateTime:
    case ValueKind::kTimestamp:
    case ValueKind::kTime:
    case ValueKind::kEnum:
    case ValueKind::kSet:
    case ValueKind::kJson:
    case ValueKind::kGeometry:
      return true;
    default:
      return false;
  }
}

// The kind a source column's values have, from one image's value (NULL
// and absent say nothing).
ValueKind SourceKind(const ChangeEvent& ev, int col) {
  for (const OwnedImage* img : {&ev.after, &ev.before}) {
    if (!img->present || static_cast<size_t>(col) >= img->values.size()) continue;
    ValueKind k = img->values[static_cast<size_t>(col)].kind;
    if (k != ValueKind::kNull && k != ValueKind::kAbsent) return k;
  }
  return ValueKind::kNull;
}

// Can a script value stay in the source column's kind (and its type)?
bool Fits(ValueKind source, const ScriptValue& v) {
  using T = ScriptValue::Type;
  if (v.type == T::kNull) return true;
  switch (source) {
    case ValueKind::kNull:
      return false;
    case ValueKind::kInt:
    case ValueKind::kYear:
      return v.type == T::kInt;
    case ValueKind::kUInt:
    case ValueKind::kBit:
      return (v.type == T::kInt && v.i >= 0) ||
             (v.type == T::kString && !v.s.empty() && v.s.find_first_not_of("0123456789") == std::string_view::npos);
    case ValueKind::kFloat:
    case ValueKind::kDouble:
      return v.type == T::kFloat || v.type == T::kInt;
    default:
      return IsStringKind(source) && v.type == T::kString;
  }
}

// The kind of a column the script added or retyped.
ValueKind ScriptKind(const ScriptValue& v) {
  switch (v.type) {
    case ScriptValue::Type::kInt:
    case ScriptValue::Type::kBool:
      return ValueKind::kInt;
    case ScriptValue::Type::kFloat:
      return ValueKind::kDouble;
    default:
      return ValueKind::kText;  // strings, and NULL in a column the source does not have
  }
}

// The column type a target gets for a script-made column: BIGINT, DOUBLE
// or utf8mb4 LONGTEXT (tinyint for booleans reads as BIGINT 0/1).
ColumnMeta ScriptMadeColumn(std::string_view name, ValueKind kind) {
  ColumnMeta c;
  c.name = std::string(name);
  c.nullable = true;
  switch (kind) {
    case ValueKind::kInt:
      c.type = mysql::kTypeLongLong;
      break;
    case ValueKind::kDouble:
      c.type = mysql::kTypeDouble;
      c.meta = 8;
      break;
    default:
      c.type = mysql::kTypeBlob;
      c.meta = 4;
      c.charset = Charset::kUtf8;
      c.collation = 45;  // utf8mb4_general_ci
      break;
  }
  return c;
}

size_t StringBytes(const std::vector<Value>& values) {
  size_t n = 0;
  for (const Value& v : values) n += v.s.size();
  return n;
}

// Copies `s` into the event's storage, which was reserved large enough
// that earlier views stay valid.
std::string_view Keep(ChangeEvent& e, std::string_view s) {
  size_t at = e.bytes.size();
  e.bytes.insert(e.bytes.end(), s.begin(), s.end());
  return {e.bytes.data() + at, s.size()};
}

void CopyImage(ChangeEvent& e, const OwnedImage& from, OwnedImage& to) {
  to.present = from.present;
  to.values.reserve(from.values.size());
  for (Value v : from.values) {
    if (!v.s.empty()) v.s = Keep(e, v.s);
    to.values.push_back(v);
  }
}

std::string KeyText(const ChangeEvent& ev) {
  const TableSchema& s = *ev.table;
  const OwnedImage& img = ev.op == Op::kDelete ? ev.before : ev.after;
  const auto& key = s.primary_key.empty() ? s.unique_key : s.primary_key;
  std::string out;
  for (uint32_t k : key) {
    if (k >= img.values.size() || k >= s.columns.size()) continue;
    const Value& v = img.values[k];
    if (!out.empty()) out += ", ";
    out += s.columns[k].name + "=";
    switch (v.kind) {
      case ValueKind::kInt:
      case ValueKind::kYear:
        out += std::to_string(v.i);
        break;
      case ValueKind::kUInt:
      case ValueKind::kBit:
        out += std::to_string(v.u);
        break;
      case ValueKind::kNull:
        out += "NULL";
        break;
      default:
        out += fmt::format("'{}'", v.s.substr(0, 64));
    }
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace

TableSchemaPtr DerivedSchemas::Intern(const TableSchemaPtr& source, const std::string& signature,
                                      TableSchemaPtr made) {
  std::lock_guard lock(mu_);
  OfSource& of = by_source_[source.get()];
  if (!of.source) of.source = source;
  return of.by_signature.emplace(signature, std::move(made)).first->second;
}

Result<TableSchemaPtr> LuaRowTransform::Derived(const TableSchemaPtr& source) {
  const std::vector<int>& from = from_;
  const std::vector<ValueKind>& kinds = kinds_;
  const std::vector<uint8_t>& retyped = retyped_;
  DerivedSet& set = derived_[source.get()];
  if (!set.source) set.source = source;
  if (set.last && set.last_from.size() == out_.size()) {
    // Rows of a table mostly come out alike: the same source columns, the
    // same added names, the same retyping.
    bool same = true;
    for (size_t j = 0; j < out_.size() && same; ++j) {
      same = set.last_from[j] == from[j] && set.last_retyped[j] == retyped[j] &&
             (!retyped[j] || set.last_kinds[j] == kinds[j]) &&
             set.last->columns[j].name == out_[j].name;
    }
    if (same) return set.last;
  }
  set.last_from = from;
  set.last_kinds = kinds;
  set.last_retyped = retyped;
  std::string sig;
  for (size_t j = 0; j < out_.size(); ++j) {
    sig += out_[j].name;
    sig += '\0';
    sig += retyped[j] ? static_cast<char>('A' + static_cast<int>(kinds[j])) : '=';
  }
  set.last.reset();
  auto it = set.by_signature.find(sig);
  if (it != set.by_signature.end()) return set.last = it->second;

  auto d = std::make_shared<TableSchema>();
  d->db = source->db;
  d->table = source->table;
  d->names_known = true;
  auto position = [&](uint32_t src) -> int {
    for (size_t j = 0; j < from.size(); ++j) {
      if (from[j] == static_cast<int>(src)) return static_cast<int>(j);
    }
    return -1;
  };
  for (size_t j = 0; j < out_.size(); ++j) {
    if (from[j] >= 0 && !retyped[j]) {
      ColumnMeta c = source->columns[static_cast<size_t>(from[j])];
      c.name = std::string(out_[j].name);
      d->columns.push_back(std::move(c));
    } else {
      d->columns.push_back(ScriptMadeColumn(out_[j].name, kinds[j]));
    }
  }
  for (uint32_t k : source->primary_key) {
    int p = position(k);
    if (p < 0) {
      return Status::Invalid("{}: transform removed key column `{}` of `{}`.`{}`; the key must stay", script_->name,
                             source->columns[k].name, source->db, source->table);
    }
    d->primary_key.push_back(static_cast<uint32_t>(p));
  }
  for (uint32_t k : source->unique_key) {
    int p = position(k);
    if (p < 0) {
      d->unique_key.clear();
      break;
    }
    d->unique_key.push_back(static_cast<uint32_t>(p));
  }
  if (source->row_start_column >= 0) d->row_start_column = position(static_cast<uint32_t>(source->row_start_column));
  if (source->row_end_column >= 0) d->row_end_column = position(static_cast<uint32_t>(source->row_end_column));
  TableSchemaPtr result = schemas_->Intern(source, sig, std::move(d));
  set.by_signature.emplace(std::move(sig), result);
  return set.last = result;
}

Result<std::shared_ptr<const ChangeEvent>> LuaRowTransform::Apply(const std::shared_ptr<const ChangeEvent>& ev) {
  const TableSchemaPtr& source = ev->table;
  auto context = [&](const Status& st) {
    return Status::Invalid("{} (table `{}`.`{}`, key {}, at {})", st.message(), source->db, source->table,
                           KeyText(*ev), ev->pos.ToString());
  };
  if (!runtime_) {
    auto rt = LuaRuntime::Create(script_->name, script_->source, limits_);
    if (!rt.ok()) return rt.status();
    runtime_ = std::move(rt).value();
  }
  RowView after{source.get(), &ev->after.values};
  RowView before{source.get(), &ev->before.values};
  Result<bool> called = false;
  // An insert or delete whose row the script returned as it came (a script
  // that only checks or drops rows) goes on as the very same event. Not an
  // update: its before image is remade from the script's row either way.
  bool as_given = false;
  switch (ev->op) {
    case Op::kInsert:
      called = runtime_->Call("insert", &after, nullptr, out_, &as_given);
      break;
    case Op::kDelete:
      called = runtime_->Call("delete", nullptr, &before, out_, &as_given);
      break;
    case Op::kUpdate:
      called = runtime_->Call("update", &after, &before, out_);
      break;
  }
  if (!called.ok()) return context(called.status());
  if (as_given) return ev;

  auto out = std::make_shared<ChangeEvent>();
  out->kind = ev->kind;
  out->ts_ms = ev->ts_ms;
  out->gtid = ev->gtid;
  out->pos = ev->pos;
  if (!*called) {
    if (ev->op != Op::kUpdate) return std::shared_ptr<const ChangeEvent>();
    // An update the script drops: its row leaves the target.
    out->op = Op::kDelete;
    out->table = source;
    out->bytes.reserve(StringBytes(ev->before.values));
    CopyImage(*out, ev->before, out->before);
    return std::shared_ptr<const ChangeEvent>(std::move(out));
  }

  // Source columns first, in the source's order, then added ones by name:
  // a stable column order whatever order the script's table iterates in.
  // (The runtime matched the names it handed out; others are looked up.)
  const size_t n = out_.size();
  DerivedSet& set = derived_[source.get()];
  if (!set.source) set.source = source;
  bool added = false;
  for (ScriptColumn& c : out_) {
    if (c.column >= 0) continue;
    // Names the script made (an added column, another case): looked up
    // once per name, not per row.
    auto known = std::find_if(set.looked_up.begin(), set.looked_up.end(),
                              [&](const auto& e) { return e.first == c.name; });
    if (known == set.looked_up.end()) {
      set.looked_up.emplace_back(std::string(c.name), FindColumn(*source, c.name));
      known = set.looked_up.end() - 1;
    }
    c.column = known->second;
    added |= c.column < 0;
  }
  // In place by source column (a slot each), added ones after by name.
  slots_.assign(source->columns.size(), -1);
  size_t placed = 0;
  for (size_t j = 0; j < n; ++j) {
    int col = out_[j].column;
    if (col >= 0 && slots_[static_cast<size_t>(col)] < 0) {
      slots_[static_cast<size_t>(col)] = static_cast<int>(j);
      ++placed;
    }
  }
  size_t extra = 0;
  for (const ScriptColumn& c : out_) extra += c.column < 0;
  if (placed + extra == n) {
    sorted_.clear();
    for (int j : slots_) {
      if (j >= 0) sorted_.push_back(out_[static_cast<size_t>(j)]);
    }
    for (const ScriptColumn& c : out_) {
      if (c.column < 0) sorted_.push_back(c);
    }
    if (added) {
      std::sort(sorted_.begin() + static_cast<std::ptrdiff_t>(placed), sorted_.end(),
                [](const ScriptColumn& a, const ScriptColumn& b) { return a.name < b.name; });
    }
    out_.swap(sorted_);
  } else {  // two names for one column (another case): the order still decides
    std::stable_sort(out_.begin(), out_.end(), [](const ScriptColumn& a, const ScriptColumn& b) {
      if ((a.column >= 0) != (b.column >= 0)) return a.column >= 0;
      if (a.column >= 0) return a.column < b.column;
      return a.name < b.name;
    });
  }
  from_.resize(n);
  kinds_.resize(n);
  retyped_.resize(n);
  size_t string_bytes = 0;
  for (size_t j = 0; j < n; ++j) {
    const ScriptValue& v = out_[j].value;
    from_[j] = out_[j].column;
    ValueKind sk = from_[j] >= 0 ? SourceKind(*ev, from_[j]) : ValueKind::kNull;
    bool fits = from_[j] >= 0 && (Fits(sk, v) || (sk == ValueKind::kNull && v.type == ScriptValue::Type::kNull));
    retyped_[j] = !fits;
    kinds_[j] = fits ? sk : ScriptKind(v);
    string_bytes += v.s.size();
  }
  const std::vector<int>& from = from_;
  const std::vector<ValueKind>& kinds = kinds_;
  auto schema = Derived(source);
  if (!schema.ok()) return context(schema.status());
  out->table = std::move(schema).value();
  out->op = ev->op;
  if (ev->op == Op::kUpdate) string_bytes += StringBytes(ev->before.values);
  out->bytes.reserve(string_bytes);

  OwnedImage& img = ev->op == Op::kDelete ? out->before : out->after;
  img.present = true;
  img.values.reserve(n);
  for (size_t j = 0; j < n; ++j) {
    const ScriptValue& v = out_[j].value;
    Value x;
    if (v.type == ScriptValue::Type::kNull) {
      x = Value::Null();
    } else {
      switch (kinds[j]) {
        case ValueKind::kInt:
        case ValueKind::kYear:
          x.kind = kinds[j];
          x.i = v.i;
          break;
        case ValueKind::kUInt:
        case ValueKind::kBit:
          x.kind = kinds[j];
          x.u = static_cast<uint64_t>(v.i);
          if (v.type == ScriptValue::Type::kString) std::from_chars(v.s.data(), v.s.data() + v.s.size(), x.u);
          break;
        case ValueKind::kFloat:
        case ValueKind::kDouble:
          x.kind = kinds[j];
          x.d = v.type == ScriptValue::Type::kInt ? static_cast<double>(v.i) : v.d;
          break;
        default:
          x = Value::Str(kinds[j], Keep(*out, v.s));
      }
    }
    img.values.push_back(x);
  }
  if (ev->op == Op::kUpdate) {
    // The before image in the derived shape: the old values of the key
    // columns (so a key change is seen), the new values elsewhere: the
    // script never saw the old row as output, and a masked column must not
    // reach a format's "before" unmasked.
    out->before.present = true;
    out->before.values = img.values;
    const auto& key = out->table->primary_key.empty() ? out->table->unique_key : out->table->primary_key;
    for (uint32_t k : key) {
      int src = from[k];
      if (src < 0 || static_cast<size_t>(src) >= ev->before.values.size()) continue;
      Value x = ev->before.values[static_cast<size_t>(src)];
      if (!x.s.empty()) x.s = Keep(*out, x.s);
      out->before.values[k] = x;
    }
  }
  return std::shared_ptr<const ChangeEvent>(std::move(out));
}

}  // namespace sluice::transform::lua
