#pragma once
// How rows become Redis keys and field values (design section 9, Redis):
//   - a key template with ${pipeline} ${db} ${table} ${pk}, names after
//     `to:` renames; ${pk} is the key column values joined by ':', each
//     written as its field text with ':' as `\:` and '\' as `\\` (so that
//     keys stay unambiguous: "a:b" and ("a","b") differ);
//   - a field value is the column's section-4 JSON value as text: strings,
//     decimals and temporals without quotes, binary base64, JSON as JSON
//     text, SET as its comma list, numbers as JSON writes them.
// Pure functions, no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sink_change.h"
#include "core/status.h"
#include "core/value.h"

namespace sluice::sink::redis {

// Appends v's section-4 JSON value as text (v must not be NULL or absent).
void AppendFieldText(std::string& out, const Value& v);

// Appends one key column value with ':' and '\' escaped.
void AppendKeyValue(std::string& out, const Value& v);

// Appends glob-escaped text for SCAN MATCH.
void AppendGlobLiteral(std::string& out, std::string_view text);

class KeyTemplate {
 public:
  // Parses `text`; ${pipeline} is resolved here. Unknown placeholders are
  // errors (the config checks them too).
  static Result<KeyTemplate> Parse(std::string_view text, std::string_view pipeline);

  bool has_pk() const;
  bool has_db() const;
  bool has_table() const;
  // The key of the row `change` is about (its key columns' values).
  void Expand(std::string& out, const SinkChange& change) const;
  // The key for a db and table (templates without ${pk}: stream names).
  std::string ExpandTable(std::string_view db, std::string_view table) const;
  // A SCAN MATCH pattern for every key of a table (or of every table of the
  // database when `table` is empty).
  std::string MatchPattern(std::string_view db, std::string_view table) const;
  // The ${pk} part of `key` (escaped, as Expand wrote it) when `key` is a
  // row key of db.table under this template; nullopt otherwise.
  std::optional<std::string_view> PkOf(std::string_view key, std::string_view db, std::string_view table) const;
  const std::string& text() const { return text_; }

 private:
  enum class Part : uint8_t { kLiteral, kDb, kTable, kPk };
  struct Piece {
    Part part;
    std::string literal;
  };
  bool Has(Part p) const;
  std::string text_;
  std::vector<Piece> pieces_;
};

}  // namespace sluice::sink::redis
