#include "transform/table_mapper.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/cascade.h"
#include "core/glob.h"
#include "transform/cascades.h"

namespace sluice::transform {
namespace {

// One warning per process for each filtered column whose collation the
// filter does not know (a schema is re-bound at every TABLE_MAP).
void WarnUnknownCollations(const std::string& where, const BoundFilter& filter) {
  static std::mutex mu;
  static std::set<std::string> warned;
  for (const std::string& column : filter.unknown_collations()) {
    std::lock_guard lock(mu);
    if (!warned.insert(where + column).second) continue;
    spdlog::warn("{}: where: column {} has a collation the row filter does not know; its text compares as "
                 "utf8mb4_general_ci (case- and accent-insensitive), which may keep other rows than the source's "
                 "own WHERE",
                 where, column);
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

int FindColumn(const TableSchema& s, std::string_view name) {
  for (size_t i = 0; i < s.columns.size(); ++i) {
    if (EqualsIgnoreCase(s.columns[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

bool HasAbsent(const std::vector<Value>& values, const std::vector<uint32_t>& idx) {
  for (uint32_t i : idx) {
    if (values[i].kind == ValueKind::kAbsent) return true;
  }
  return false;
}

// The row end of a current row: the largest TIMESTAMP(6) (MariaDB < 11.5;
// 11.5+ extended it to 2106) or, for WITH SYSTEM VERSIONING over
// transaction ids, the largest BIGINT UNSIGNED.
bool IsCurrentRowEnd(const Value& v) {
  switch (v.kind) {
    case ValueKind::kTimestamp:
    case ValueKind::kDateTime:
      return v.s.starts_with("2038-01-19 03:14:07.999999") || v.s.starts_with("2106-02-07 06:28:15.999999");
    case ValueKind::kUInt:
      return v.u == UINT64_MAX;
    case ValueKind::kAbsent:
      return true;  // not in a MINIMAL image: the key decides
    default:
      return false;
  }
}

// An update that changes a row's key, under a MINIMAL row image, has only
// the columns its statement set: the row cannot be deleted and made again
// at its new key, but moved. The move is a foreign key of the table onto
// itself whose ON UPDATE CASCADE sets the key to the new values (a kCascade
// change: targets apply it in source order, between the other changes).
TargetTablePtr KeyMoveTable(const TargetTable& target) {
  auto edge = std::make_shared<CascadeEdge>();
  edge->fk = fmt::format("{}.{} (a key changed in place)", target.db, target.table);
  edge->child_db = target.db;
  edge->child_table = target.table;
  auto t = std::make_shared<TargetTable>();
  for (uint32_t k : target.key) {
    edge->child_columns.push_back(target.columns[k]);
    t->source_index.push_back(target.source_index[k]);
  }
  edge->parent_columns = edge->child_columns;
  edge->on_update = FkAction::kCascade;
  t->db = target.db;
  t->table = target.table;
  t->columns = edge->child_columns;
  t->source = target.source;
  t->name_hash = target.name_hash;
  t->source_schema = target.source_schema;
  t->cascade = std::move(edge);
  return t;
}

// A MariaDB SEQUENCE is a one-row table with exactly these columns (sql/
// sql_sequence.cc); NEXTVAL and SETVAL write it as row events. Told apart by
// its columns, which the TABLE_MAP's FULL metadata (or information_schema)
// gives, so no server round trip is needed.
bool IsSequence(const TableSchema& s) {
  static constexpr std::string_view kColumns[] = {"next_not_cached_value", "minimum_value", "maximum_value",
                                                  "start_value", "increment", "cache_size", "cycle_option",
                                                  "cycle_count"};
  if (!s.names_known || s.columns.size() != std::size(kColumns)) return false;
  for (size_t i = 0; i < s.columns.size(); ++i) {
    if (s.columns[i].name != kColumns[i]) return false;
  }
  return true;
}

}  // namespace

// The target's name for source table `s` under `rule` (its `to:`).
Status TableMapper::NameTarget(const MappingRule& rule, const TableSchema& s, const std::string& where,
                               TargetTable& target) {
  target.source = fmt::format("{}.{}", s.db, s.table);
  std::string dest = rule.to.empty() ? target.source : ExpandTemplate(rule.to, s.db, s.table);
  size_t dot = dest.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == dest.size()) {
    return Status::Invalid("{}: to: \"{}\" does not name DB.TABLE", where, dest);
  }
  target.db = dest.substr(0, dot);
  target.table = dest.substr(dot + 1);
  target.name_hash = TableNameHash(target);
  return Status::Ok();
}

// A sequence's row is its state, not data: it goes whole, under the rule's
// `to:` name, to the targets that have sequences (each new row replaces the
// last there); the rule's columns, renames, filter and script are for rows.
Result<const TableMapping*> TableMapper::MapSequence(const TableSchemaPtr& schema, const MappingRule& rule,
                                                     const std::string& where) {
  const TableSchema& s = *schema;
  auto m = std::make_unique<TableMapping>();
  auto target = std::make_shared<TargetTable>();
  RETURN_IF_ERROR(NameTarget(rule, s, where, *target));
  target->sequence = true;
  for (uint32_t i = 0; i < s.columns.size(); ++i) {
    m->source_index.push_back(i);
    target->columns.push_back(s.columns[i].name);
  }
  m->one_to_one = target->db == s.db && target->table == s.table;
  target->source_schema = schema;
  target->source_index = m->source_index;
  m->target = std::move(target);
  m->rule = &rule;
  const TableMapping* result = m.get();
  cache_.emplace(schema.get(), std::make_pair(schema, std::move(m)));
  return result;
}


std::string TableMapper::ExpandTemplate(std::string_view tmpl, std::string_view db, std::string_view table) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, 5, "${db}") == 0) {
      out.append(db);
      i += 5;
    } else if (tmpl.compare(i, 8, "${table}") == 0) {
      out.append(table);
      i += 8;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

Result<std::unique_ptr<TableMapper>> TableMapper::Create(std::vector<MappingRule> rules, size_t script_threads) {
  script_threads = std::max<size_t>(script_threads, 1);
  std::vector<CompiledRule> compiled;
  for (auto& r : rules) {
    CompiledRule c;
    c.rule = std::move(r);
    const std::string& m = c.rule.match;
    if (m.size() >= 2 && m.front() == '/' && m.back() == '/') {
      c.is_regex = true;
      try {
        c.regex = std::regex(m.substr(1, m.size() - 2), std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return Status::Invalid("{}: match: invalid regex {}: {}", c.rule.origin, m, e.what());
      }
    }
    if (!c.rule.where.empty()) {
      auto f = ParseFilter(c.rule.where);
      // Filter errors begin with "where: " already.
      if (!f.ok()) return f.status().WithContext(c.rule.origin);
      c.filter = std::move(f).value();
    }
    if (c.rule.lua) {
      auto schemas = std::make_shared<lua::DerivedSchemas>();
      for (size_t i = 0; i < script_threads; ++i) {
        c.lua.push_back(std::make_unique<lua::LuaRowTransform>(c.rule.lua, schemas));
      }
    }
    compiled.push_back(std::move(c));
  }
  return std::unique_ptr<TableMapper>(new TableMapper(std::move(compiled), script_threads));
}

const TableMapper::CompiledRule* TableMapper::CompiledFor(std::string_view db, std::string_view table) const {
  std::string full = fmt::format("{}.{}", db, table);
  for (const auto& c : rules_) {
    bool hit = c.is_regex ? std::regex_match(full, c.regex) : GlobMatch(c.rule.match, full);
    if (hit) return &c;
  }
  return nullptr;
}

const MappingRule* TableMapper::RuleFor(std::string_view db, std::string_view table) const {
  const CompiledRule* c = CompiledFor(db, table);
  return c ? &c->rule : nullptr;
}

namespace {

// For a rule naming a column the source table lacks (dropped or renamed by
// a DDL the pipeline just read, or a typo): what the table has, and how to
// go on.
std::string ChangeTheRuleHint(const TableSchema& s) {
  std::vector<std::string_view> names;
  for (const auto& c : s.columns) names.push_back(c.name);
  return fmt::format(
      ". The source table's columns are now: {}. If a DDL dropped or renamed it, change the rule "
      "and reload (SIGHUP) or start the pipeline again: it goes on from its checkpoint",
      fmt::join(names, ", "));
}

}  // namespace

Result<const TableMapping*> TableMapper::Map(const TableSchemaPtr& schema) {
  auto it = cache_.find(schema.get());
  if (it != cache_.end()) return it->second.second.get();
  auto m = std::make_unique<TableMapping>();
  const CompiledRule* c = CompiledFor(schema->db, schema->table);
  if (c != nullptr) {
    const MappingRule& rule = c->rule;
    const TableSchema& s = *schema;
    std::string where = fmt::format("table `{}`.`{}` (rule at {})", s.db, s.table, rule.origin);
    if (IsSequence(s)) return MapSequence(schema, rule, where);
    if (!s.names_known) {
      return Status::Error(StatusCode::kSchemaMismatch,
                           "{}: column names are unknown; set binlog_row_metadata=FULL on the source", where);
    }
    auto target = std::make_shared<TargetTable>();
    RETURN_IF_ERROR(NameTarget(rule, s, where, *target));
    // A system-versioned table's row start/end columns are the target's to
    // generate (as generated columns are), and not part of a row's key.
    auto period = [&](uint32_t i) {
      return static_cast<int32_t>(i) == s.row_start_column || static_cast<int32_t>(i) == s.row_end_column;
    };
    if (rule.columns.empty()) {
      for (uint32_t i = 0; i < s.columns.size(); ++i) {
        if (!period(i)) m->source_index.push_back(i);
      }
    } else {
      for (const auto& name : rule.columns) {
        int i = FindColumn(s, name);
        if (i < 0) {
          return Status::Invalid("{}: columns: no column `{}` in the source table{}", where, name,
                                 ChangeTheRuleHint(s));
        }
        m->source_index.push_back(static_cast<uint32_t>(i));
      }
    }
    bool renamed = false;
    for (uint32_t i : m->source_index) {
      std::string name = s.columns[i].name;
      for (const auto& [from, to] : rule.rename_columns) {
        if (EqualsIgnoreCase(from, name)) {
          name = to;
          renamed = true;
        }
      }
      target->columns.push_back(std::move(name));
    }
    m->source_key = s.primary_key.empty() ? s.unique_key : s.primary_key;
    std::erase_if(m->source_key, period);
    for (uint32_t k : m->source_key) {
      auto pos = std::find(m->source_index.begin(), m->source_index.end(), k);
      if (pos == m->source_index.end()) {
        return Status::Invalid("{}: columns: the subset drops key column `{}`; the key must stay", where,
                               s.columns[k].name);
      }
      target->key.push_back(static_cast<uint32_t>(pos - m->source_index.begin()));
    }
    if (c->filter) {
      auto bound = BindFilter(*c->filter, s);
      if (!bound.ok()) {
        // Begins with "where: "; a column it names is most often gone by a DDL.
        const bool unknown = bound.status().message().find("unknown column") != std::string::npos;
        return Status::Error(bound.status().code(), "{}: {}{}", where, bound.status().message(),
                             unknown ? ChangeTheRuleHint(s) : "");
      }
      m->filter = std::move(bound).value();
      WarnUnknownCollations(where, *m->filter);
    }
    if (target->key.empty()) {
      spdlog::warn("{}: no primary key and no unique key over NOT NULL columns: changes are applied in "
                   "order by full-row match (slower, and identical duplicate rows cannot be told apart); add a "
                   "primary key to the table",
                   where);
    }
    m->one_to_one = target->db == s.db && target->table == s.table && !renamed &&
                    m->source_index.size() == s.columns.size();
    target->source_schema = schema;
    target->source_index = m->source_index;
    if (minimal_images_ && target->has_key()) m->key_move = KeyMoveTable(*target);
    m->target = std::move(target);
    m->rule = &rule;
  }
  const TableMapping* result = m.get();
  cache_.emplace(schema.get(), std::make_pair(schema, std::move(m)));
  return result;
}

const TableMapper::CompiledRule* TableMapper::ScriptedRule(const ChangeEvent& ev) {
  auto scripted = scripted_.find(ev.table.get());
  if (scripted == scripted_.end()) {
    const CompiledRule* c = CompiledFor(ev.table->db, ev.table->table);
    const bool runs = c != nullptr && !c->lua.empty() && !IsSequence(*ev.table);
    scripted = scripted_.emplace(ev.table.get(), std::make_pair(ev.table, runs ? c : nullptr)).first;
  }
  return scripted->second.second;
}

TableMapper::~TableMapper() {
  threads_.reset();  // helpers may be running pieces over ahead_ and the rules' states
}

void TableMapper::RunScriptsAhead(std::span<const std::shared_ptr<ChangeEvent>> events) {
  if (threads_) threads_->Finish();
  ahead_.clear();
  ahead_next_ = 0;
  if (script_threads_ <= 1) return;
  for (const auto& ev : events) {
    if (ev->kind != ChangeEvent::Kind::kRow) continue;
    if (const CompiledRule* c = ScriptedRule(*ev)) ahead_.push_back(Ahead{ev, c, nullptr, Status::Ok()});
  }
  if (ahead_.size() < 2 * kScriptPiece) {  // not worth waking a thread for
    ahead_.clear();
    return;
  }
  if (!threads_) threads_ = std::make_unique<lua::ScriptThreads>(script_threads_ - 1, "sl-lua");
  threads_->Start((ahead_.size() + kScriptPiece - 1) / kScriptPiece, [this](size_t piece, size_t thread) {
    for (size_t i = piece * kScriptPiece; i < std::min(ahead_.size(), (piece + 1) * kScriptPiece); ++i) {
      Ahead& a = ahead_[i];
      auto applied = a.rule->lua[thread]->Apply(a.in);
      if (applied.ok()) {
        a.out = std::move(applied).value();
      } else {
        a.error = applied.status();
      }
    }
  });
}

Status TableMapper::Transform(const std::shared_ptr<const ChangeEvent>& ev, std::vector<SinkChange>& out) {
  const size_t first = out.size();
  RETURN_IF_ERROR(TransformRow(ev, out));
  if (!cascades_) return Status::Ok();
  // What the source server did to child rows without logging it (their own
  // rows, as the source has them: no script) goes before the parent's
  // change: a target that checks its foreign keys (PostgreSQL without the
  // replica role) refuses a parent's delete while a child references it.
  const size_t cascades_at = out.size();
  cascades_->Append(ev, out);
  std::rotate(out.begin() + static_cast<std::ptrdiff_t>(first), out.begin() + static_cast<std::ptrdiff_t>(cascades_at),
              out.end());
  return Status::Ok();
}

Status TableMapper::TransformRow(const std::shared_ptr<const ChangeEvent>& source_ev, std::vector<SinkChange>& out) {
  script_failed_ = false;
  std::shared_ptr<const ChangeEvent> ev = source_ev;
  if (const CompiledRule* c = ScriptedRule(*ev)) {
    if (ahead_next_ < ahead_.size() && ahead_[ahead_next_].in == source_ev) {
      // Taken in order, so each piece's first row comes first.
      if (ahead_next_ % kScriptPiece == 0) threads_->Await(ahead_next_ / kScriptPiece);
      Ahead& a = ahead_[ahead_next_++];
      if (!a.error.ok()) {
        script_failed_ = true;
        return a.error;
      }
      ev = std::move(a.out);
    } else {
      auto applied = c->lua[0]->Apply(source_ev);
      if (!applied.ok()) {
        script_failed_ = true;
        return applied.status();
      }
      ev = std::move(applied).value();
    }
    if (!ev) return Status::Ok();  // the script dropped it
  }
  ASSIGN_OR_RETURN(const TableMapping* m, Map(ev->table));
  if (!m->selected()) return Status::Ok();
  const TableSchema& s = *ev->table;
  auto in_filter = [&](const OwnedImage& img) -> Result<bool> {
    // Only current rows of a system-versioned table are applied: an update
    // that ends a row (its DELETE) or the history row an UPDATE inserts
    // leaves the target like a row leaving a `where:`.
    if (s.row_end_column >= 0 && static_cast<size_t>(s.row_end_column) < img.values.size() &&
        !IsCurrentRowEnd(img.values[static_cast<size_t>(s.row_end_column)])) {
      return false;
    }
    if (!m->filter) return true;
    return Matches(*m->filter, img.values);
  };
  auto make = [&](SinkChange::Kind kind, Op op, const OwnedImage& img) -> Status {
    const bool keyed = m->target->has_key();
    // An update in place may lack values that did not change (PostgreSQL's
    // unchanged TOASTed columns, MySQL's MINIMAL images): the target keeps
    // what it has for them (SinkChange: a partial upsert). Anything that
    // makes a row needs them all, but for a source's insert under a MINIMAL
    // image, whose missing columns are the target's defaults.
    const bool defaults = minimal_images_ && ev->op == Op::kInsert;
    const bool need_all = ((kind == SinkChange::Kind::kUpsert && op != Op::kUpdate) || !keyed) && !defaults;
    bool absent = false;
    if (need_all) {
      absent = HasAbsent(img.values, m->source_index);
    } else {
      for (uint32_t k : m->target->key) absent |= img.values[m->source_index[k]].kind == ValueKind::kAbsent;
    }
    if (absent && minimal_images_ && ev->op == Op::kUpdate && op == Op::kInsert) {
      return Status::Error(StatusCode::kNotSupported,
                           "table `{}`.`{}`: an update that brings a row into the rule's where: needs the whole "
                           "row, but its image has only the columns the statement set (binlog_row_image=MINIMAL); "
                           "set binlog_row_image=FULL on the source @ {}",
                           s.db, s.table, ev->pos.ToString());
    }
    if (absent) {
      return Status::Error(StatusCode::kNotSupported,
                           "table `{}`.`{}`: the row image lacks columns the target needs; set "
                           "binlog_row_image=FULL on the source (PostgreSQL: REPLICA IDENTITY FULL) @ {}",
                           s.db, s.table, ev->pos.ToString());
    }
    SinkChange c;
    c.kind = kind;
    c.op = op;
    c.absent_means_default = defaults && HasAbsent(img.values, m->source_index);
    c.table = m->target;
    c.values.reserve(m->source_index.size());
    for (uint32_t i : m->source_index) c.values.push_back(img.values[i]);
    c.pos = ev->pos;
    c.ts_ms = ev->ts_ms;
    c.origin = ev;
    out.push_back(std::move(c));
    return Status::Ok();
  };
  const bool keyed = m->target->has_key();
  using K = SinkChange::Kind;
  const K put = keyed ? K::kUpsert : K::kInsert;
  const K del = keyed ? K::kDelete : K::kDeleteExact;
  Status st;
  switch (ev->op) {
    case Op::kInsert: {
      ASSIGN_OR_RETURN(bool in, in_filter(ev->after));
      if (in) st = make(put, Op::kInsert, ev->after);
      break;
    }
    case Op::kDelete: {
      ASSIGN_OR_RETURN(bool in, in_filter(ev->before));
      if (in) st = make(del, Op::kDelete, ev->before);
      break;
    }
    case Op::kUpdate: {
      // Under a MINIMAL image the after image has only the columns the
      // statement set: the others did not change, so what the before image
      // has of them (the key, at least) is their value.
      const OwnedImage* after = &ev->after;
      OwnedImage filled;
      if (minimal_images_) {
        for (size_t i = 0; i < ev->after.values.size() && i < ev->before.values.size(); ++i) {
          const bool given = ev->after.values[i].kind != ValueKind::kAbsent;
          if (given || ev->before.values[i].kind == ValueKind::kAbsent) continue;
          if (filled.values.empty()) filled = ev->after;
          filled.values[i] = ev->before.values[i];
        }
        if (!filled.values.empty()) after = &filled;
      }
      auto was = in_filter(ev->before);
      // PostgreSQL under REPLICA IDENTITY DEFAULT sends the old key only: a
      // filter over other columns cannot tell whether the row was in. Taken
      // as in: the new image then decides (an upsert, or a delete by key,
      // which is harmless where the row is not).
      if (!was.ok() && was.status().code() == StatusCode::kNotSupported && ev->pos.is_lsn() &&
          HasAbsent(ev->before.values, m->source_index)) {
        was = true;
      }
      ASSIGN_OR_RETURN(bool was_in, std::move(was));
      ASSIGN_OR_RETURN(bool now_in, in_filter(*after));
      bool key_changed = !keyed;  // keyless: an update is delete-one + insert
      if (keyed) {
        for (uint32_t k : m->source_key) key_changed |= !SameValue(ev->before.values[k], after->values[k]);
      }
      const bool in_place = was_in && now_in && !key_changed;
      if (was_in && now_in && keyed && !in_place && m->key_move && HasAbsent(after->values, m->source_index) &&
          !HasAbsent(ev->before.values, m->key_move->source_index)) {
        SinkChange move;  // KeyMoveTable: the row moves, then its set columns are written
        move.kind = SinkChange::Kind::kCascade;
        move.op = Op::kUpdate;
        move.table = m->key_move;
        for (uint32_t i : m->key_move->source_index) move.values.push_back(ev->before.values[i]);
        for (uint32_t i : m->key_move->source_index) move.values.push_back(after->values[i]);
        move.pos = ev->pos;
        move.ts_ms = ev->ts_ms;
        move.origin = ev;
        const size_t before_move = out.size();
        out.push_back(std::move(move));
        st = make(put, Op::kUpdate, *after);
        if (!st.ok()) out.resize(before_move);  // all of the change or none
        return st;
      }
      if (was_in && !in_place) st = make(del, Op::kDelete, ev->before);
      if (st.ok() && now_in) st = make(put, in_place ? Op::kUpdate : Op::kInsert, *after);
      break;
    }
  }
  return st;
}

}  // namespace sluice::transform
