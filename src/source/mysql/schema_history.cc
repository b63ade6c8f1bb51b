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

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A table's columns as DDL statements change them: names in order, with
// the description of those no statement added or changed since a recorded
// shape, and the key columns by name.
struct ColumnModel {
  struct Column {
    std::string name;
    std::optional<InformationSchemaColumn> known;
  };
  std::vector<Column> columns;
  std::optional<std::vector<std::string>> primary_key, unique_key;  // nullopt: take them from `now`
  bool system_versioned = false;

  static ColumnModel Of(const InformationSchemaTable& shape) {
    ColumnModel m;
    for (const auto& c : shape.columns) m.columns.push_back({c.name, c});
    auto names = [&](const std::vector<uint32_t>& key) {
      std::vector<std::string> out;
      for (uint32_t i : key) out.push_back(shape.columns.at(i).name);
      return out;
    };
    m.primary_key = names(shape.primary_key);
    m.unique_key = names(shape.unique_key);
    m.system_versioned = shape.system_versioned;
    return m;
  }
  std::vector<Column>::iterator Find(std::string_view name) {
    return std::find_if(columns.begin(), columns.end(), [&](const Column& c) { return SameName(c.name, name); });
  }
  // Puts `c` FIRST, AFTER a column, or at `fallback`; false when AFTER names no column.
  bool Place(Column c, const DdlStatement::ColumnChange& where, size_t fallback) {
    size_t at = fallback;
    if (where.first) {
      at = 0;
    } else if (!where.after.empty()) {
      auto after = Find(where.after);
      if (after == columns.end()) return false;
      at = static_cast<size_t>(after - columns.begin()) + 1;
    }
    columns.insert(columns.begin() + static_cast<std::ptrdiff_t>(at), std::move(c));
    return true;
  }
  void RenameKeyColumn(const std::string& from, const std::string& to) {
    for (auto* key : {&primary_key, &unique_key}) {
      if (!*key) continue;
      for (auto& n : **key) {
        if (SameName(n, from)) n = to;
      }
    }
  }
  bool IsKeyColumn(const std::string& name) const {
    for (const auto* key : {&primary_key, &unique_key}) {
      if (!*key) continue;
      for (const auto& n : **key) {
        if (SameName(n, name)) return true;
      }
    }
    return false;
  }
  // False when the statement's changes do not fit the columns (a column
  // named that is not there).
  bool Apply(const DdlStatement& d) {
    using Op = DdlStatement::ColumnChange::Op;
    for (const auto& c : d.column_changes) {
      auto it = Find(c.name);
      switch (c.op) {
        case Op::kAdd:
          if (it != columns.end() || !Place({c.name, std::nullopt}, c, columns.size())) return false;
          break;
        case Op::kDrop:
          if (it == columns.end() || IsKeyColumn(it->name)) return false;
          columns.erase(it);
          break;
        case Op::kChange: {
          if (it == columns.end()) return false;
          size_t was = static_cast<size_t>(it - columns.begin());
          std::string old = it->name;
          columns.erase(it);
          if (Find(c.new_name) != columns.end() || !Place({c.new_name, std::nullopt}, c, was)) return false;
          RenameKeyColumn(old, c.new_name);
          break;
        }
        case Op::kRename:
          if (it == columns.end() || Find(c.new_name) != columns.end()) return false;
          RenameKeyColumn(it->name, c.new_name);
          it->name = c.new_name;
          if (it->known) it->known->name = c.new_name;
          break;
      }
    }
    return true;
  }
  // The shape, what no statement left known taken from `now` by name.
  std::optional<InformationSchemaTable> Complete(const InformationSchemaTable& now) const {
    InformationSchemaTable t;
    t.exists = true;
    t.system_versioned = system_versioned;
    for (const Column& c : columns) {
      if (c.known) {
        t.columns.push_back(*c.known);
        continue;
      }
      auto it = std::find_if(now.columns.begin(), now.columns.end(),
                             [&](const InformationSchemaColumn& n) { return SameName(n.name, c.name); });
      if (it == now.columns.end()) return std::nullopt;
      t.columns.push_back(*it);
    }
    auto positions = [&](const std::optional<std::vector<std::string>>& names,
                         const std::vector<uint32_t>& from_now) -> std::optional<std::vector<uint32_t>> {
      std::vector<std::string> wanted;
      if (names) {
        wanted = *names;
      } else {
        for (uint32_t i : from_now) wanted.push_back(now.columns.at(i).name);
      }
      std::vector<uint32_t> out;
      for (const auto& n : wanted) {
        auto it = std::find_if(t.columns.begin(), t.columns.end(),
                               [&](const InformationSchemaColumn& col) { return SameName(col.name, n); });
        if (it == t.columns.end()) return std::nullopt;
        out.push_back(static_cast<uint32_t>(it - t.columns.begin()));
      }
      return out;
    };
    auto pk = positions(primary_key, now.primary_key);
    auto uk = positions(unique_key, now.unique_key);
    if (!pk || !uk) return std::nullopt;
    t.primary_key = std::move(*pk);
    t.unique_key = std::move(*uk);
    return t;
  }
};

}  // namespace

std::optional<InformationSchemaTable> SchemaHistory::Derive(std::string_view db, std::string_view table,
                                                            const BinlogFilePos& at,
                                                            const InformationSchemaTable& now) const {
  auto o = Order(at.file, at.offset);
  auto it = lists_.find(TableKey(db, table));
  if (!o || it == lists_.end()) return std::nullopt;
  std::optional<ColumnModel> model;
  std::optional<std::pair<uint64_t, uint64_t>> base;  // where the model starts
  for (const Entry& e : it->second.entries) {
    auto pos = Order(e.file, e.offset);
    if (!pos || *pos > *o) break;
    if (e.shape) {
      model = ColumnModel::Of(*e.shape);
      base = pos;
      continue;
    }
    DdlStatement d = ParseDdl(e.query, e.query_db, e.quoting);
    bool this_table = SameName(d.table, table) && SameName(d.db, db);
    if (d.kind == DdlStatement::Kind::kCreateTable && this_table && !d.create_like && !d.columns.empty()) {
      model = ColumnModel{};
      for (const auto& name : d.columns) model->columns.push_back({name, std::nullopt});
      base = pos;
    } else if (model && d.kind == DdlStatement::Kind::kAlterTable && this_table && d.columns_followed) {
      if (!model->Apply(d)) model.reset();
    } else {
      model.reset();
    }
  }
  if (!model) return std::nullopt;
  if (TouchedAllSince(db, *base, *o)) return std::nullopt;
  return model->Complete(now);
}

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

bool SchemaHistory::TouchedAllSince(std::string_view db, std::pair<uint64_t, uint64_t> from,
                                    std::pair<uint64_t, uint64_t> at) const {
  for (const std::string& key : {DatabaseKey(db), AllKey()}) {
    auto l = lists_.find(key);
    if (l == lists_.end()) continue;
    if (const Entry* touched = Latest(l->second, at); touched && Order(touched->file, touched->offset) > from) {
      return true;
    }
    // Statements dropped beyond kKeep may have come between.
    if (const auto& h = l->second.horizon; h && Order(h->file, h->offset) > from) return true;
  }
  return false;
}

const InformationSchemaTable* SchemaHistory::At(std::string_view db, std::string_view table,
                                                const BinlogFilePos& at) const {
  auto o = Order(at.file, at.offset);
  if (!o) return nullptr;
  auto it = lists_.find(TableKey(db, table));
  if (it == lists_.end()) return nullptr;
  const Entry* shape = Latest(it->second, *o);
  if (!shape || !shape->shape) return nullptr;
  if (TouchedAllSince(db, *Order(shape->file, shape->offset), *o)) return nullptr;
  return &*shape->shape;
}

void SchemaHistory::Add(const std::string& key, Entry entry) {
  if (!Comparable({entry.file, entry.offset})) return;
  auto o = Order(entry.file, entry.offset);
  List& list = lists_[key];
  auto pos = std::find_if(list.entries.begin(), list.entries.end(),
                          [&](const Entry& e) { return Order(e.file, e.offset) >= o; });
  if (pos != list.entries.end() && Order(pos->file, pos->offset) == o) {
    *pos = std::move(entry);  // the same event again (a replay after a restart)
  } else {
    list.entries.insert(pos, std::move(entry));
  }
  while (list.entries.size() > kKeep) {
    list.horizon = Entry{list.entries.front().file, list.entries.front().offset, std::nullopt, "", "", {}};
    list.entries.erase(list.entries.begin());
  }
  changed_[key] = true;
}

void SchemaHistory::Record(std::string_view db, std::string_view table, const BinlogFilePos& at,
                           InformationSchemaTable shape) {
  Add(TableKey(db, table), Entry{at.file, at.offset, std::move(shape), "", "", {}});
}

void SchemaHistory::OnDdl(std::string_view query, std::string_view db, DdlQuoting quoting, const BinlogFilePos& at) {
  DdlStatement d = ParseDdl(query, db, quoting);
  using K = DdlStatement::Kind;
  std::vector<std::string> keys;
  bool named_any = false;
  auto table = [&](const std::string& d_db, const std::string& d_table) {
    if (d_table.empty()) return;
    named_any = true;
    std::string key = TableKey(d_db, d_table);
    if (!selected_ || selected_(d_db, d_table) || lists_.count(key)) keys.push_back(std::move(key));
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
    case K::kCreateSequence:
    case K::kAlterSequence:
    case K::kDropSequence:
      table(d.db, d.table);
      table(d.new_db, d.new_table);
      for (const auto& r : d.renames) {
        table(r.db, r.table);
        table(r.new_db, r.new_table);
      }
      for (const auto& [t_db, t_table] : d.tables) table(t_db, t_table);
      if (!named_any) keys.push_back(AllKey());  // named no table sluice could read
      break;
    case K::kOther:
      if (!d.changes_no_table) keys.push_back(AllKey());  // not classified: may have changed any table
      break;
  }
  // A statement may name a table in another letter case than its TABLE_MAP
  // (lower_case_table_names): it touches those spellings too.
  size_t named = keys.size();
  for (const auto& [key, _] : lists_) {
    for (size_t i = 0; i < named; ++i) {
      if (key != keys[i] && SameName(key, keys[i])) keys.push_back(key);
    }
  }
  for (const std::string& key : keys) Add(key, Entry{at.file, at.offset, std::nullopt, std::string(query),
                                                     std::string(db), quoting});
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
      json entry = {e.file, e.offset, e.shape ? ShapeToJson(*e.shape) : json(nullptr)};
      if (!e.query.empty()) {
        entry.insert(entry.end(), {e.query, e.query_db, e.quoting.ansi_quotes, e.quoting.no_backslash_escapes});
      }
      entries.push_back(std::move(entry));
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
      Entry entry{e.at(0).get<std::string>(), e.at(1).get<uint64_t>(), std::nullopt, "", "", {}};
      if (!e.at(2).is_null()) entry.shape = ShapeFromJson(e.at(2));
      if (e.size() >= 7) {
        entry.query = e.at(3).get<std::string>();
        entry.query_db = e.at(4).get<std::string>();
        entry.quoting.ansi_quotes = e.at(5).get<bool>();
        entry.quoting.no_backslash_escapes = e.at(6).get<bool>();
      }
      list.entries.push_back(std::move(entry));
    }
    if (v.contains("horizon")) {
      list.horizon = Entry{v["horizon"].at(0).get<std::string>(), v["horizon"].at(1).get<uint64_t>(), std::nullopt,
                           "", "", {}};
    }
    lists_[key] = std::move(list);
  } catch (const json::exception&) {
    // a value of another version of sluice, or damaged: information_schema is read instead
  }
}

}  // namespace sluice::mysql
