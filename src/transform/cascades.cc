#include "transform/cascades.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "transform/filter_text.h"

namespace sluice::transform {
namespace {

// A source table's columns as its rule names them on the target; nullopt
// when the rule leaves one out (`missing` names it).
std::optional<std::vector<std::string>> TargetColumns(const MappingRule& rule, const std::vector<std::string>& columns,
                                                      std::string* missing) {
  std::vector<std::string> out;
  for (const std::string& c : columns) {
    if (!rule.columns.empty() && std::none_of(rule.columns.begin(), rule.columns.end(),
                                              [&](const std::string& k) { return EqualsIgnoreCase(k, c); })) {
      if (missing) *missing = c;
      return std::nullopt;
    }
    std::string name = c;
    for (const auto& [from, to] : rule.rename_columns) {
      if (EqualsIgnoreCase(from, c)) name = to;
    }
    out.push_back(std::move(name));
  }
  return out;
}

std::string KeyName(const ForeignKey& k) { return fmt::format("{}.{}.{}", k.db, k.table, k.name); }

std::string Actions(const ForeignKey& k) {
  std::string out;
  if (FkActionOf(k.on_delete) != FkAction::kNone) out = "ON DELETE " + k.on_delete;
  if (FkActionOf(k.on_update) != FkAction::kNone)
    out += (out.empty() ? "" : ", ") + std::string("ON UPDATE ") + k.on_update;
  return out;
}

}  // namespace

std::shared_ptr<Cascades> Cascades::Plan(const std::vector<ForeignKey>& keys, const RuleFor& rule_for,
                                         std::vector<std::string>& notes) {
  auto plan = std::make_shared<Cascades>();
  std::vector<const ForeignKey*> of_edge;  // the key behind each edge
  for (const ForeignKey& k : keys) {
    const FkAction on_delete = FkActionOf(k.on_delete), on_update = FkActionOf(k.on_update);
    if (on_delete == FkAction::kNone && on_update == FkAction::kNone) continue;
    const MappingRule* child = rule_for(k.db, k.table);
    if (child == nullptr) continue;  // no target holds the child's rows
    const std::string name = KeyName(k), actions = Actions(k);
    if (child->lua) {
      notes.push_back(
          fmt::format("foreign key {} ({}): the rule of {}.{} runs a Lua script, so the target rows "
                      "holding a key are unknown: the changes the source server makes to them are not "
                      "followed (`sluice check` finds them, `--repair` fixes them)",
                      name, actions, k.db, k.table));
      continue;
    }
    std::string missing;
    auto columns = TargetColumns(*child, k.columns, &missing);
    if (!columns) {
      notes.push_back(
          fmt::format("foreign key {} ({}): the rule of {}.{} leaves out its column `{}`, so the "
                      "changes the source server makes to the child rows are not followed (`sluice "
                      "check` finds them, `--repair` fixes them)",
                      name, actions, k.db, k.table, missing));
      continue;
    }
    if (!child->where.empty() && (on_update != FkAction::kNone || on_delete == FkAction::kSetNull)) {
      notes.push_back(
          fmt::format("foreign key {} ({}): the rule of {}.{} has a `where:` filter, and the rows whose "
                      "key the action changes are changed on the targets where they are, never moved "
                      "into or out of the filter (`sluice check --repair` does that)",
                      name, actions, k.db, k.table));
    }
    const std::string source = k.db + "." + k.table;
    const std::string dest = child->to.empty() ? source : TableMapper::ExpandTemplate(child->to, k.db, k.table);
    const size_t dot = dest.find('.');
    if (dot == std::string::npos) continue;  // the mapper names the bad rule at the first row
    auto e = std::make_unique<CascadeEdge>();
    e->fk = name;
    e->child_db = dest.substr(0, dot);
    e->child_table = dest.substr(dot + 1);
    e->child_columns = std::move(*columns);
    e->on_delete = on_delete;
    e->on_update = on_update;
    const MappingRule* parent = rule_for(k.parent_db, k.parent_table);
    if (parent != nullptr && !parent->lua) {
      if (auto p = TargetColumns(*parent, k.parent_columns, nullptr)) e->parent_columns = std::move(*p);
    }
    plan->roots_[k.parent_db + "." + k.parent_table].push_back(Root{e.get(), k.parent_columns, source});
    plan->followed_.push_back(fmt::format("{} ({}) on {}.{}", name, actions, e->child_db, e->child_table));
    plan->edges_.push_back(std::move(e));
    of_edge.push_back(&k);
  }
  // Rows a cascade deletes carry on to the keys referencing their table;
  // keys a cascade changes are not carried on (noted).
  for (size_t i = 0; i < plan->edges_.size(); ++i) {
    CascadeEdge& e = *plan->edges_[i];
    const ForeignKey& k = *of_edge[i];
    const bool changes_key = e.on_update != FkAction::kNone || e.on_delete == FkAction::kSetNull;
    for (size_t j = 0; j < plan->edges_.size(); ++j) {
      const CascadeEdge& next = *plan->edges_[j];
      const ForeignKey& k2 = *of_edge[j];
      if (k2.parent_db != k.db || k2.parent_table != k.table) continue;
      if (e.on_delete == FkAction::kCascade && next.on_delete != FkAction::kNone) {
        if (next.parent_columns.empty()) {
          notes.push_back(
              fmt::format("foreign key {} ({}): rows that {} deletes on the targets are not followed to "
                          "{}.{}: the rule of {}.{} leaves out the columns it references",
                          KeyName(k2), Actions(k2), e.fk, k2.db, k2.table, k.db, k.table));
        } else {
          e.next.push_back(&next);
        }
      }
      const bool referenced =
          std::any_of(k2.parent_columns.begin(), k2.parent_columns.end(), [&](const std::string& c) {
            return std::any_of(k.columns.begin(), k.columns.end(),
                               [&](const std::string& x) { return EqualsIgnoreCase(x, c); });
          });
      if (changes_key && referenced && next.on_update != FkAction::kNone) {
        notes.push_back(
            fmt::format("foreign key {} ({}): the key values {} changes on the targets are not carried "
                        "on to {}.{} (`sluice check` finds such rows, `--repair` fixes them)",
                        KeyName(k2), Actions(k2), e.fk, k2.db, k2.table));
      }
    }
  }
  return plan;
}

const Cascades::Resolved& Cascades::Resolve(const TableSchemaPtr& schema) {
  auto it = cache_.find(schema.get());
  if (it != cache_.end()) return it->second;
  Resolved r;
  r.pin = schema;
  auto roots = roots_.find(schema->db + "." + schema->table);
  if (roots != roots_.end()) {
    for (const Root& root : roots->second) {
      auto t = std::make_shared<TargetTable>();
      t->db = root.edge->child_db;
      t->table = root.edge->child_table;
      t->columns = root.edge->child_columns;
      t->source = root.child_source;
      t->name_hash = TableNameHash(*t);
      t->source_schema = schema;
      bool found = true;
      for (const std::string& c : root.parent_columns) {
        auto col = std::find_if(schema->columns.begin(), schema->columns.end(),
                                [&](const ColumnMeta& m) { return EqualsIgnoreCase(m.name, c); });
        found &= col != schema->columns.end();
        if (col != schema->columns.end())
          t->source_index.push_back(static_cast<uint32_t>(col - schema->columns.begin()));
      }
      if (!found) {
        spdlog::warn(
            "foreign key {}: the stream's `{}`.`{}` lacks a referenced column (names unknown, or dropped "
            "since the start): its actions are not followed for this table version",
            root.edge->fk, schema->db, schema->table);
        continue;
      }
      // Keeps the plan (and the edges `next` points to) alive with the table.
      t->cascade = std::shared_ptr<const CascadeEdge>(shared_from_this(), root.edge);
      r.tables.push_back(std::move(t));
    }
  }
  return cache_.emplace(schema.get(), std::move(r)).first->second;
}

void Cascades::Append(const std::shared_ptr<const ChangeEvent>& ev, std::vector<SinkChange>& out) {
  if (ev->kind != ChangeEvent::Kind::kRow || ev->op == Op::kInsert || ev->no_foreign_key_checks || !ev->table) return;
  const Resolved& r = Resolve(ev->table);
  for (const TargetTablePtr& t : r.tables) {
    const CascadeEdge& e = *t->cascade;
    const bool del = ev->op == Op::kDelete;
    if ((del ? e.on_delete : e.on_update) == FkAction::kNone) continue;
    SinkChange c;
    c.kind = SinkChange::Kind::kCascade;
    c.op = ev->op;
    c.table = t;
    bool matches_nothing = false;
    for (uint32_t i : t->source_index) {
      const Value& v = ev->before.values[i];
      matches_nothing |= v.is_null() || v.kind == ValueKind::kAbsent;  // a NULL references nothing
      c.values.push_back(v);
    }
    if (matches_nothing) continue;
    if (!del) {
      bool same = true;
      for (uint32_t i : t->source_index) {
        const Value& v = ev->after.values[i];
        if (v.kind == ValueKind::kAbsent) matches_nothing = true;
        same &= SameValue(ev->before.values[i], v);
        c.values.push_back(v);
      }
      if (same || matches_nothing) continue;
    }
    c.pos = ev->pos;
    c.ts_ms = ev->ts_ms;
    c.origin = ev;
    out.push_back(std::move(c));
  }
}

}  // namespace sluice::transform
