#include "sink/redis/redis_row_reader.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdlib>
#include <unordered_map>

#include "client/mysql/table_reader.h"

namespace sluice::sink::redis {
namespace {

constexpr size_t kKeysPerRound = 500;

bool DecodeBase64(std::string_view in, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=') {
      if (i + 2 < in.size()) return false;
      break;
    }
    int v = value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return true;
}

// Splits an escaped ${pk} text at unescaped ':' and undoes the escapes.
std::vector<std::string> SplitPk(std::string_view pk) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < pk.size(); ++i) {
    if (pk[i] == '\\' && i + 1 < pk.size()) {
      parts.back() += pk[++i];
    } else if (pk[i] == ':') {
      parts.emplace_back();
    } else {
      parts.back() += pk[i];
    }
  }
  return parts;
}

}  // namespace

Value ParseRedisField(const ColumnMeta& c, std::string_view s, Arena& arena) {
  const ValueKind kind = sluice::mysql::KindForColumn(c);
  auto raw = [&] { return Value::Str(ValueKind::kText, arena.Copy(s)); };
  if (auto number = ParseNumber(kind, s, arena)) return *number;
  switch (kind) {
    case ValueKind::kBytes:
    case ValueKind::kGeometry: {
      std::string bytes;
      if (!DecodeBase64(s, bytes)) return raw();
      return Value::Str(kind, arena.Copy(bytes));
    }
    default:
      return Value::Str(kind, arena.Copy(s));
  }
}

Result<std::unique_ptr<RedisRowReader>> RedisRowReader::Open(const SinkOptions& options) {
  auto where = [&] { return fmt::format("pipeline {} target {}", options.pipeline, options.target); };
  if (options.mode == "stream") {
    return Status::Error(StatusCode::kNotSupported,
                         "{}: mode stream cannot be checked: a stream is a log of changes, not a copy of the tables",
                         where());
  }
  auto builder = CommandBuilder::Make(options.mode, options.key, options.pipeline);
  if (!builder.ok()) return builder.status().WithContext(where());
  ASSIGN_OR_RETURN(auto endpoint, RedisEndpoint::FromUrl(options.url));
  ASSIGN_OR_RETURN(auto conn, RedisConnection::Connect(endpoint, std::chrono::seconds(120), options.interrupt));
  return std::unique_ptr<RedisRowReader>(new RedisRowReader(std::move(conn), std::move(builder).value()));
}

Result<std::string> RedisRowReader::CheckTable(const TargetTable& t) {
  if (!t.has_key()) return std::string("a table without a key has no rows in Redis (hash and string modes need a key)");
  return std::string();  // no schema: a table without rows has no keys
}

bool RedisRowReader::AppendRow(const TargetTable& t, const RedisReply& reply, RowBlock& out) {
  const size_t width = t.columns.size();
  if (builder_.mode() == Mode::kHash) {
    if (reply.type != RedisReply::Type::kArray || reply.elements.empty()) return false;
    std::unordered_map<std::string_view, std::string_view> fields;
    for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) fields[reply.elements[i].str] = reply.elements[i + 1].str;
    for (size_t i = 0; i < width; ++i) {
      auto it = fields.find(t.columns[i]);
      out.values.push_back(it == fields.end() ? Value::Null()
                                              : ParseRedisField(t.column_meta(i), it->second, *out.arena));
    }
    return true;
  }
  if (reply.type != RedisReply::Type::kString) return false;
  auto j = nlohmann::json::parse(reply.str, nullptr, /*allow_exceptions=*/false);
  for (size_t i = 0; i < width; ++i) {
    if (!j.is_object()) {  // not the JSON object the sink writes: different in every column
      out.values.push_back(Value::Str(ValueKind::kText, out.arena->Copy(reply.str)));
      continue;
    }
    auto it = j.find(t.columns[i]);
    if (it == j.end() || it->is_null()) {
      out.values.push_back(Value::Null());
      continue;
    }
    const ColumnMeta& c = t.column_meta(i);
    if (sluice::mysql::KindForColumn(c) == ValueKind::kJson) {
      out.values.push_back(Value::Str(ValueKind::kJson, out.arena->Copy(it->dump())));
    } else if (it->is_string()) {
      out.values.push_back(ParseRedisField(c, it->get_ref<const std::string&>(), *out.arena));
    } else {
      out.values.push_back(ParseRedisField(c, it->dump(), *out.arena));
    }
  }
  return true;
}

Result<RowBlock> RedisRowReader::ReadKeys(const TargetTable& t, std::span<const Value> keys) {
  RowBlock out;
  out.width = t.columns.size();
  const size_t kw = t.key.size();
  if (kw == 0) return Status::Invalid("{}.{}: a keyless table has no Redis keys", t.db, t.table);
  // Expand takes a change of the table: a non-owning pointer, alive for this call.
  SinkChange change;
  change.table = TargetTablePtr(TargetTablePtr(), &t);
  change.values.assign(t.columns.size(), Value::Null());
  const char* get = builder_.mode() == Mode::kHash ? "HGETALL" : "GET";
  size_t queued = 0;
  auto drain = [&]() -> Status {
    for (; queued > 0; --queued) {
      ASSIGN_OR_RETURN(RedisReply reply, conn_->Read());
      if (reply.is_error()) return Status::Error(StatusCode::kServerError, "{}: {}", conn_->endpoint().Describe(), reply.str);
      AppendRow(t, reply, out);
    }
    return Status::Ok();
  };
  for (size_t k = 0; k + kw <= keys.size(); k += kw) {
    for (size_t i = 0; i < kw; ++i) change.values[t.key[i]] = keys[k + i];
    std::string key;
    builder_.keys().Expand(key, change);
    conn_->Append({get, key});
    if (++queued == kKeysPerRound) RETURN_IF_ERROR(drain());
  }
  RETURN_IF_ERROR(drain());
  return out;
}

Result<RowBlock> RedisRowReader::ReadKeyPage(const TargetTable& t, KeyCursor& cursor, size_t limit) {
  RowBlock out;
  out.width = t.key.size();
  const std::string pattern = builder_.keys().MatchPattern(t.db, t.table);
  ASSIGN_OR_RETURN(RedisReply reply,
                   conn_->Checked({"SCAN", cursor.state.empty() ? "0" : cursor.state, "MATCH", pattern, "COUNT",
                                   std::to_string(std::max<size_t>(limit, 1))}));
  if (reply.type != RedisReply::Type::kArray || reply.elements.size() != 2) {
    return Status::Corruption("{}: unexpected SCAN reply", conn_->endpoint().Describe());
  }
  cursor.state = reply.elements[0].str;
  cursor.done = cursor.state == "0";
  for (const RedisReply& k : reply.elements[1].elements) {
    auto pk = builder_.keys().PkOf(k.str, t.db, t.table);
    if (!pk) continue;
    std::vector<std::string> parts = SplitPk(*pk);
    if (parts.size() != t.key.size()) continue;  // another table's key that the pattern also matches
    for (size_t i = 0; i < parts.size(); ++i) {
      out.values.push_back(ParseRedisField(t.column_meta(t.key[i]), parts[i], *out.arena));
    }
  }
  return out;
}

Result<RowBlock> RedisRowReader::ReadAll(const TargetTable& t) {
  return Status::Invalid("{}.{}: a keyless table has no Redis keys", t.db, t.table);
}

}  // namespace sluice::sink::redis
