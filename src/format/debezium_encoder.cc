// `debezium`: the Debezium MySQL connector's change event envelope, one
// change per message (rows of a PostgreSQL source carry the PostgreSQL
// connector's source block, "connector":"postgresql"):
//   {"before":{..}|null,"after":{..}|null,"source":{"version","connector":"mysql","name",
//    "ts_ms","snapshot","db","table","server_id","gtid","file","pos","row","thread","query"},
//    "op":"c|u|d|r","ts_ms":..,"transaction":null}
// wrapped as {"schema":{..},"payload":{..}} with `schemas: true`. Message
// key: the key struct ({"id":7}, schema-wrapped likewise; none for a keyless
// table). After each delete a tombstone (same key, null value) unless
// `tombstones: false`. Values by profile: see debezium_values.h.
// DDL: the connector's schema change event
//   {"source":{..},"ts_ms":..,"databaseName":..,"schemaName":null,"ddl":..,"tableChanges":[]}
// keyed by {"databaseName":..}.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <unordered_map>

#include "core/json_writer.h"
#include "core/position.h"
#include "format/column_type.h"
#include "format/debezium_values.h"
#include "format/encoders.h"
#include "format/format_util.h"

namespace sluice::format {
namespace {

using debezium::Profile;

constexpr std::string_view kVersion = "sluice";

constexpr std::string_view kTransactionSchema =
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}],"
    "\"optional\":true,\"field\":\"transaction\"}";

class DebeziumEncoder : public Encoder {
 public:
  explicit DebeziumEncoder(const EncoderOptions& o)
      : options_(o), profile_(o.debezium_profile == "native" ? Profile::kNative : Profile::kFlink) {
    source_head_ = "{\"version\":\"";
    source_head_ += kVersion;
    source_head_ += "\",\"connector\":\"mysql\",\"name\":";
    AppendJsonString(source_head_, options_.server_name);
    source_head_ += ",\"ts_ms\":";
  }

  Status EncodeChange(const SinkChange& ch, const ChangeContext& ctx, std::vector<Message>& out) override {
    const TargetTable& t = *ch.table;
    const Prepared& p = For(ch.table);
    Message m;
    if (t.has_key()) {
      std::string& k = m.key;
      k.reserve(p.key_size_hint);
      if (options_.schemas) {
        k += "{\"schema\":";
        k += p.key_schema;
        k += ",\"payload\":";
      }
      k += '{';
      for (size_t n = 0; n < t.key.size(); ++n) {
        if (n) k += ',';
        k += p.keys[t.key[n]];
        RETURN_IF_ERROR(AppendValue(k, ch, p, t.key[n], ch.values[t.key[n]]));
      }
      k += '}';
      if (options_.schemas) k += '}';
    }
    std::string& v = m.value.emplace();
    v.reserve(p.value_size_hint);
    if (options_.schemas) {
      v += "{\"schema\":";
      v += p.value_schema;
      v += ",\"payload\":";
    }
    v += "{\"before\":";
    if (ch.op == Op::kUpdate) {
      RETURN_IF_ERROR(AppendImage(v, ch, p, [&](size_t i) -> const Value& { return ch.before_value(i); }));
    } else if (ch.op == Op::kDelete) {
      RETURN_IF_ERROR(AppendImage(v, ch, p, [&](size_t i) -> const Value& { return ch.values[i]; }));
    } else {
      v += "null";
    }
    v += ",\"after\":";
    if (ch.op == Op::kDelete) {
      v += "null";
    } else {
      RETURN_IF_ERROR(AppendImage(v, ch, p, [&](size_t i) -> const Value& { return ch.values[i]; }));
    }
    v += ",\"source\":";
    if (ch.pos.is_lsn()) {
      AppendPostgresSource(v, t.db, t.table, ch.ts_ms, ch.snapshot, ch.pos);
    } else {
      AppendSource(v, t.db, t.table, ch.ts_ms, ch.snapshot, ctx.gtid, ch.pos.file, ch.pos.txn_offset,
                   ch.pos.index > 0 ? ch.pos.index - 1 : 0, ctx.server_id, &p.db_table);
    }
    v += ch.op == Op::kUpdate ? ",\"op\":\"u\",\"ts_ms\":"
         : ch.op == Op::kDelete ? ",\"op\":\"d\",\"ts_ms\":"
         : ch.snapshot          ? ",\"op\":\"r\",\"ts_ms\":"
                                : ",\"op\":\"c\",\"ts_ms\":";
    AppendUInt(v, NowMs());
    v += ",\"transaction\":null}";
    if (options_.schemas) v += '}';
    p.key_size_hint = std::max(p.key_size_hint, m.key.size());
    p.value_size_hint = std::max(p.value_size_hint, v.size());
    const bool tombstone = ch.op == Op::kDelete && options_.tombstones && t.has_key();
    std::string key_copy = tombstone ? m.key : std::string();
    out.push_back(std::move(m));
    if (tombstone) out.push_back(Message{std::move(key_copy), std::nullopt});
    return Status::Ok();
  }

  Status EncodeDdl(const DdlEvent& ddl, std::vector<Message>& out) override {
    Message m;
    std::string payload_key = "{\"databaseName\":";
    AppendJsonString(payload_key, ddl.db);
    payload_key += '}';
    std::string payload = "{\"source\":";
    std::string_view file = ddl.position.substr(0, ddl.position.rfind(':'));
    uint64_t pos = 0;
    if (size_t colon = ddl.position.rfind(':'); colon != std::string_view::npos) {
      pos = std::strtoull(std::string(ddl.position.substr(colon + 1)).c_str(), nullptr, 10);
    }
    AppendSource(payload, ddl.db, ddl.table, ddl.ts_ms, false, ddl.gtid, file, pos, 0, 0);
    payload += ",\"ts_ms\":";
    AppendUInt(payload, NowMs());
    payload += ",\"databaseName\":";
    AppendJsonString(payload, ddl.db);
    payload += ",\"schemaName\":null,\"ddl\":";
    AppendJsonString(payload, ddl.query);
    payload += ",\"tableChanges\":[]}";
    if (options_.schemas) {
      m.key =
          "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,"
          "\"field\":\"databaseName\"}],\"optional\":false,"
          "\"name\":\"io.debezium.connector.mysql.SchemaChangeKey\"},\"payload\":" +
          payload_key + "}";
      std::string& v = m.value.emplace();
      v = "{\"schema\":{\"type\":\"struct\",\"fields\":[";
      v += debezium::MysqlSourceSchema();
      v += ",{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
           "{\"type\":\"string\",\"optional\":true,\"field\":\"databaseName\"},"
           "{\"type\":\"string\",\"optional\":true,\"field\":\"schemaName\"},"
           "{\"type\":\"string\",\"optional\":true,\"field\":\"ddl\"},"
           "{\"type\":\"array\",\"items\":{\"type\":\"struct\",\"fields\":[],\"optional\":false},"
           "\"optional\":false,\"field\":\"tableChanges\"}],\"optional\":false,"
           "\"name\":\"io.debezium.connector.mysql.SchemaChangeValue\"},\"payload\":";
      v += payload;
      v += '}';
    } else {
      m.key = std::move(payload_key);
      m.value = std::move(payload);
    }
    out.push_back(std::move(m));
    return Status::Ok();
  }

 private:
  struct Prepared {
    TargetTablePtr pin;
    std::vector<std::string> keys;  // "\"name\":"
    std::vector<ColumnType> types;
    std::string value_schema, key_schema;
    std::string db_table;  // ,"db":..,"table":.. of the source block
    // The largest key and value so far: reserved up front, so that a
    // message's buffer is allocated once.
    mutable size_t key_size_hint = 16;
    mutable size_t value_size_hint = 256;
  };

  uint64_t NowMs() const {
    if (options_.now_ms) return options_.now_ms;
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
  }

  void AppendSource(std::string& v, std::string_view db, std::string_view table, uint64_t ts_ms, bool snapshot,
                    std::string_view gtid, std::string_view file, uint64_t pos, uint64_t row,
                    uint64_t server_id, const std::string* db_table = nullptr) const {
    v += source_head_;  // {"version":..,"connector":"mysql","name":..,"ts_ms":
    AppendUInt(v, ts_ms);
    v += snapshot ? ",\"snapshot\":\"true\"" : ",\"snapshot\":\"false\"";
    if (db_table != nullptr) {
      v += *db_table;
    } else {
      AppendDbTable(v, db, table);
    }
    v += ",\"server_id\":";
    AppendUInt(v, server_id);
    v += ",\"gtid\":";
    if (gtid.empty()) {
      v += "null";
    } else {
      AppendJsonString(v, gtid);
    }
    v += ",\"file\":";
    AppendJsonString(v, file);
    v += ",\"pos\":";
    AppendUInt(v, pos);
    v += ",\"row\":";
    AppendUInt(v, row);
    v += ",\"thread\":null,\"query\":null}";
  }

  // A PostgreSQL source's change: the Debezium PostgreSQL connector's
  // source block ("connector":"postgresql"; "lsn" the commit's end LSN as a
  // number). `db` is the schema (sluice's db); the database name is not
  // known to the sink, so "db" repeats it.
  void AppendPostgresSource(std::string& v, std::string_view db, std::string_view table, uint64_t ts_ms,
                            bool snapshot, const StreamPos& pos) const {
    v += "{\"version\":\"";
    v += kVersion;
    v += "\",\"connector\":\"postgresql\",\"name\":";
    AppendJsonString(v, options_.server_name);
    v += ",\"ts_ms\":";
    AppendUInt(v, ts_ms);
    v += snapshot ? ",\"snapshot\":\"true\"" : ",\"snapshot\":\"false\"";
    AppendDbTable(v, db, table);
    v += ",\"schema\":";
    AppendJsonString(v, db);
    v += ",\"txId\":null,\"lsn\":";
    auto lsn = Lsn::Parse(pos.file);
    AppendUInt(v, lsn.ok() ? lsn->value : 0);
    v += ",\"xmin\":null}";
  }

  // ,"db":..,"table":..|null
  static void AppendDbTable(std::string& v, std::string_view db, std::string_view table) {
    v += ",\"db\":";
    AppendJsonString(v, db);
    v += ",\"table\":";
    if (table.empty()) {
      v += "null";
    } else {
      AppendJsonString(v, table);
    }
  }

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
    AppendDbTable(p.db_table, t.db, t.table);
    std::string fields;
    bool from_postgres = false;  // the source block's schema follows the source
    for (size_t i = 0; i < t.columns.size(); ++i) {
      std::string k;
      AppendJsonString(k, t.columns[i]);
      k += ':';
      p.keys.push_back(std::move(k));
      const ColumnMeta& col = t.column_meta(i);
      from_postgres |= col.pg_type_oid != 0;
      p.types.push_back(ColumnTypeOf(col));
      if (i) fields += ',';
      debezium::AppendFieldSchema(fields, profile_, col, p.types.back(), t.columns[i], col.nullable);
    }
    std::string prefix = fmt::format("{}.{}.{}", options_.server_name, t.db, t.table);
    std::string quoted_value_name, quoted_envelope_name, quoted_key_name;
    AppendJsonString(quoted_value_name, prefix + ".Value");
    AppendJsonString(quoted_envelope_name, prefix + ".Envelope");
    AppendJsonString(quoted_key_name, prefix + ".Key");
    auto image = [&](std::string_view field) {
      return fmt::format("{{\"type\":\"struct\",\"fields\":[{}],\"optional\":true,\"name\":{},\"field\":\"{}\"}}",
                         fields, quoted_value_name, field);
    };
    p.value_schema = fmt::format(
        "{{\"type\":\"struct\",\"fields\":[{},{},{},{{\"type\":\"string\",\"optional\":false,\"field\":\"op\"}},"
        "{{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"}},{}],\"optional\":false,\"name\":{}}}",
        image("before"), image("after"), from_postgres ? debezium::PgSourceSchema() : debezium::MysqlSourceSchema(),
        kTransactionSchema, quoted_envelope_name);
    std::string key_fields;
    for (size_t n = 0; n < t.key.size(); ++n) {
      if (n) key_fields += ',';
      uint32_t i = t.key[n];
      debezium::AppendFieldSchema(key_fields, profile_, t.column_meta(i), p.types[i], t.columns[i], false);
    }
    p.key_schema = fmt::format("{{\"type\":\"struct\",\"fields\":[{}],\"optional\":false,\"name\":{}}}", key_fields,
                               quoted_key_name);
    last_table_ = table.get();
    last_ = &cache_.emplace(table.get(), std::move(p)).first->second;
    return *last_;
  }

  Status AppendValue(std::string& v, const SinkChange& ch, const Prepared& p, size_t i, const Value& x) const {
    if (x.is_null() || x.kind == ValueKind::kAbsent) {
      v += "null";
      return Status::Ok();
    }
    Status st = debezium::AppendValue(v, profile_, ch.table->column_meta(i), p.types[i], x);
    if (st.ok()) return st;  // the context only on failure: formatting it per value was most of the cost
    return st.WithContext(fmt::format("debezium: table `{}`.`{}` column `{}` @ {}", ch.table->db, ch.table->table,
                                      ch.table->columns[i], ch.pos.ToString()));
  }

  template <typename Get>
  Status AppendImage(std::string& v, const SinkChange& ch, const Prepared& p, Get get) const {
    v += '{';
    bool first = true;
    for (size_t i = 0; i < p.keys.size(); ++i) {
      const Value& x = get(i);
      if (x.kind == ValueKind::kAbsent) continue;
      if (!first) v += ',';
      first = false;
      v += p.keys[i];
      RETURN_IF_ERROR(AppendValue(v, ch, p, i, x));
    }
    v += '}';
    return Status::Ok();
  }

  EncoderOptions options_;
  Profile profile_;
  std::string source_head_;  // the source block up to its "ts_ms" value
  std::unordered_map<const TargetTable*, Prepared> cache_;
  const TargetTable* last_table_ = nullptr;  // the last lookup (unordered_map nodes never move)
  const Prepared* last_ = nullptr;
};

}  // namespace

std::unique_ptr<Encoder> MakeDebeziumEncoder(const EncoderOptions& options) {
  return std::make_unique<DebeziumEncoder>(options);
}

}  // namespace sluice::format
