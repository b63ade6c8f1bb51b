// `maxwell`: Maxwell's JSON, one change per message:
//   {"database":..,"table":..,"type":"insert","ts":SECONDS,"xid":..,"xoffset":N | "commit":true,
//    "data":{..},"old":{..},"primary_key_columns":[..]}
// "old" (updates only) holds the updated columns' previous values; a
// snapshot row is "bootstrap-insert". Values are typed JSON as Maxwell
// writes them: numbers (DECIMAL and BIGINT UNSIGNED exact), strings for
// temporals ("2024-01-31 12:34:56.789", TIMESTAMP in UTC), BIT(1) as a
// boolean, ENUM as its name, SET as an array of names, JSON inline, binary
// as base64. Message key: {"database":..,"table":..,"pk.id":..} (every
// column for a keyless table).
#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "core/json_writer.h"
#include "format/column_type.h"
#include "format/encoders.h"
#include "format/format_util.h"

namespace sluice::format {
namespace {

class MaxwellEncoder : public Encoder {
 public:
  Status EncodeChange(const SinkChange& ch, const ChangeContext& ctx, std::vector<Message>& out) override {
    const TargetTable& t = *ch.table;
    const Prepared& p = For(ch.table);
    Message m;
    std::string& k = m.key;
    k.reserve(p.key_size_hint);
    k += p.head;  // {"database":..,"table":..
    if (t.has_key()) {
      for (uint32_t i : t.key) {
        k += p.pk_keys[i];  // ,"pk.name":
        RETURN_IF_ERROR(AppendValue(k, ch, p, i, ch.values[i]));
      }
    } else {
      for (size_t i = 0; i < t.columns.size(); ++i) {
        k += p.pk_keys[i];
        RETURN_IF_ERROR(AppendValue(k, ch, p, i, ch.values[i]));
      }
    }
    k += '}';

    std::string& v = m.value.emplace();
    v.reserve(p.value_size_hint);
    v += p.head;
    v += ch.op == Op::kUpdate   ? ",\"type\":\"update\",\"ts\":"
         : ch.op == Op::kDelete ? ",\"type\":\"delete\",\"ts\":"
         : ch.snapshot          ? ",\"type\":\"bootstrap-insert\",\"ts\":"
                                : ",\"type\":\"insert\",\"ts\":";
    AppendUInt(v, ch.ts_ms / 1000);
    v += ",\"xid\":";
    AppendUInt(v, ctx.xid);
    if (ctx.last_in_transaction) {
      v += ",\"commit\":true";
    } else {
      v += ",\"xoffset\":";
      AppendUInt(v, ch.pos.index > 0 ? ch.pos.index - 1 : 0);
    }
    v += ",\"data\":{";
    bool first = true;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (ch.values[i].kind == ValueKind::kAbsent) continue;
      if (!first) v += ',';
      first = false;
      v += p.keys[i];
      RETURN_IF_ERROR(AppendValue(v, ch, p, i, ch.values[i]));
    }
    v += '}';
    if (ch.op == Op::kUpdate) {
      bool any = false;
      for (size_t i = 0; i < t.columns.size(); ++i) {
        const Value& before = ch.before_value(i);
        if (before.kind == ValueKind::kAbsent || SameValue(before, ch.values[i])) continue;
        v += any ? "," : ",\"old\":{";
        any = true;
        v += p.keys[i];
        RETURN_IF_ERROR(AppendValue(v, ch, p, i, before));
      }
      if (any) v += '}';
    }
    v += ",\"primary_key_columns\":";
    v += p.pk_columns;
    v += '}';
    p.key_size_hint = std::max(p.key_size_hint, k.size());
    p.value_size_hint = std::max(p.value_size_hint, v.size());
    out.push_back(std::move(m));
    return Status::Ok();
  }

  // {"type":"table-alter","database":..,"table":..,"ts":MS,"sql":..,"position":..}
  Status EncodeDdl(const DdlEvent& ddl, std::vector<Message>& out) override {
    const char* type = "ddl";
    switch (ClassifyDdl(ddl.query)) {
      case DdlKind::kCreateDatabase:
        type = "database-create";
        break;
      case DdlKind::kAlterDatabase:
        type = "database-alter";
        break;
      case DdlKind::kDropDatabase:
        type = "database-drop";
        break;
      case DdlKind::kCreateTable:
        type = "table-create";
        break;
      case DdlKind::kDropTable:
        type = "table-drop";
        break;
      case DdlKind::kAlterTable:
      case DdlKind::kRenameTable:
      case DdlKind::kCreateIndex:
      case DdlKind::kDropIndex:
        type = "table-alter";
        break;
      default:
        break;
    }
    Message m;
    m.key = "{\"database\":";
    AppendJsonString(m.key, ddl.db);
    m.key += ",\"table\":";
    AppendJsonString(m.key, ddl.table);
    m.key += '}';
    std::string& v = m.value.emplace();
    fmt::format_to(std::back_inserter(v), "{{\"type\":\"{}\",\"database\":", type);
    AppendJsonString(v, ddl.db);
    v += ",\"table\":";
    if (ddl.table.empty()) {
      v += "null";
    } else {
      AppendJsonString(v, ddl.table);
    }
    fmt::format_to(std::back_inserter(v), ",\"ts\":{},\"sql\":", ddl.ts_ms);
    AppendJsonString(v, ddl.query);
    v += ",\"position\":";
    AppendJsonString(v, ddl.position);
    v += '}';
    out.push_back(std::move(m));
    return Status::Ok();
  }

 private:
  struct Prepared {
    TargetTablePtr pin;
    std::vector<std::string> keys;
    std::vector<ColumnType> types;
    std::string pk_columns;
    std::string head;                  // {"database":..,"table":..
    std::vector<std::string> pk_keys;  // ,"pk.name": per column
    // The largest key and value so far: reserved up front, so that a
    // message's buffer is allocated once.
    mutable size_t key_size_hint = 32;
    mutable size_t value_size_hint = 256;
  };

  const Prepared& For(const TargetTablePtr& table) {
    if (table.get() == last_table_) return *last_;  // rows come in runs of one table
    auto it = cache_.find(table.get());
    if (it != cache_.end()) {
      last_table_ = table.get();
      last_ = &it->second;
      return it->second;
    }
    if (cache_.size() > 4096) cache_.clear();
    const TargetTable& t = *table;
    Prepared p;
    p.pin = table;
    p.head = "{\"database\":";
    AppendJsonString(p.head, t.db);
    p.head += ",\"table\":";
    AppendJsonString(p.head, t.table);
    for (size_t i = 0; i < t.columns.size(); ++i) {
      std::string k;
      AppendJsonString(k, t.columns[i]);
      // The column name inside the key's own string: escaped as a whole.
      std::string& pk = p.pk_keys.emplace_back(",\"pk.");
      pk.append(k, 1, k.size() - 1);
      pk += ':';
      k += ':';
      p.keys.push_back(std::move(k));
      p.types.push_back(ColumnTypeOf(t.column_meta(i)));
    }
    p.pk_columns = "[";
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) p.pk_columns += ',';
      AppendJsonString(p.pk_columns, t.columns[t.key[k]]);
    }
    p.pk_columns += ']';
    last_table_ = table.get();
    last_ = &cache_.emplace(table.get(), std::move(p)).first->second;
    return *last_;
  }

  static Status AppendValue(std::string& v, const SinkChange& ch, const Prepared& p, size_t i, const Value& x) {
    const ColumnType& t = p.types[i];
    const ColumnMeta& col = ch.table->column_meta(i);
    if (x.is_null() || x.kind == ValueKind::kAbsent) {
      v += "null";
      return Status::Ok();
    }
    switch (x.kind) {
      case ValueKind::kFloat:
        AppendJavaFloat(v, static_cast<float>(x.d));
        return Status::Ok();
      case ValueKind::kDouble:
        AppendJavaDouble(v, x.d);
        return Status::Ok();
      case ValueKind::kDecimal:
        v.append(x.s);  // a JSON number, exact
        return Status::Ok();
      case ValueKind::kBit:
        if (t.length == 1) {
          v += x.u ? "true" : "false";
          return Status::Ok();
        }
        break;
      case ValueKind::kSet: {
        v += '[';
        std::string_view rest = x.s;
        bool first = true;
        while (!rest.empty()) {
          size_t comma = rest.find(',');
          if (!first) v += ',';
          first = false;
          AppendJsonString(v, rest.substr(0, comma));
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
        v += ']';
        return Status::Ok();
      }
      case ValueKind::kUInt:
        // An ENUM or SET whose member names were unknown to the source.
        if (t.family == TypeFamily::kEnum || t.family == TypeFamily::kSet) {
          return Status::Error(StatusCode::kNotSupported,
                               "maxwell: table `{}`.`{}` column `{}` @ {}: {} member names are unknown (index {})",
                               ch.table->db, ch.table->table, col.name, ch.pos.ToString(),
                               t.family == TypeFamily::kEnum ? "ENUM" : "SET", x.u);
        }
        break;
      default:
        break;
    }
    AppendJsonValue(v, x);
    return Status::Ok();
  }

  std::unordered_map<const TargetTable*, Prepared> cache_;
  const TargetTable* last_table_ = nullptr;  // the last lookup (unordered_map nodes never move)
  const Prepared* last_ = nullptr;
};

}  // namespace

std::unique_ptr<Encoder> MakeMaxwellEncoder(const EncoderOptions&) { return std::make_unique<MaxwellEncoder>(); }

}  // namespace sluice::format
