#include "pipeline/target_triggers.h"

#include <algorithm>
#include <cctype>

namespace sluice::pipeline {

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The statement as tokens: words and quoted names (unquoted, lower case),
// single punctuation; string literals and comments dropped.
std::vector<std::string> Tokens(const std::string& sql) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      i = sql.find('\n', i);
      if (i == std::string::npos) break;
    } else if (c == '#') {
      i = sql.find('\n', i);
      if (i == std::string::npos) break;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      i = sql.find("*/", i + 2);
      if (i == std::string::npos) break;
      i += 2;
    } else if (c == '\'' || c == '"') {
      for (++i; i < sql.size() && sql[i] != c; ++i) {
        if (sql[i] == '\\') ++i;
      }
      ++i;
      out.push_back("'");  // a literal: no name
    } else if (c == '`') {
      std::string name;
      for (++i; i < sql.size(); ++i) {
        if (sql[i] == '`') {
          if (i + 1 < sql.size() && sql[i + 1] == '`') {
            name += '`';
            ++i;
            continue;
          }
          break;
        }
        name += sql[i];
      }
      ++i;
      out.push_back(Lower(name));
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$') {
      size_t start = i;
      while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' || sql[i] == '$')) ++i;
      out.push_back(Lower(sql.substr(start, i - start)));
    } else {
      out.push_back(std::string(1, c));
      ++i;
    }
  }
  return out;
}

}  // namespace

TriggerEffect AnalyzeTrigger(const TriggerInfo& trigger, const std::set<std::string>& filled) {
  TriggerEffect effect;
  std::vector<std::string> t = Tokens(trigger.statement);
  const std::string schema = Lower(trigger.schema);
  auto table_at = [&](size_t i) -> std::string {
    if (i >= t.size()) return "";
    if (i + 2 < t.size() && t[i + 1] == ".") return t[i] + "." + t[i + 2];
    return schema + "." + t[i];
  };
  auto skip = [&](size_t i, std::initializer_list<const char*> words) {
    while (i < t.size() && std::any_of(words.begin(), words.end(), [&](const char* w) { return t[i] == w; })) ++i;
    return i;
  };
  auto note = [&](const std::string& name) {
    if (filled.contains(name) && std::find(effect.writes.begin(), effect.writes.end(), name) == effect.writes.end()) {
      effect.writes.push_back(name);
    }
  };
  auto note_new = [&](const std::string& column) {
    if (std::find(effect.sets_new.begin(), effect.sets_new.end(), column) == effect.sets_new.end()) {
      effect.sets_new.push_back(column);
    }
  };
  const bool before = Lower(trigger.timing) == "before";
  for (size_t i = 0; i < t.size(); ++i) {
    // Only at a statement's start: `insert` also names a trigger event, a
    // column, a function argument.
    bool starts = i == 0 || t[i - 1] == ";" || t[i - 1] == "begin" || t[i - 1] == "then" || t[i - 1] == "else" ||
                  t[i - 1] == "do" || t[i - 1] == "loop" || t[i - 1] == "repeat";
    if (!starts) {
      if (before && t[i] == "new" && i + 2 < t.size() && t[i + 1] == "." && i > 0 &&
          (t[i - 1] == "set" || t[i - 1] == ",")) {
        note_new(t[i + 2]);
      }
      continue;
    }
    if (t[i] == "insert" || t[i] == "replace") {
      note(table_at(skip(i + 1, {"low_priority", "delayed", "high_priority", "ignore", "into"})));
    } else if (t[i] == "update") {
      note(table_at(skip(i + 1, {"low_priority", "ignore"})));
    } else if (t[i] == "delete") {
      note(table_at(skip(i + 1, {"low_priority", "quick", "ignore", "from"})));
    } else if (t[i] == "set" && before) {
      for (size_t j = i + 1; j + 2 < t.size() && t[j] != ";"; ++j) {
        if (t[j] == "new" && t[j + 1] == "." && (j == i + 1 || t[j - 1] == ",")) note_new(t[j + 2]);
      }
    }
  }
  return effect;
}

}  // namespace sluice::pipeline
