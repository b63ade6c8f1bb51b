#include "sink/postgres/pg_computed_columns.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string>

#include "sink/postgres/pg_statements.h"

namespace sluice::sink::postgres {

using sluice::postgres::QuoteLiteral;

Status ComputedColumns::Note(sluice::postgres::PgConnection& c, const TargetTablePtr& t) {
  if (tables_.count(t.get())) return Status::Ok();
  // attgenerated exists from PostgreSQL 12 on: read through to_jsonb, an
  // older server has no generated columns and answers none.
  ASSIGN_OR_RETURN(auto rows, c.Query(fmt::format("SELECT a.attname FROM pg_attribute a WHERE a.attrelid = "
                                                  "to_regclass({}) AND a.attnum > 0 AND NOT a.attisdropped AND "
                                                  "coalesce(to_jsonb(a) ->> 'attgenerated', '') <> ''",
                                                  QuoteLiteral(QualifiedName(t->db, t->table)))));
  std::set<std::string> generated;
  for (const auto& r : rows) generated.insert(r[0].value_or(""));
  Narrowed n{t, nullptr, std::vector<bool>(t->columns.size(), false)};
  bool any = false;
  for (size_t i = 0; i < t->columns.size(); ++i) {
    const bool key = std::find(t->key.begin(), t->key.end(), i) != t->key.end();
    n.drop[i] = !key && generated.count(t->columns[i]) > 0;
    any |= n.drop[i];
  }
  if (any) {
    auto narrowed = std::make_shared<TargetTable>(*t);
    narrowed->columns.clear();
    narrowed->source_index.clear();
    std::vector<uint32_t> moved(t->columns.size());  // old index -> new
    for (size_t i = 0; i < t->columns.size(); ++i) {
      if (n.drop[i]) continue;
      moved[i] = static_cast<uint32_t>(narrowed->columns.size());
      narrowed->columns.push_back(t->columns[i]);
      narrowed->source_index.push_back(t->source_index[i]);
    }
    for (uint32_t& k : narrowed->key) k = moved[k];  // key columns are never dropped
    n.table = std::move(narrowed);
    any_ = true;
  }
  tables_.emplace(t.get(), std::move(n));
  return Status::Ok();
}

TargetTablePtr ComputedColumns::NarrowedOf(const TargetTable* t) const {
  auto it = tables_.find(t);
  return it == tables_.end() ? nullptr : it->second.table;
}

void ComputedColumns::LeaveOut(std::vector<SinkChange>& changes) const {
  if (!any_) return;
  for (SinkChange& ch : changes) {
    if (ch.kind == SinkChange::Kind::kCascade) continue;
    auto it = tables_.find(ch.table.get());
    if (it == tables_.end() || !it->second.table) continue;
    const std::vector<bool>& drop = it->second.drop;
    size_t kept = 0;
    for (size_t i = 0; i < ch.values.size(); ++i) {
      if (i < drop.size() && drop[i]) continue;
      ch.values[kept++] = ch.values[i];
    }
    ch.values.resize(kept);
    ch.table = it->second.table;
  }
}

}  // namespace sluice::sink::postgres
