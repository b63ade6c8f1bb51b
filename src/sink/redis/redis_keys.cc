#include "sink/redis/redis_keys.h"

#include "core/json_writer.h"

namespace sluice::sink::redis {

void AppendFieldText(std::string& out, const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
    case ValueKind::kAbsent:
      out += "null";  // callers leave such fields out; never reached for them
      return;
    case ValueKind::kBytes:
    case ValueKind::kGeometry:
      AppendBase64(out, v.s);
      return;
    case ValueKind::kJson:
      out += v.s.empty() ? std::string_view("null") : v.s;
      return;
    case ValueKind::kDecimal:
    case ValueKind::kText:
    case ValueKind::kDate:
    case ValueKind::kDateTime:
    case ValueKind::kTimestamp:
    case ValueKind::kTime:
    case ValueKind::kEnum:
    case ValueKind::kSet:
      out.append(v.s);  // the JSON string's content, unquoted and unescaped
      return;
    default:
      AppendJsonValue(out, v);  // numbers exactly as section 4 writes them
      return;
  }
}

void AppendKeyValue(std::string& out, const Value& v) {
  std::string text;
  AppendFieldText(text, v);
  for (char c : text) {
    if (c == ':' || c == '\\') out += '\\';
    out += c;
  }
}

void AppendGlobLiteral(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
}

Result<KeyTemplate> KeyTemplate::Parse(std::string_view text, std::string_view pipeline) {
  KeyTemplate t;
  t.text_ = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) t.pieces_.push_back({Part::kLiteral, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "${") != 0) {
      literal += text[i++];
      continue;
    }
    size_t close = text.find('}', i);
    if (close == std::string_view::npos) return Status::Invalid("key template \"{}\": unterminated ${{", text);
    std::string_view name = text.substr(i + 2, close - i - 2);
    if (name == "pipeline") {
      literal += pipeline;
    } else if (name == "db" || name == "table" || name == "pk") {
      flush();
      t.pieces_.push_back({name == "db" ? Part::kDb : name == "table" ? Part::kTable : Part::kPk, ""});
    } else {
      return Status::Invalid("key template \"{}\": unknown placeholder ${{{}}} (known: ${{pipeline}}, ${{db}}, "
                             "${{table}}, ${{pk}})",
                             text, name);
    }
    i = close + 1;
  }
  flush();
  return t;
}

bool KeyTemplate::Has(Part p) const {
  for (const Piece& x : pieces_) {
    if (x.part == p) return true;
  }
  return false;
}
bool KeyTemplate::has_pk() const { return Has(Part::kPk); }
bool KeyTemplate::has_db() const { return Has(Part::kDb); }
bool KeyTemplate::has_table() const { return Has(Part::kTable); }

void KeyTemplate::Expand(std::string& out, const SinkChange& ch) const {
  const TargetTable& t = *ch.table;
  for (const Piece& p : pieces_) {
    switch (p.part) {
      case Part::kLiteral: out += p.literal; break;
      case Part::kDb: out += t.db; break;
      case Part::kTable: out += t.table; break;
      case Part::kPk:
        for (size_t k = 0; k < t.key.size(); ++k) {
          if (k) out += ':';
          AppendKeyValue(out, ch.values[t.key[k]]);
        }
        break;
    }
  }
}

std::string KeyTemplate::ExpandTable(std::string_view db, std::string_view table) const {
  std::string out;
  for (const Piece& p : pieces_) {
    if (p.part == Part::kLiteral) out += p.literal;
    if (p.part == Part::kDb) out += db;
    if (p.part == Part::kTable) out += table;
  }
  return out;
}

std::string KeyTemplate::MatchPattern(std::string_view db, std::string_view table) const {
  std::string out;
  for (const Piece& p : pieces_) {
    switch (p.part) {
      case Part::kLiteral: AppendGlobLiteral(out, p.literal); break;
      case Part::kDb: AppendGlobLiteral(out, db); break;
      case Part::kTable:
        if (table.empty()) {
          out += '*';
        } else {
          AppendGlobLiteral(out, table);
        }
        break;
      case Part::kPk: out += '*'; break;
    }
  }
  return out;
}

std::optional<std::string_view> KeyTemplate::PkOf(std::string_view key, std::string_view db,
                                                  std::string_view table) const {
  auto text = [&](const Piece& p) -> std::string_view {
    return p.part == Part::kDb ? db : p.part == Part::kTable ? table : std::string_view(p.literal);
  };
  size_t pk = pieces_.size();
  for (size_t i = 0; i < pieces_.size(); ++i) {
    if (pieces_[i].part == Part::kPk) pk = i;
  }
  if (pk == pieces_.size()) return std::nullopt;
  for (size_t i = 0; i < pk; ++i) {
    std::string_view t = text(pieces_[i]);
    if (!key.starts_with(t)) return std::nullopt;
    key.remove_prefix(t.size());
  }
  for (size_t i = pieces_.size(); i-- > pk + 1;) {
    std::string_view t = text(pieces_[i]);
    if (!key.ends_with(t)) return std::nullopt;
    key.remove_suffix(t.size());
  }
  return key;
}

}  // namespace sluice::sink::redis
