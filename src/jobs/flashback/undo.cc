#include "jobs/flashback/undo.h"

#include <fmt/format.h>

#include <unordered_map>

#include "sink/mysql/big_rows.h"
#include "sink/mysql/sql_builder.h"

namespace sluice::jobs::flashback {
namespace {

namespace sql = sink::mysql;

SinkChange ChangeOf(const TargetTablePtr& t, const std::shared_ptr<const ChangeEvent>& e, const OwnedImage& image) {
  SinkChange c;
  c.table = t;
  c.op = e->op;
  c.values = image.values;
  c.pos = e->pos;
  c.ts_ms = e->ts_ms;
  c.origin = e;
  return c;
}

// Identity of a row for FinalRows: the table's name and its key values as
// literals (keyless: every value).
std::string RowIdentity(const TargetTable& t, const std::vector<Value>& values) {
  std::string id = t.source;
  id += '\0';
  auto add = [&](size_t i) {
    if (!sql::AppendLiteral(id, values[i]).ok()) id += "?";  // kAbsent: the reader refuses such rows first
    id += '\0';
  };
  if (t.has_key()) {
    for (uint32_t k : t.key) add(k);
  } else {
    for (size_t i = 0; i < values.size(); ++i) add(i);
  }
  return id;
}

// An update step whose row keeps its key (before and after images agree on it).
bool KeepsKey(const TargetTable& t, const UndoStep& s) {
  for (uint32_t k : t.key) {
    if (!SameValue(s.change.values[k], s.current[k])) return false;
  }
  return true;
}

}  // namespace

std::string SourceTransaction::Where() const {
  std::string pos = fmt::format("{}:{}", file, offset);
  return gtid.empty() ? pos : fmt::format("{} @ {}", gtid, pos);
}

const TargetTablePtr& TargetTables::For(const TableSchemaPtr& schema) {
  auto it = targets_.find(schema.get());
  if (it != targets_.end()) return it->second;
  keep_.push_back(schema);
  return targets_.emplace(schema.get(), MakeIdentityTarget(schema)).first->second;
}

namespace {

// The undo of rows[begin, end), newest first.
std::vector<UndoStep> InvertRows(const std::vector<std::shared_ptr<const ChangeEvent>>& rows, size_t begin,
                                 size_t end, TargetTables& tables) {
  std::vector<UndoStep> steps;
  steps.reserve(end - begin);
  for (size_t r = end; r > begin; --r) {
    const std::shared_ptr<const ChangeEvent>& e = rows[r - 1];
    const TargetTablePtr& t = tables.For(e->table);
    UndoStep s;
    switch (e->op) {
      case Op::kInsert:
        s.kind = t->has_key() ? UndoStep::Kind::kDeleteByKey : UndoStep::Kind::kDeleteExact;
        s.change = ChangeOf(t, e, e->after);
        break;
      case Op::kDelete:
        s.kind = UndoStep::Kind::kInsert;
        s.change = ChangeOf(t, e, e->before);
        break;
      case Op::kUpdate:
        s.kind = UndoStep::Kind::kUpdate;
        s.change = ChangeOf(t, e, e->before);
        s.current = e->after.values;
        break;
    }
    steps.push_back(std::move(s));
  }
  return steps;
}

}  // namespace

std::vector<UndoStep> InvertTransaction(const SourceTransaction& txn, TargetTables& tables) {
  return InvertRows(txn.rows, 0, txn.rows.size(), tables);
}

Status RenderTransactionUndo(const SourceTransaction& txn, TargetTables& tables, const TableFactsMap& facts,
                             const std::function<Status(const std::string&)>& emit, size_t slice_rows,
                             size_t max_packet) {
  for (size_t end = txn.rows.size(); end > 0;) {
    size_t begin = end > slice_rows ? end - slice_rows : 0;
    RETURN_IF_ERROR(RenderUndo(InvertRows(txn.rows, begin, end, tables), facts, emit, 1 << 20, max_packet));
    end = begin;
  }
  return Status::Ok();
}

Status RenderUndo(const std::vector<UndoStep>& steps, const TableFactsMap& facts,
                  const std::function<Status(const std::string&)>& emit, size_t max_statement_bytes,
                  size_t max_packet) {
  static const TableFacts kNoFacts;
  // Within the packet: rows near it alone (in pieces when they must), and
  // slices whose SQL stays under it (see MysqlLoader::SliceBytes).
  const size_t budget = max_packet ? sql::StatementBudget(max_packet) : SIZE_MAX;
  if (max_packet) max_statement_bytes = std::min(max_statement_bytes, budget / 8);
  std::string stmt;
  std::vector<const SinkChange*> run;
  size_t i = 0;
  while (i < steps.size()) {
    const UndoStep& s = steps[i];
    const TargetTable& t = *s.change.table;
    auto f = facts.find(t.source);
    const TableFacts& fact = f == facts.end() ? kNoFacts : f->second;
    const std::vector<bool>* computed = fact.generated.empty() ? nullptr : &fact.generated;
    // Steps that one multi-row statement can carry: it does what the single
    // ones would, in the same order.
    auto batchable = [&](const UndoStep& x) {
      if (x.kind != UndoStep::Kind::kDeleteByKey && sql::StatementBytesBound(t, x.change) > budget / 4) return false;
      switch (x.kind) {
        case UndoStep::Kind::kInsert:
        case UndoStep::Kind::kDeleteByKey:
          return true;
        case UndoStep::Kind::kUpdate:
          return fact.upsert_updates && t.has_key() && KeepsKey(t, x);
        case UndoStep::Kind::kDeleteExact:
          return false;
      }
      return false;
    };
    Status st;
    if (batchable(s)) {
      run.clear();
      size_t j = i;
      while (j < steps.size() && steps[j].kind == s.kind && steps[j].change.table == s.change.table &&
             batchable(steps[j])) {
        run.push_back(&steps[j].change);
        ++j;
      }
      sql::StatementBuilder build;
      if (s.kind == UndoStep::Kind::kDeleteByKey) {
        build = sql::BuildDelete;
      } else {
        const bool insert = s.kind == UndoStep::Kind::kInsert;
        build = [computed, insert](std::string& out, const TargetTable& tt, const std::vector<const SinkChange*>& rows) {
          return insert ? sql::BuildInsert(out, tt, rows, computed) : sql::BuildUpsert(out, tt, rows, computed);
        };
      }
      st = sql::ForEachStatement(t, run, max_statement_bytes, build, emit);
      if (!st.ok()) {
        return st.WithContext(fmt::format("undo of {} rows of {} from row {}", run.size(), t.source,
                                          s.change.pos.ToString()));
      }
      i = j;
      continue;
    }
    // One row: an update (by key, or whole), a keyless row, or one too
    // large to share a statement.
    sql::FirstStatement one = [&](std::string& out, const SinkChange& row) {
      std::vector<const SinkChange*> rows{&row};
      switch (s.kind) {
        case UndoStep::Kind::kUpdate: return sql::BuildUpdate(out, t, row, s.current, computed);
        case UndoStep::Kind::kInsert: return sql::BuildInsert(out, t, rows, computed);
        case UndoStep::Kind::kDeleteByKey: return sql::BuildDelete(out, t, rows);
        case UndoStep::Kind::kDeleteExact: return sql::BuildDeleteExact(out, t, row);
      }
      return Status::Ok();
    };
    stmt.clear();
    st = one(stmt, s.change);
    if (st.ok() && stmt.size() > budget) {
      st = t.has_key() && s.kind != UndoStep::Kind::kDeleteExact
               ? sql::WriteInPieces(t, s.change, one, computed, max_packet, emit)
               : sql::TooBigForTarget(t, stmt.size(), max_packet);
    } else if (st.ok()) {
      st = emit(stmt);
    }
    if (!st.ok()) return st.WithContext(fmt::format("undo of {} row {}", t.source, s.change.pos.ToString()));
    ++i;
  }
  return Status::Ok();
}

SinkChange FinalRow::Row() const { return ChangeOf(table, last, after ? last->after : last->before); }

std::string FinalRow::Where() const { return fmt::format("{} in {}", OpName(last->op), txn->Where()); }

std::vector<FinalRow> FinalRows(const std::vector<SourceTransaction>& txns, TargetTables& tables) {
  std::vector<FinalRow> rows;
  std::unordered_map<std::string, size_t> index;
  auto touch = [&](const TargetTablePtr& t, const std::shared_ptr<const ChangeEvent>& e, bool after, bool present,
                   int64_t delta, const SourceTransaction& txn) {
    std::string id = RowIdentity(*t, after ? e->after.values : e->before.values);
    auto [it, fresh] = index.emplace(std::move(id), rows.size());
    if (fresh) {
      FinalRow r;
      r.count = 0;
      rows.push_back(std::move(r));
    }
    FinalRow& r = rows[it->second];
    r.table = t;
    r.last = e;
    r.txn = &txn;
    r.after = after;
    r.present = present;
    r.count += delta;
  };
  for (const SourceTransaction& txn : txns) {
    for (const auto& e : txn.rows) {
      const TargetTablePtr& t = tables.For(e->table);
      if (!t->has_key()) {
        if (e->before.present) touch(t, e, /*after=*/false, true, -1, txn);
        if (e->after.present) touch(t, e, /*after=*/true, true, +1, txn);
        continue;
      }
      if (e->op != Op::kInsert) touch(t, e, /*after=*/false, false, 0, txn);
      if (e->op != Op::kDelete) touch(t, e, /*after=*/true, true, 0, txn);
    }
  }
  std::vector<FinalRow> out;
  out.reserve(rows.size());
  for (FinalRow& r : rows) {
    if (!r.table->has_key() && r.count <= 0) continue;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sluice::jobs::flashback
