#pragma once
// Row filter: the `where:` expressions of pipeline table rules (design.md
// §1 Extract, §5), e.g.
//     where: "status != 'deleted' AND amount >= 10.5"
// in three steps, all pure functions over core types:
//   ParseFilter  text -> FilterExpr (once per config load; syntax errors
//                carry the offending token and its column);
//   BindFilter   FilterExpr x TableSchema -> BoundFilter (once per schema
//                version: columns resolved to indexes, literals pre-parsed,
//                constant subexpressions folded, literal dates checked);
//   Matches      BoundFilter x row image -> bool (per row, on the hot path).
//
// The language is the WHERE clause of MySQL, with MySQL's semantics:
//   literals     42, 18446744073709551615, 19.90 (exact DECIMAL), 1e3 (DOUBLE),
//                'text' or "text" ('' and backslash escapes; adjacent
//                strings concatenate), TRUE, FALSE, NULL
//   columns      status, `order`  (case-insensitive, no table qualifier)
//   operators    by precedence, lowest first:
//                  OR ||;  XOR;  AND &&;  NOT;
//                  = <=> != <> < <= > >= IS [NOT] NULL|TRUE|FALSE|UNKNOWN
//                  [NOT] IN (...) [NOT] BETWEEN a AND b [NOT] LIKE p [ESCAPE c];
//                  + -;  * / DIV % MOD;  unary - + !;  ( )
//                (like MySQL, `!` binds tighter than comparisons, NOT looser)
//   functions    LOWER LCASE UPPER UCASE LENGTH OCTET_LENGTH CHAR_LENGTH
//                CHARACTER_LENGTH COALESCE IFNULL ABS CONCAT SUBSTRING SUBSTR
// Three-valued logic: a row passes only when the filter is TRUE; NULL and
// FALSE both drop it. Comparisons follow MySQL's type rules: integers and
// decimals exactly (transform/filter_decimal.h), anything with a double as
// doubles, text case-insensitively with PAD SPACE (transform/filter_text.h),
// binary strings bytewise, dates and times temporally against strings and
// numbers (transform/filter_temporal.h), ENUM/SET as their names (as their
// index/bitmask against numbers), YEAR and BIT as numbers, a string against
// a number as a number ('12abc' = 12).
//
// Departures from MySQL, chosen for a filter that must never silently
// misjudge a row:
//   - Integer arithmetic is exact in 128 bits and fails only when the true
//     result does not fit BIGINT or BIGINT UNSIGNED (MySQL also fails on
//     `unsigned_col - 1` at 0; here that is -1).
//   - Arithmetic on dates and times is an error (MySQL turns them into
//     numbers like 20240131, which no filter means).
//   - Comparing a TIME with a DATE/DATETIME is an error (MySQL dates the
//     TIME with CURDATE(), which differs between source and replay).
//   - A literal date that does not parse ('2024-13-01' compared with a
//     DATETIME column) is a bind error, not a NULL comparison.
//   - TIMESTAMP values are UTC (core/value.h); literals compare with them
//     as UTC, not in a session time zone.
//   - Not supported: bit operators, REGEXP, CASE, IF, date functions
//     (NOW(), DATE(), INTERVAL), other functions than those above,
//     subqueries, @variables, x'..' and 0x.. literals, comments,
//     table-qualified columns.
//
// Thread safety: FilterExpr and BoundFilter are immutable once built;
// Matches may run on any number of threads at once on the same BoundFilter.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice::transform {

enum class FilterOp : uint8_t {
  kLiteral,
  kColumn,
  kFunction,  // function(): args
  kOr,        // args: 2
  kXor,
  kAnd,
  kNot,  // NOT a, !a
  kEq,
  kNullSafeEq,  // <=>
  kNe,          // != <>
  kLt,
  kLe,
  kGt,
  kGe,
  kIsNull,  // also IS UNKNOWN
  kIsNotNull,
  kIsTrue,
  kIsNotTrue,
  kIsFalse,
  kIsNotFalse,
  kIn,  // args: subject, then the list
  kNotIn,
  kBetween,  // args: subject, low, high
  kNotBetween,
  kLike,  // args: subject, pattern [, escape]
  kNotLike,
  kAdd,
  kSub,
  kMul,
  kDiv,     // /: exact decimal quotient (scale + 4) or double
  kIntDiv,  // DIV
  kMod,     // % MOD
  kNeg,     // unary minus
};

enum class FilterFunction : uint8_t {
  kNone,
  kLower,
  kUpper,
  kLength,      // bytes
  kCharLength,  // characters
  kCoalesce,
  kIfNull,
  kAbs,
  kConcat,
  kSubstring,
};

// A literal as written. Numbers keep their digits (without sign: `-5` is
// kNeg of 5); strings hold their value after unescaping.
struct FilterLiteral {
  enum class Kind : uint8_t { kNull, kTrue, kFalse, kInteger, kDecimal, kDouble, kString };
  Kind kind = Kind::kNull;
  std::string text;
};

// One node of a parsed filter. Built only by ParseFilter, immutable after.
class FilterExpr {
 public:
  FilterOp op() const { return op_; }
  const std::vector<std::unique_ptr<const FilterExpr>>& args() const { return args_; }
  const std::string& column() const { return column_; }      // kColumn: the name, unquoted
  FilterFunction function() const { return function_; }      // kFunction
  const FilterLiteral& literal() const { return literal_; }  // kLiteral

  // This expression as written in the filter, and the 1-based column (in
  // characters) where it starts: what error messages quote.
  std::string_view text() const;
  uint32_t position() const;
  // Canonical, fully parenthesized form: "(a OR (b AND c))". Parsing it
  // again gives the same tree.
  std::string ToString() const;

 private:
  friend class FilterParser;
  FilterOp op_ = FilterOp::kLiteral;
  FilterFunction function_ = FilterFunction::kNone;
  FilterLiteral literal_;
  std::string column_;
  std::vector<std::unique_ptr<const FilterExpr>> args_;
  std::shared_ptr<const std::string> source_;  // the whole filter text
  uint32_t begin_ = 0;                         // byte span of this node in *source_
  uint32_t end_ = 0;
  uint32_t depth_ = 1;  // height of the subtree, bounded by the parser
};

namespace internal {
struct FilterProgram;
}

// A filter bound to one version of one table's schema. Cheap to copy (it
// shares an immutable program); rebind when the schema changes.
class BoundFilter {
 public:
  // The filter as written.
  std::string_view text() const;
  // The schema column indexes Matches reads, ascending.
  const std::vector<uint32_t>& column_indexes() const;
  // Text columns the filter reads whose collation it does not know
  // (transform/filter_collation.h): they compare as utf8mb4_general_ci.
  // "`name` (collation id N)" each; the caller warns.
  const std::vector<std::string>& unknown_collations() const;

 private:
  friend Result<BoundFilter> BindFilter(const FilterExpr& expr, const TableSchema& schema);
  friend Result<bool> Matches(const BoundFilter& f, const std::vector<Value>& row);
  explicit BoundFilter(std::shared_ptr<const internal::FilterProgram> p) : program_(std::move(p)) {}
  std::shared_ptr<const internal::FilterProgram> program_;
};

// Parses a filter expression. Errors name the offending token and its
// 1-based column: `where: unexpected token "AND" at column 14 (expected an
// operand)`. Unknown functions and wrong argument counts are parse errors.
Result<std::unique_ptr<const FilterExpr>> ParseFilter(std::string_view text);

// Binds column names to the table's columns (case-insensitively, like MySQL
// column names). Errors: an unknown column (naming it and the table), an
// ESCAPE that is not one constant character, a literal date or time that
// does not parse where it is compared with a temporal column, and errors of
// constant subexpressions (`1 / 0` is NULL, but 9223372036854775807 + 1
// fails here rather than on every row).
Result<BoundFilter> BindFilter(const FilterExpr& expr, const TableSchema& schema);

// Evaluates the filter against one row image, indexed like schema.columns.
// TRUE -> true; FALSE or NULL -> false. Errors: a referenced column that is
// ValueKind::kAbsent (a MINIMAL row image: "column `x` is not in the row
// image; the filter needs binlog_row_image=FULL") or beyond the row's end,
// and evaluation errors (out-of-range arithmetic, a TIME compared with a
// DATETIME, a malformed DECIMAL value), each naming the expression.
// Allocation-free except where new text is built (string functions, or a
// number used as text by LIKE or CONCAT), which goes to a per-thread scratch
// arena that is reused from row to row.
Result<bool> Matches(const BoundFilter& f, const std::vector<Value>& row);

// The column names the filter reads, as first written, without duplicates
// (compared case-insensitively). For validating table rules: a `columns:`
// subset must keep these.
std::vector<std::string> ReferencedColumns(const FilterExpr& expr);

}  // namespace sluice::transform
