#pragma once
// Collations of the row filter: strings compare as the source server
// compares them under the column's collation, so that a `where:` keeps
// exactly the rows a `SELECT ... WHERE` on the source returns.
//
// The weights are the server's own: scripts/gen_collation_weights.py asks
// MariaDB for WEIGHT_STRING of every code point under each collation below
// and writes src/transform/collation_weights.inc. Known collations (MariaDB
// ids, and their NO PAD twins at id + 1024):
//   utf8mb3/utf8mb4 _general_ci, _unicode_ci, _unicode_520_ci, _bin;
//   latin1 _swedish_ci, _general_ci, _general_cs, _german1_ci, _german2_ci,
//   _spanish_ci, _danish_ci, _bin; ascii_bin; binary.
// PAD SPACE collations ignore trailing spaces ('a' = 'a  '); NO PAD ones do
// not. Contractions of language-specific UCA collations are not modelled
// (none of the collations above has any).
//
// A column whose collation is unknown (another charset's, or none in the
// metadata) compares as utf8mb4_general_ci: row_filter.h's BoundFilter
// lists such columns, and the caller warns once.
//
// Thread safety: Collation objects are immutable singletons; the weight
// tables are expanded on first use under a once-flag.

#include <cstdint>
#include <string_view>

namespace sluice::transform {

class Collation {
 public:
  // The collation with this id (TABLE_MAP charset metadata,
  // information_schema.COLLATIONS.ID), or nullptr if the filter does not
  // know it.
  static const Collation* ForId(uint32_t id);
  // utf8mb4_general_ci: string literals (the filter's session is utf8mb4)
  // and columns of unknown collation.
  static const Collation& Default();

  std::string_view name() const { return name_; }
  uint32_t id() const { return id_; }
  bool pad_space() const { return pad_space_; }

  // -1, 0 or 1, as the server orders a and b (UTF-8 text).
  int Compare(std::string_view a, std::string_view b) const;
  // LIKE's per-character equality: a and b are one UTF-8 character each.
  bool CharsEqual(std::string_view a, std::string_view b) const;

  Collation(uint32_t id, std::string_view name, int table, bool pad_space)
      : id_(id), name_(name), table_(table), pad_space_(pad_space) {}

 private:
  uint32_t id_;
  std::string_view name_;
  int table_;  // index into the generated weight tables; -1: code points (_bin)
  bool pad_space_;
};

// LOWER()/UPPER() of UTF-8 text as the server's utf8mb4 does it (simple
// one-to-one case mapping). Writes at most 2 * s.size() bytes to out and
// returns the length written.
size_t CaseMapUtf8(std::string_view s, bool lower, char* out);

}  // namespace sluice::transform
