// ClickhouseSink and foreign key actions (sink/cascade_sql.h). Its tables
// keep row versions (ReplacingMergeTree(_version) with _sign), so deleting
// or re-keying the child rows is inserting their next version, selected
// from the table's current rows: tombstones (_sign -1), or the rows with
// their key set. The version is the cascade's own (the parent's change):
// later than every earlier change of those rows, earlier than every later
// one, and the same in a replay (which then finds the rows already changed).

#include <algorithm>

#include "sink/cascade_sql.h"
#include "sink/clickhouse/clickhouse_sink.h"
#include "sink/clickhouse/version.h"

namespace sluice::sink::clickhouse {
namespace {

using sluice::clickhouse::QuoteIdentifier;

class ClickhouseCascadeTarget : public CascadeTarget {
 public:
  ClickhouseCascadeTarget(sluice::clickhouse::ClickhouseClient& client, uint64_t version)
      : client_(client), version_(version) {}

  void Ident(std::string& out, std::string_view name) const override { out += QuoteIdentifier(name); }
  Status Literal(std::string& out, const SinkChange& ch, size_t i, const Value& v) const override {
    if (v.is_null()) {
      out += "NULL";
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(std::string literal, ValueLiteral(v, ch.table->column_meta(i)));
    out += literal;
    return Status::Ok();
  }
  // The rows as of their last version (FINAL), live ones only; the
  // condition applies to that version (no move to PREWHERE, before FINAL).
  std::string FromWhere(const std::string& table, const std::string& where) const override {
    return "FROM " + table + " FINAL WHERE (" + where + ") AND _sign = 1";
  }
  Result<bool> Exists(const std::string& select) override {
    ASSIGN_OR_RETURN(auto rows,
                     client_.QueryRows(select + " SETTINGS optimize_move_to_prewhere = 0 FORMAT TabSeparated"));
    return !rows.empty();
  }
  Status Delete(const CascadeEdge& e, const std::string& table, const CascadeRows& rows) override {
    return InsertNextVersion(e, table, rows.where, nullptr, -1);
  }
  Status Set(const CascadeEdge& e, const std::string& table, const std::vector<std::string>& values,
             const CascadeRows& rows) override {
    return InsertNextVersion(e, table, rows.where, &values, 1);
  }

 private:
  Status InsertNextVersion(const CascadeEdge& e, const std::string& table, const std::string& where,
                           const std::vector<std::string>* values, int sign) {
    ASSIGN_OR_RETURN(auto columns, DescribeTable(client_, e.child_db, e.child_table));
    if (columns.empty()) return Status::Ok();  // no such table: no rows to change
    std::string names, select;
    for (const auto& [name, type] : columns) {
      if (name == "_version" || name == "_sign") continue;
      if (!names.empty()) {
        names += ", ";
        select += ", ";
      }
      names += QuoteIdentifier(name);
      auto key = std::find(e.child_columns.begin(), e.child_columns.end(), name);
      if (values && key != e.child_columns.end()) {
        select += "CAST(" + (*values)[static_cast<size_t>(key - e.child_columns.begin())] + " AS " + type + ")";
      } else {
        select += QuoteIdentifier(name);
      }
    }
    const std::string sql = fmt::format(
        "INSERT INTO {} ({}, _version, _sign) SELECT {}, {}, {} {} SETTINGS "
        "optimize_move_to_prewhere = 0",
        table, names, select, version_, sign, FromWhere(table, where));
    auto done = client_.Query(sql);
    return done.ok() ? Status::Ok() : done.status();
  }

  sluice::clickhouse::ClickhouseClient& client_;
  uint64_t version_;
};

}  // namespace

Status ClickhouseSink::ApplyCascade(const SinkChange& ch) {
  ASSIGN_OR_RETURN(uint64_t version, VersionOf(ch.pos));
  ClickhouseCascadeTarget target(*client_, version);
  Status st = RedoCascade(target, ch);
  if (!st.ok()) {
    return st.WithContext(fmt::format("pipeline {} target {}: foreign key {} @ {}", options_.pipeline, options_.target,
                                      ch.table->cascade->fk, ch.pos.ToString()));
  }
  return st;
}

}  // namespace sluice::sink::clickhouse
