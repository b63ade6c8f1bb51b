#include "source/mysql/schema_history.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>


namespace sluice::mysql {
namespace {

using json = nlohmann::json;

std::string TableKey(std::string_view db, std::string_view table) {
  return std::string(SchemaHistory::kKeyPrefix) + json::array({db, table}).dump();
}
std::string DatabaseKey(std::string_view db) {
  return std::string(SchemaHistory::kKeyPrefix) + json::array({db}).dump();
}
std::string AllKey() { return std::string(SchemaHistory::kKeyPrefix) + "[]"; }

// "binlog.000003" -> ("binlog", 3); nullopt without a numbered extension.
std::optional<std::pair<std::string, uint64_t>> SplitFile(std::string_view file) {
  size_t dot = file.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == file.size()) return std::nullopt;
  uint64_t n = 0;
  for (char c : file.substr(dot + 1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return std::make_pair(std::string(file.substr(0, dot)), n);
}

json ShapeToJson(const InformationSchemaTable& t) {
  json columns = json::array();
  for (const InformationSchemaColumn& c : t.columns) {
    columns.push_back({c.name, c.data_type, c.column_type, c.charset, c.collation, c.generation, c.is_json,
                       c.nullable});
  }
  return {{"exists", t.exists}, {"columns", std::move(columns)},   {"primary_key", t.primary_key},
          {"unique_key", t.unique_key}, {"system_versioned", t.system_versioned}};
}

InformationSchemaTable ShapeFromJson(const json& j) {
  InformationSchemaTable t;
  t.exists = j.at("exists").get<bool>();
  for (const json& c : j.at("columns")) {
    InformationSchemaColumn col;
    col.name = c.at(0).get<std::string>();
    col.data_type = c.at(1).get<std::string>();
    col.column_type = c.at(2).get<std::string>();
    col.charset = c.at(3).get<std::string>();
    col.collation = c.at(4).get<uint32_t>();
    col.generation = c.at(5).get<std::string>();
    col.is_json = c.at(6).get<bool>();
    col.nullable = c.at(7).get<bool>();
    t.columns.push_back(std::move(col));
  }
  t.primary_key = j.at("primary_key").get<std::vector<uint32_t>>();
  t.unique_key = j.at("unique_key").get<std::vector<uint32_t>>();
  t.system_versioned = j.at("system_versioned").get<bool>();
  return t;
}

}  // namespace

void SchemaHistory::SetServer(std::string server) {
  if (!server_.empty() && server != server_) Clear();
  server_ = std::move(server);
}

void SchemaHistory::Clear() {
  for (const auto& [key, list] : lists_) changed_[key] = true;
  lists_.clear();
  base_.clear();
}

std::optional<std::pair<uint64_t, uint64_t>> SchemaHistory::Order(const std::string& file, uint64_t offset) const {
  auto split = SplitFile(file);
  if (!split || split->first != base_) return std::nullopt;
  return std::make_pair(split->second, offset);
}

bool SchemaHistory::Comparable(const BinlogFilePos& p) {
  auto split = SplitFile(p.file);
  if (!split) return false;
  if (split->first != base_) {
    Clear();
    base_ = split->first;
  }
  return true;
}

const SchemaHistory::Entry* SchemaHistory::Latest(const List& list, std::pair<uint64_t, uint64_t> at) const {
  const Entry* latest = nullptr;
  for (const Entry& e : list.entries) {
    auto o = Order(e.file, e.offset);
    if (!o || *o > at) break;
    latest = &e;
  }
  return latest;
}

const InformationSchemaTable* SchemaHistory::At(std::string_view db, std::string_view table,
                                                const BinlogFilePos& at) const {
  auto o = Order(at.file, at.offset);
  if (!o) return nullptr;
  auto it = lists_.find(TableKey(db, table));
  if (it == lists_.end()) return nullptr;
  const Entry* shape = Latest(it->second, *o);
  if (!shape || !shape->shape) return nullptr;
  auto from = Order(shape->file, shape->offset);
  // A statement that touched the whole database or every table since?
  for (const std::string& key : {DatabaseKey(db), AllKey()}) {
    auto l = lists_.find(key);
    if (l == lists_.end()) continue;
    if (const Entry* touched = Latest(l->second, *o); touched && Order(touched->file, touched->offset) > from) {
      return nullptr;
    }
    if (const auto& h = l->second.horizon; h && Order(h->file, h->offset) > from) return nullptr;
  }
  return &*shape->shape;
}

void SchemaHistory::Add(const std::string& key, const BinlogFilePos& at, std::optional<InformationSchemaTable> shape) {
  if (!Comparable(at)) return;
  auto o = Order(at.file, at.offset);
  List& list = lists_[key];
  auto pos = std::find_if(list.entries.begin(), list.entries.end(),
                          [&](const Entry& e) { return Order(e.file, e.offset) >= o; });
  if (pos != list.entries.end() && Order(pos->file, pos->offset) == o) {
    pos->shape = std::move(shape);  // the same event again (a replay after a restart)
  } else {
    list.entries.insert(pos, Entry{at.file, at.offset, std::move(shape)});
  }
  while (list.entries.size() > kKeep) {
    list.horizon = std::move(list.entries.front());
    list.horizon->shape.reset();
    list.entries.erase(list.entries.begin());
  }
  changed_[key] = true;
}

void SchemaHistory::Record(std::string_view db, std::string_view table, const BinlogFilePos& at,
                           InformationSchemaTable shape) {
  Add(TableKey(db, table), at, std::move(shape));
}

void SchemaHistory::OnDdl(std::string_view query, std::string_view db, DdlQuoting quoting, const BinlogFilePos& at) {
  DdlStatement d = ParseDdl(query, db, quoting);
  using K = DdlStatement::Kind;
  std::vector<std::string> keys;
  auto table = [&](const std::string& d_db, const std::string& d_table) {
    if (!d_table.empty()) keys.push_back(TableKey(d_db, d_table));
  };
  switch (d.kind) {
    case K::kCreateDatabase:
    case K::kTruncateTable:
      break;  // no table changes shape
    case K::kDropDatabase:
      keys.push_back(DatabaseKey(d.db));
      break;
    case K::kCreateTable:
    case K::kAlterTable:
    case K::kDropTable:
    case K::kRenameTable:
    case K::kCreateIndex:
    case K::kDropIndex:
      table(d.db, d.table);
      table(d.new_db, d.new_table);
      for (const auto& r : d.renames) {
        table(r.db, r.table);
        table(r.new_db, r.new_table);
      }
      for (const auto& [t_db, t_table] : d.tables) table(t_db, t_table);
      if (keys.empty()) keys.push_back(AllKey());  // named no table sluice could read
      break;
    case K::kOther:
      keys.push_back(AllKey());  // not classified: may have changed any table
      break;
  }
  for (const std::string& key : keys) Add(key, at, std::nullopt);
}

std::vector<std::pair<std::string, std::string>> SchemaHistory::TakeChanged() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, _] : changed_) {
    auto it = lists_.find(key);
    if (it == lists_.end()) {
      out.emplace_back(key, "");
      continue;
    }
    json entries = json::array();
    for (const Entry& e : it->second.entries) {
      entries.push_back({e.file, e.offset, e.shape ? ShapeToJson(*e.shape) : json(nullptr)});
    }
    json value = {{"server", server_}, {"base", base_}, {"entries", std::move(entries)}};
    if (const auto& h = it->second.horizon) value["horizon"] = {h->file, h->offset};
    out.emplace_back(key, value.dump());
  }
  changed_.clear();
  return out;
}

void SchemaHistory::Load(const std::string& key, const std::string& value) {
  if (!key.starts_with(kKeyPrefix) || value.empty()) return;
  json v = json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!v.is_object()) return;
  try {
    if (v.at("server").get<std::string>() != server_) return;
    std::string base = v.at("base").get<std::string>();
    if (base_.empty()) base_ = base;
    if (base != base_) return;
    List list;
    for (const json& e : v.at("entries")) {
      Entry entry{e.at(0).get<std::string>(), e.at(1).get<uint64_t>(), std::nullopt};
      if (!e.at(2).is_null()) entry.shape = ShapeFromJson(e.at(2));
      list.entries.push_back(std::move(entry));
    }
    if (v.contains("horizon")) list.horizon = Entry{v["horizon"].at(0).get<std::string>(), v["horizon"].at(1).get<uint64_t>(),
                                                    std::nullopt};
    lists_[key] = std::move(list);
  } catch (const json::exception&) {
    // a value of another version of sluice, or damaged: information_schema is read instead
  }
}

}  // namespace sluice::mysql
