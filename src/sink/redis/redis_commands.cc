#include "sink/redis/redis_commands.h"

#include <fmt/format.h>

#include "core/json_writer.h"
#include "format/encoders.h"

namespace sluice::sink::redis {
namespace {

constexpr std::string_view kDefaultRowTemplate = "${db}:${table}:${pk}";
constexpr std::string_view kDefaultStreamTemplate = "${db}:${table}";

template <typename Get>
void AppendObject(std::string& out, const TargetTable& t, Get get) {
  out += '{';
  bool first = true;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    // A column the image lacks (a PostgreSQL key-only old image, unchanged
    // TOAST) is left out, never written as null.
    if (get(i).kind == ValueKind::kAbsent) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, t.columns[i]);
    out += ':';
    AppendJsonValue(out, get(i));
  }
  out += '}';
}

Status MissingValue(const SinkChange& ch, size_t i) {
  return Status::Error(StatusCode::kNotSupported,
                       "column `{}` is not in the row image: the redis target needs binlog_row_image=FULL on the "
                       "source",
                       ch.table->columns[i]);
}

// A row written needs every column; a delete only its key (all a
// PostgreSQL source sends under REPLICA IDENTITY DEFAULT).
Status CheckImage(const SinkChange& ch) {
  if (ch.kind == SinkChange::Kind::kDelete) {
    for (uint32_t i : ch.table->key) {
      if (ch.values[i].kind == ValueKind::kAbsent) return MissingValue(ch, i);
    }
    return Status::Ok();
  }
  for (size_t i = 0; i < ch.values.size(); ++i) {
    if (ch.values[i].kind == ValueKind::kAbsent) return MissingValue(ch, i);
  }
  return Status::Ok();
}

}  // namespace

Result<CommandBuilder> CommandBuilder::Make(std::string_view mode, std::string_view key_template,
                                            std::string_view pipeline) {
  Mode m;
  if (mode == "hash") {
    m = Mode::kHash;
  } else if (mode == "string") {
    m = Mode::kString;
  } else if (mode == "stream") {
    m = Mode::kStream;
  } else {
    return Status::Invalid("mode \"{}\": expected hash, string or stream", mode);
  }
  std::string_view text = key_template;
  if (m == Mode::kStream && text == kDefaultRowTemplate) text = kDefaultStreamTemplate;
  ASSIGN_OR_RETURN(KeyTemplate keys, KeyTemplate::Parse(text, pipeline));
  if (m == Mode::kStream && keys.has_pk()) {
    return Status::Invalid("key \"{}\": a stream holds the changes of a table, so its key template has no ${{pk}} "
                           "(default for mode stream: \"{}\")",
                           text, kDefaultStreamTemplate);
  }
  if (m != Mode::kStream && !keys.has_pk()) {
    return Status::Invalid("key \"{}\": mode {} writes one key per row, so the key template needs ${{pk}} "
                           "(default: \"{}\")",
                           text, mode, kDefaultRowTemplate);
  }
  return CommandBuilder(m, std::move(keys));
}

Status CommandBuilder::Build(const SinkChange& ch, std::vector<Command>& out, std::string* key) const {
  key->clear();
  if (mode_ == Mode::kStream) {
    *key = keys_.ExpandTable(ch.table->db, ch.table->table);
    BuildStream(ch, *key, out);
    return Status::Ok();
  }
  if (!ch.table->has_key()) {
    return Status::Error(StatusCode::kNotSupported,
                         "the table has no primary key (nor a NOT NULL unique key): mode {} keys each row by it "
                         "(use mode stream for tables without a key)",
                         mode_ == Mode::kHash ? "hash" : "string");
  }
  RETURN_IF_ERROR(CheckImage(ch));
  keys_.Expand(*key, ch);
  return mode_ == Mode::kHash ? BuildHash(ch, *key, out) : BuildString(ch, *key, out);
}

Status CommandBuilder::BuildHash(const SinkChange& ch, const std::string& key, std::vector<Command>& out) const {
  if (ch.kind == SinkChange::Kind::kDelete) {
    out.push_back({"DEL", key});
    return Status::Ok();
  }
  const TargetTable& t = *ch.table;
  // An update touches only this row's fields; anything else (an insert, a
  // row entering the `where:` filter, a snapshot copy) replaces the hash, so
  // that fields of a replayed later state or of dropped columns go.
  const bool replace = ch.op != Op::kUpdate;
  if (replace) out.push_back({"DEL", key});
  Command hset = {"HSET", key};
  Command hdel = {"HDEL", key};
  hset.reserve(2 + 2 * t.columns.size());
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const Value& v = ch.values[i];
    if (v.is_null()) {
      if (!replace) hdel.push_back(t.columns[i]);
      continue;
    }
    hset.push_back(t.columns[i]);
    AppendFieldText(hset.emplace_back(), v);
  }
  if (hset.size() > 2) out.push_back(std::move(hset));
  if (hdel.size() > 2) out.push_back(std::move(hdel));
  return Status::Ok();
}

Status CommandBuilder::BuildString(const SinkChange& ch, const std::string& key, std::vector<Command>& out) const {
  if (ch.kind == SinkChange::Kind::kDelete) {
    out.push_back({"DEL", key});
    return Status::Ok();
  }
  std::string json;
  json.reserve(16 + 24 * ch.values.size());
  AppendObject(json, *ch.table, [&](size_t i) -> const Value& { return ch.values[i]; });
  out.push_back({"SET", key, std::move(json)});
  return Status::Ok();
}

void CommandBuilder::BuildStream(const SinkChange& ch, const std::string& key, std::vector<Command>& out) const {
  const TargetTable& t = *ch.table;
  using K = SinkChange::Kind;
  const bool removes = ch.kind == K::kDelete || ch.kind == K::kDeleteExact;
  auto values = [&](size_t i) -> const Value& { return ch.values[i]; };
  std::string before = "null", after = "null";
  if (removes) {
    before.clear();
    AppendObject(before, t, values);
  } else {
    after.clear();
    AppendObject(after, t, values);
    if (ch.op == Op::kUpdate && ch.origin && ch.origin->before.present) {
      before.clear();
      AppendObject(before, t, [&](size_t i) -> const Value& { return ch.before_value(i); });
    }
  }
  std::string row_key;
  format::AppendKeyObject(row_key, ch);
  // A row a snapshot copied is a read, not an insert (the `pos` is then empty).
  std::string_view op = removes ? "delete" : ch.snapshot ? "read" : OpName(ch.op);
  out.push_back({"XADD", key, "*", "op", std::string(op), "db", t.db, "table", t.table, "key", std::move(row_key),
                 "before", std::move(before), "after", std::move(after), "ts_ms", std::to_string(ch.ts_ms), "gtid",
                 ch.origin ? ch.origin->gtid : std::string(), "pos", ch.snapshot ? std::string() : ch.pos.ToString()});
}

Command CommandBuilder::StreamDdl(std::string_view db, std::string_view table, std::string_view query, uint64_t ts_ms,
                                  std::string_view pos) const {
  return {"XADD", keys_.ExpandTable(db, table), "*", "op", "ddl", "db", std::string(db), "table", std::string(table),
          "ddl", std::string(query), "ts_ms", std::to_string(ts_ms), "pos", std::string(pos)};
}

}  // namespace sluice::sink::redis
