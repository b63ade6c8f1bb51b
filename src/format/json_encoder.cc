// `json`: sluice's own change format (design section 4) over mapped changes:
// target names, the target's columns, the primary key as the message key.
#include <algorithm>
#include <unordered_map>

#include "core/json_writer.h"
#include "format/encoders.h"
#include "format/format_util.h"

namespace sluice::format {
namespace {

class JsonEncoder : public Encoder {
 public:
  Status EncodeChange(const SinkChange& ch, const ChangeContext& ctx, std::vector<Message>& out) override {
    const Prepared& p = For(ch.table);
    Message& m = out.emplace_back();
    std::string& k = m.key;
    k.reserve(p.key_size_hint);
    AppendKeyObject(k, ch, p.keys);
    std::string& v = m.value.emplace();
    v.reserve(p.value_size_hint);
    v += "{\"op\":\"";
    v += OpName(ch.op);
    v += p.head;  // ","db":..,"table":..,"pk":[..],"before":
    if (ch.op == Op::kUpdate) {
      AppendImage(v, p, [&](size_t i) -> const Value& { return ch.before_value(i); });
    } else if (ch.op == Op::kDelete) {
      AppendImage(v, p, [&](size_t i) -> const Value& { return ch.values[i]; });
    } else {
      v += "null";
    }
    v += ",\"after\":";
    if (ch.op == Op::kDelete) {
      v += "null";
    } else {
      AppendImage(v, p, [&](size_t i) -> const Value& { return ch.values[i]; });
    }
    v += ",\"ts_ms\":";
    AppendUInt(v, ch.ts_ms);
    v += ",\"gtid\":";
    if (ctx.gtid.empty()) {
      v += "null";
    } else {
      AppendJsonString(v, ctx.gtid);
    }
    v += ",\"pos\":";
    AppendJsonString(v, ctx.position);
    v += '}';
    p.key_size_hint = std::max(p.key_size_hint, k.size());
    p.value_size_hint = std::max(p.value_size_hint, v.size());
    return Status::Ok();
  }

  // {"op":"ddl","db":..,"table":..,"ddl":..,"ts_ms":..,"gtid":..,"pos":..};
  // keyed by the database.
  Status EncodeDdl(const DdlEvent& ddl, std::vector<Message>& out) override {
    Message m;
    m.key = "{\"db\":";
    AppendJsonString(m.key, ddl.db);
    m.key += '}';
    std::string& v = m.value.emplace();
    v += "{\"op\":\"ddl\",\"db\":";
    AppendJsonString(v, ddl.db);
    v += ",\"table\":";
    if (ddl.table.empty()) {
      v += "null";
    } else {
      AppendJsonString(v, ddl.table);
    }
    v += ",\"ddl\":";
    AppendJsonString(v, ddl.query);
    v += ",\"ts_ms\":";
    AppendUInt(v, ddl.ts_ms);
    v += ",\"gtid\":";
    if (ddl.gtid.empty()) {
      v += "null";
    } else {
      AppendJsonString(v, ddl.gtid);
    }
    v += ",\"pos\":";
    AppendJsonString(v, ddl.position);
    v += '}';
    out.push_back(std::move(m));
    return Status::Ok();
  }

 private:
  // What depends only on the table, rendered once per table version.
  struct Prepared {
    TargetTablePtr pin;             // keeps the cache key alive
    std::string head;               // ","db":..,"table":..,"pk":[..],"before":
    std::vector<std::string> keys;  // "\"name\":" per column
    // The largest key and value so far: reserved up front, so that a
    // message's buffer is allocated once.
    mutable size_t key_size_hint = 16;
    mutable size_t value_size_hint = 128;
  };

  const Prepared& For(const TargetTablePtr& table) {
    if (table.get() == last_table_) return *last_;  // rows come in runs of one table
    auto it = cache_.find(table.get());
    if (it == cache_.end()) {
      if (cache_.size() > 4096) cache_.clear();  // schema churn: start over rather than grow
      const TargetTable& t = *table;
      Prepared p;
      p.pin = table;
      p.head = "\",\"db\":";
      AppendJsonString(p.head, t.db);
      p.head += ",\"table\":";
      AppendJsonString(p.head, t.table);
      p.head += ",\"pk\":[";
      for (size_t k = 0; k < t.key.size(); ++k) {
        if (k) p.head += ',';
        AppendJsonString(p.head, t.columns[t.key[k]]);
      }
      p.head += "],\"before\":";
      for (const std::string& c : t.columns) {
        std::string& key = p.keys.emplace_back();
        AppendJsonString(key, c);
        key += ':';
      }
      it = cache_.emplace(table.get(), std::move(p)).first;
    }
    last_table_ = table.get();
    last_ = &it->second;
    return *last_;
  }

  template <typename Get>
  static void AppendImage(std::string& v, const Prepared& p, Get get) {
    v += '{';
    bool first = true;
    for (size_t i = 0; i < p.keys.size(); ++i) {
      const Value& x = get(i);
      // Not in the image (a key-only before image, an unchanged TOASTed
      // value): left out, as `sluice tail` does, never null.
      if (x.kind == ValueKind::kAbsent) continue;
      if (!first) v += ',';
      first = false;
      v += p.keys[i];
      AppendJsonValue(v, x);
    }
    v += '}';
  }

  std::unordered_map<const TargetTable*, Prepared> cache_;
  const TargetTable* last_table_ = nullptr;  // the last lookup (unordered_map nodes never move)
  const Prepared* last_ = nullptr;
};

}  // namespace

void AppendKeyObject(std::string& out, const SinkChange& ch) {
  const TargetTable& t = *ch.table;
  out += '{';
  if (t.has_key()) {
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) out += ',';
      AppendJsonString(out, t.columns[t.key[k]]);
      out += ':';
      AppendJsonValue(out, ch.values[t.key[k]]);
    }
  } else {
    // Keyless: the whole row identifies it (and keeps its changes together).
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(out, t.columns[i]);
      out += ':';
      AppendJsonValue(out, ch.values[i]);
    }
  }
  out += '}';
}

void AppendKeyObject(std::string& out, const SinkChange& ch, const std::vector<std::string>& quoted_keys) {
  const TargetTable& t = *ch.table;
  out += '{';
  if (t.has_key()) {
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) out += ',';
      out += quoted_keys[t.key[k]];
      AppendJsonValue(out, ch.values[t.key[k]]);
    }
  } else {
    for (size_t i = 0; i < quoted_keys.size(); ++i) {
      if (i) out += ',';
      out += quoted_keys[i];
      AppendJsonValue(out, ch.values[i]);
    }
  }
  out += '}';
}

std::unique_ptr<Encoder> MakeJsonEncoder(const EncoderOptions&) { return std::make_unique<JsonEncoder>(); }

}  // namespace sluice::format
