// `canal`: Canal's flat message (what Canal >= 1.1 writes to Kafka with
// flatMessage=true), one change per message:
//   {"data":[{..}],"database":..,"es":..,"id":..,"isDdl":false,"mysqlType":{..},
//    "old":[{..}]|null,"pkNames":[..]|null,"sql":"","sqlType":{..},"table":..,"ts":..,"type":"INSERT"}
// Keys in Canal's (alphabetical) order. Values are strings as Canal prints
// them: numbers in Java's text, ENUM as its member index, SET as its bit
// mask, TIMESTAMP in UTC, binary columns as ISO-8859-1 text (each byte one
// character), NULL as null. "old" holds the updated columns' previous values.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "core/json_writer.h"
#include "format/column_type.h"
#include "format/encoders.h"
#include "format/format_util.h"

namespace sluice::format {
namespace {

// java.sql.Types as Canal reports them (unsigned integers widen: Canal
// reads them into the next Java type up).
int SqlType(const ColumnType& t) {
  switch (t.family) {
    case TypeFamily::kTinyInt:
      return t.is_unsigned ? 5 : -6;
    case TypeFamily::kSmallInt:
      return 4;
    case TypeFamily::kMediumInt:
      return 4;
    case TypeFamily::kInt:
      return t.is_unsigned ? -5 : 4;
    case TypeFamily::kBigInt:
      return t.is_unsigned ? 3 : -5;
    case TypeFamily::kFloat:
      return 7;
    case TypeFamily::kDouble:
      return 8;
    case TypeFamily::kDecimal:
      return 3;
    case TypeFamily::kDate:
      return 91;
    case TypeFamily::kTime:
      return 92;
    case TypeFamily::kDateTime:
    case TypeFamily::kTimestamp:
      return 93;
    case TypeFamily::kYear:
      return 12;
    case TypeFamily::kBit:
      return -7;
    case TypeFamily::kChar:
      return 1;
    case TypeFamily::kVarchar:
      return 12;
    case TypeFamily::kText:
      return 2005;
    case TypeFamily::kBinary:
      return -2;
    case TypeFamily::kVarbinary:
      return -3;
    case TypeFamily::kBlob:
      return 2004;
    case TypeFamily::kEnum:
      return 4;
    case TypeFamily::kSet:
      return -7;
    case TypeFamily::kJson:
      return 12;
    case TypeFamily::kGeometry:
      return -2;
    case TypeFamily::kUnknown:
      break;
  }
  return 1111;  // Types.OTHER
}

// Each byte as the character U+0000..U+00FF (Java's new String(bytes, ISO_8859_1)).
void AppendLatin1AsJson(std::string& out, std::string_view bytes) {
  std::string utf8;
  utf8.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      utf8 += static_cast<char>(c);
    } else {
      utf8 += static_cast<char>(0xC0 | (c >> 6));
      utf8 += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  AppendJsonString(out, utf8);
}

void AppendQuotedUInt(std::string& out, uint64_t v) {
  out += '"';
  AppendUInt(out, v);
  out += '"';
}

class CanalEncoder : public Encoder {
 public:
  explicit CanalEncoder(const EncoderOptions& o) : options_(o) {}

  Status EncodeChange(const SinkChange& ch, const ChangeContext& ctx, std::vector<Message>& out) override {
    const Prepared& p = For(ch.table);
    Message m;
    m.key.reserve(p.key_size_hint);
    AppendKeyObject(m.key, ch, p.keys);
    std::string& v = m.value.emplace();
    v.reserve(p.value_size_hint);
    v += "{\"data\":[";
    RETURN_IF_ERROR(AppendRow(
        v, ch, p, [&](size_t i) -> const Value& { return ch.values[i]; }, nullptr));
    v += p.database;  // ],"database":..
    v += ",\"es\":";
    AppendUInt(v, ch.ts_ms);
    v += ",\"id\":";
    AppendUInt(v, ctx.xid);
    v += ",\"isDdl\":false,\"mysqlType\":";
    v += p.mysql_type;
    v += ",\"old\":";
    if (ch.op == Op::kUpdate) {
      v += '[';
      RETURN_IF_ERROR(AppendRow(
          v, ch, p, [&](size_t i) -> const Value& { return ch.before_value(i); }, &ch));
      v += ']';
    } else {
      v += "null";
    }
    v += ",\"pkNames\":";
    v += p.pk_names;
    v += ",\"sql\":\"\",\"sqlType\":";
    v += p.sql_type;
    v += p.table;  // ,"table":..
    v += ",\"ts\":";
    AppendUInt(v, NowMs());
    v += ch.op == Op::kUpdate   ? ",\"type\":\"UPDATE\"}"
         : ch.op == Op::kDelete ? ",\"type\":\"DELETE\"}"
                                : ",\"type\":\"INSERT\"}";
    p.key_size_hint = std::max(p.key_size_hint, m.key.size());
    p.value_size_hint = std::max(p.value_size_hint, v.size());
    out.push_back(std::move(m));
    return Status::Ok();
  }

  Status EncodeDdl(const DdlEvent& ddl, std::vector<Message>& out) override {
    Message m;
    m.key = "{\"database\":";
    AppendJsonString(m.key, ddl.db);
    m.key += '}';
    std::string& v = m.value.emplace();
    v += "{\"data\":null,\"database\":";
    AppendJsonString(v, ddl.db);
    fmt::format_to(
        std::back_inserter(v),
        ",\"es\":{},\"id\":0,\"isDdl\":true,\"mysqlType\":null,\"old\":null,\"pkNames\":null,\"sql\":", ddl.ts_ms);
    AppendJsonString(v, ddl.query);
    v += ",\"sqlType\":null,\"table\":";
    AppendJsonString(v, ddl.table);
    fmt::format_to(std::back_inserter(v), ",\"ts\":{},\"type\":\"{}\"}}", NowMs(), CanalDdlType(ddl.query));
    out.push_back(std::move(m));
    return Status::Ok();
  }

 private:
  // The per-table parts, rendered once per table version.
  struct Prepared {
    TargetTablePtr pin;             // keeps the cache key alive
    std::vector<std::string> keys;  // "\"name\":"
    std::vector<ColumnType> types;
    std::string mysql_type, sql_type, pk_names;
    std::string database, table;  // ],"database":..  and  ,"table":..
    // The largest key and value so far: reserved up front, so that a
    // message's buffer is allocated once.
    mutable size_t key_size_hint = 16;
    mutable size_t value_size_hint = 256;
  };

  static const char* CanalDdlType(std::string_view query) {
    switch (ClassifyDdl(query)) {
      case DdlKind::kCreateTable:
        return "CREATE";
      case DdlKind::kAlterTable:
        return "ALTER";
      case DdlKind::kDropTable:
        return "ERASE";
      case DdlKind::kTruncateTable:
        return "TRUNCATE";
      case DdlKind::kRenameTable:
        return "RENAME";
      case DdlKind::kCreateIndex:
        return "CINDEX";
      case DdlKind::kDropIndex:
        return "DINDEX";
      default:
        return "QUERY";
    }
  }

  uint64_t NowMs() const {
    if (options_.now_ms) return options_.now_ms;
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
  }

  const Prepared& For(const TargetTablePtr& table) {
    const TargetTable& t = *table;
    if (&t == last_table_) return *last_;  // rows come in runs of one table
    auto it = cache_.find(&t);
    if (it != cache_.end()) {
      last_table_ = &t;
      last_ = &it->second;
      return it->second;
    }
    if (cache_.size() > 4096) cache_.clear();
    Prepared p;
    p.pin = table;
    p.database = "],\"database\":";
    AppendJsonString(p.database, t.db);
    p.table = ",\"table\":";
    AppendJsonString(p.table, t.table);
    p.mysql_type = "{";
    p.sql_type = "{";
    for (size_t i = 0; i < t.columns.size(); ++i) {
      std::string k;
      AppendJsonString(k, t.columns[i]);
      k += ':';
      const ColumnMeta& col = t.column_meta(i);
      ColumnType ct = ColumnTypeOf(col);
      if (i) {
        p.mysql_type += ',';
        p.sql_type += ',';
      }
      p.mysql_type += k;
      AppendJsonString(p.mysql_type, MysqlTypeName(col, ct));
      p.sql_type += k;
      p.sql_type += std::to_string(SqlType(ct));
      p.keys.push_back(std::move(k));
      p.types.push_back(ct);
    }
    p.mysql_type += '}';
    p.sql_type += '}';
    if (t.has_key()) {
      p.pk_names = "[";
      for (size_t k = 0; k < t.key.size(); ++k) {
        if (k) p.pk_names += ',';
        AppendJsonString(p.pk_names, t.columns[t.key[k]]);
      }
      p.pk_names += ']';
    } else {
      p.pk_names = "null";
    }
    last_table_ = &t;
    last_ = &cache_.emplace(&t, std::move(p)).first->second;
    return *last_;
  }

  // One row object; with `changed_in` only the columns whose value differs
  // from the change's new values (Canal's "old").
  template <typename Get>
  Status AppendRow(std::string& v, const SinkChange& ch, const Prepared& p, Get get, const SinkChange* changed_in) {
    v += '{';
    bool first = true;
    for (size_t i = 0; i < p.keys.size(); ++i) {
      const Value& x = get(i);
      if (x.kind == ValueKind::kAbsent) continue;
      if (changed_in && SameValue(x, changed_in->values[i])) continue;
      if (!first) v += ',';
      first = false;
      v += p.keys[i];
      Status st = AppendCanalValue(v, ch.table->column_meta(i), p.types[i], x);
      if (!st.ok()) {  // the context only on failure: formatting it per value was most of the cost
        return st.WithContext(fmt::format("canal: table `{}`.`{}` column `{}` @ {}", ch.table->db, ch.table->table,
                                          ch.table->columns[i], ch.pos.ToString()));
      }
    }
    v += '}';
    return Status::Ok();
  }

  static Status AppendCanalValue(std::string& v, const ColumnMeta& col, const ColumnType& t, const Value& x) {
    if (x.is_null()) {
      v += "null";
      return Status::Ok();
    }
    if (t.family == TypeFamily::kEnum) {
      ASSIGN_OR_RETURN(uint64_t index, EnumIndex(col, x));
      AppendQuotedUInt(v, index);
      return Status::Ok();
    }
    if (t.family == TypeFamily::kSet) {
      ASSIGN_OR_RETURN(uint64_t mask, SetMask(col, x));
      AppendQuotedUInt(v, mask);
      return Status::Ok();
    }
    switch (x.kind) {
      case ValueKind::kInt:
      case ValueKind::kYear:
        v += '"';
        AppendInt(v, x.i);
        v += '"';
        break;
      case ValueKind::kUInt:
      case ValueKind::kBit:
        AppendQuotedUInt(v, x.u);
        break;
      case ValueKind::kFloat:
        v += '"';
        AppendJavaFloat(v, static_cast<float>(x.d));
        v += '"';
        break;
      case ValueKind::kDouble:
        v += '"';
        AppendJavaDouble(v, x.d);
        v += '"';
        break;
      case ValueKind::kBytes:
      case ValueKind::kGeometry:
        AppendLatin1AsJson(v, x.s);
        break;
      default:
        AppendJsonString(v, x.s);
    }
    return Status::Ok();
  }

  EncoderOptions options_;
  std::unordered_map<const TargetTable*, Prepared> cache_;
  const TargetTable* last_table_ = nullptr;  // the last lookup (unordered_map nodes never move)
  const Prepared* last_ = nullptr;
};

}  // namespace

std::unique_ptr<Encoder> MakeCanalEncoder(const EncoderOptions& options) {
  return std::make_unique<CanalEncoder>(options);
}

}  // namespace sluice::format
