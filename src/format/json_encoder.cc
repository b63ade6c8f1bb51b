// `json`: sluice's own change format (design section 4) over mapped changes:
// target names, the target's columns, the primary key as the message key.
#include <fmt/format.h>

#include "core/json_writer.h"
#include "format/encoders.h"

namespace sluice::format {
namespace {

class JsonEncoder : public Encoder {
 public:
  Status EncodeChange(const SinkChange& ch, const ChangeContext& ctx, std::vector<Message>& out) override {
    const TargetTable& t = *ch.table;
    Message m;
    AppendKeyObject(m.key, ch);
    std::string& v = m.value.emplace();
    v.reserve(64 + 16 * ch.values.size());
    v += "{\"op\":\"";
    v += OpName(ch.op);
    v += "\",\"db\":";
    AppendJsonString(v, t.db);
    v += ",\"table\":";
    AppendJsonString(v, t.table);
    v += ",\"pk\":[";
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) v += ',';
      AppendJsonString(v, t.columns[t.key[k]]);
    }
    v += "],\"before\":";
    if (ch.op == Op::kUpdate) {
      AppendImage(v, t, [&](size_t i) -> const Value& { return ch.before_value(i); });
    } else if (ch.op == Op::kDelete) {
      AppendImage(v, t, [&](size_t i) -> const Value& { return ch.values[i]; });
    } else {
      v += "null";
    }
    v += ",\"after\":";
    if (ch.op == Op::kDelete) {
      v += "null";
    } else {
      AppendImage(v, t, [&](size_t i) -> const Value& { return ch.values[i]; });
    }
    fmt::format_to(std::back_inserter(v), ",\"ts_ms\":{},\"gtid\":", ch.ts_ms);
    if (ctx.gtid.empty()) {
      v += "null";
    } else {
      AppendJsonString(v, ctx.gtid);
    }
    v += ",\"pos\":";
    AppendJsonString(v, ctx.position);
    v += '}';
    out.push_back(std::move(m));
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
    fmt::format_to(std::back_inserter(v), ",\"ts_ms\":{},\"gtid\":", ddl.ts_ms);
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
  template <typename Get>
  static void AppendImage(std::string& v, const TargetTable& t, Get get) {
    v += '{';
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (i) v += ',';
      AppendJsonString(v, t.columns[i]);
      v += ':';
      AppendJsonValue(v, get(i));
    }
    v += '}';
  }
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

std::unique_ptr<Encoder> MakeJsonEncoder(const EncoderOptions&) { return std::make_unique<JsonEncoder>(); }

}  // namespace sluice::format
