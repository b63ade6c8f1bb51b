// BindFilter and Matches: a parsed filter becomes a flat program of nodes
// (columns resolved to row indexes, literals pre-parsed into the values the
// comparisons need, constant subexpressions folded, AND/OR chains
// flattened), which Matches walks recursively per row without allocating.

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <deque>

#include "core/arena.h"
#include "transform/filter_collation.h"
#include "transform/filter_decimal.h"
#include "transform/filter_temporal.h"
#include "transform/filter_text.h"
#include "transform/row_filter.h"

namespace sluice::transform {
namespace internal {

// What a string constant reads as in the contexts it may meet, computed
// once at bind time so that `created >= '2024-01-01'` parses only the
// column's side per row.
struct StringReadings {
  NumberReading number;
  bool datetime_ok = false;  // strict: a literal that is not a date is an error
  int64_t datetime = 0;
  bool time_ok = false;
  int64_t time = 0;
};

// One value during evaluation: a Value plus what a computation can yield
// (exact decimals, which the row carries as text). Trivially copyable and
// allocation-free; strings are views into the row, the program, or the
// per-thread scratch arena.
struct Datum {
  ValueKind kind = ValueKind::kNull;
  union {
    int64_t i;   // kInt, kYear
    uint64_t u;  // kUInt, kBit
    double d;    // kFloat, kDouble
  };
  std::string_view s;                                 // strings and temporals; a column DECIMAL's text
  Decimal dec;                                        // kDecimal
  const StringReadings* readings = nullptr;           // string constants
  const std::vector<std::string>* members = nullptr;  // ENUM/SET columns with known members
  // Text from a column (or computed from one): its collation. Null for
  // literals, which take the other side's (MySQL's coercibility rules).
  const Collation* collation = nullptr;

  Datum() : i(0) {}
  static Datum Int(int64_t v) {
    Datum x;
    x.kind = ValueKind::kInt;
    x.i = v;
    return x;
  }
  static Datum UInt(uint64_t v) {
    Datum x;
    x.kind = ValueKind::kUInt;
    x.u = v;
    return x;
  }
  static Datum Double(double v) {
    Datum x;
    x.kind = ValueKind::kDouble;
    x.d = v;
    return x;
  }
  static Datum OfDecimal(const Decimal& v) {
    Datum x;
    x.kind = ValueKind::kDecimal;
    x.dec = v;
    return x;
  }
  static Datum Str(ValueKind k, std::string_view v) {
    Datum x;
    x.kind = k;
    x.s = v;
    return x;
  }
  bool is_null() const { return kind == ValueKind::kNull; }
};

struct Node {
  FilterOp op = FilterOp::kLiteral;
  FilterFunction function = FilterFunction::kNone;
  uint32_t first_arg = 0;  // args are program.args[first_arg, first_arg + arg_count)
  uint32_t arg_count = 0;
  uint32_t column = 0;  // kColumn: index into the row
  uint32_t begin = 0;   // span of the expression in program.source
  uint32_t end = 0;
  Datum constant;                                     // kLiteral, including folded subexpressions
  const std::vector<std::string>* members = nullptr;  // kColumn: ENUM/SET member names
  const Collation* collation = nullptr;               // kColumn: its collation (text columns)
  std::string_view escape;                            // kLike/kNotLike: the escape character, or empty
};

struct FilterProgram {
  std::string source;  // the filter as written
  std::string table;   // "db"."table", for messages
  std::vector<Node> nodes;
  std::vector<uint32_t> args;
  uint32_t root = 0;
  std::vector<uint32_t> columns;          // referenced row indexes, ascending
  std::vector<std::string> column_names;  // parallel to columns
  // Owned storage behind the views in nodes (deque: stable addresses).
  std::deque<std::string> strings;
  std::deque<StringReadings> readings;
  std::deque<std::vector<std::string>> members;
  // Text columns whose collation the filter does not know (compared as
  // utf8mb4_general_ci): "`name` (collation id N)".
  std::vector<std::string> unknown_collations;

  std::string_view Text(const Node& n) const { return std::string_view(source).substr(n.begin, n.end - n.begin); }
  uint32_t Arg(const Node& n, uint32_t k) const { return args[n.first_arg + k]; }
};

}  // namespace internal

namespace {

using internal::Datum;
using internal::FilterProgram;
using internal::Node;
using internal::StringReadings;

// GCC/Clang 128-bit integers: exact products and sums of any two BIGINT
// [UNSIGNED] values. __extension__ keeps -Wpedantic quiet.
__extension__ typedef __int128 i128;

enum class Tri : uint8_t { kFalse, kTrue, kNull };

Datum FromTri(Tri t) { return t == Tri::kNull ? Datum() : Datum::Int(t == Tri::kTrue ? 1 : 0); }
Datum FromBool(bool b) { return Datum::Int(b ? 1 : 0); }

// How a value takes part in comparisons and arithmetic.
enum class Family : uint8_t { kNull, kInteger, kDecimal, kDouble, kText, kBinary, kDateTime, kTime };

Family FamilyOf(ValueKind k) {
  switch (k) {
    case ValueKind::kNull:
    case ValueKind::kAbsent:
      return Family::kNull;
    case ValueKind::kInt:
    case ValueKind::kUInt:
    case ValueKind::kYear:
    case ValueKind::kBit:
      return Family::kInteger;
    case ValueKind::kDecimal:
      return Family::kDecimal;
    case ValueKind::kFloat:
    case ValueKind::kDouble:
      return Family::kDouble;
    case ValueKind::kText:
    case ValueKind::kEnum:
    case ValueKind::kSet:
      return Family::kText;
    case ValueKind::kBytes:
    case ValueKind::kJson:
    case ValueKind::kGeometry:
      return Family::kBinary;
    case ValueKind::kDate:
    case ValueKind::kDateTime:
    case ValueKind::kTimestamp:
      return Family::kDateTime;
    case ValueKind::kTime:
      return Family::kTime;
  }
  return Family::kNull;
}

bool IsTemporal(Family f) { return f == Family::kDateTime || f == Family::kTime; }
bool IsNumeric(Family f) { return f == Family::kInteger || f == Family::kDecimal || f == Family::kDouble; }
bool IsString(Family f) { return f == Family::kText || f == Family::kBinary; }

std::string_view KindName(ValueKind k) {
  switch (k) {
    case ValueKind::kDate:
      return "DATE";
    case ValueKind::kDateTime:
      return "DATETIME";
    case ValueKind::kTimestamp:
      return "TIMESTAMP";
    case ValueKind::kTime:
      return "TIME";
    default:
      return "value";
  }
}

// MYSQL_TYPE_* codes of TABLE_MAP (fixed by the protocol; see
// client/mysql/column_types.h, which transform may not include).
Family TemporalFamilyOfColumn(const ColumnMeta& c, std::string_view* type_name) {
  switch (c.type) {
    case 7:   // TIMESTAMP
    case 17:  // TIMESTAMP2
      *type_name = "TIMESTAMP";
      return Family::kDateTime;
    case 10:  // DATE
    case 14:  // NEWDATE
      *type_name = "DATE";
      return Family::kDateTime;
    case 12:  // DATETIME
    case 18:  // DATETIME2
      *type_name = "DATETIME";
      return Family::kDateTime;
    case 11:  // TIME
    case 19:  // TIME2
      *type_name = "TIME";
      return Family::kTime;
    default:
      return Family::kNull;
  }
}

// ENUM value as a number: its 1-based position among the members, 0 for ''.
uint64_t EnumIndex(const std::vector<std::string>& members, std::string_view name) {
  for (size_t k = 0; k < members.size(); ++k) {
    if (members[k] == name) {
      return k + 1;
    }
  }
  for (size_t k = 0; k < members.size(); ++k) {
    if (EqualsIgnoreCase(members[k], name)) {
      return k + 1;
    }
  }
  return 0;
}

// SET value as a number: bit k for member k.
uint64_t SetBits(const std::vector<std::string>& members, std::string_view names) {
  uint64_t bits = 0;
  while (!names.empty()) {
    size_t comma = names.find(',');
    std::string_view one = names.substr(0, comma);
    uint64_t index = EnumIndex(members, one);
    if (index > 0 && index <= 64) {
      bits |= uint64_t{1} << (index - 1);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    names.remove_prefix(comma + 1);
  }
  return bits;
}

// A number in one of the forms MySQL computes with.
struct Num {
  enum class Kind : uint8_t { kInt, kUInt, kDecimal, kDouble };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  uint64_t u = 0;
  Decimal dec;
  double d = 0;

  static Num Int(int64_t v) {
    Num n;
    n.i = v;
    return n;
  }
  static Num UInt(uint64_t v) {
    Num n;
    n.kind = Kind::kUInt;
    n.u = v;
    return n;
  }
  static Num Dbl(double v) {
    Num n;
    n.kind = Kind::kDouble;
    n.d = v;
    return n;
  }
  static Num Dec(const Decimal& v) {
    Num n;
    n.kind = Kind::kDecimal;
    n.dec = v;
    return n;
  }
  double AsDouble() const {
    switch (kind) {
      case Kind::kInt:
        return static_cast<double>(i);
      case Kind::kUInt:
        return static_cast<double>(u);
      case Kind::kDecimal:
        return dec.ToDouble();
      case Kind::kDouble:
        return d;
    }
    return 0;
  }
  Decimal AsDecimal() const {  // not for kDouble
    return kind == Kind::kInt ? Decimal::FromInt(i) : kind == Kind::kUInt ? Decimal::FromUInt(u) : dec;
  }
  i128 AsI128() const { return kind == Kind::kInt ? static_cast<i128>(i) : static_cast<i128>(u); }
};

template <typename T>
int Order(T a, T b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int CompareNums(const Num& x, const Num& y) {
  using K = Num::Kind;
  if (x.kind == K::kDouble || y.kind == K::kDouble) {
    return Order(x.AsDouble(), y.AsDouble());
  }
  if (x.kind == K::kDecimal || y.kind == K::kDecimal) {
    return x.AsDecimal().Compare(y.AsDecimal());
  }
  return Order(x.AsI128(), y.AsI128());
}

Num FromReading(const NumberReading& r) {
  if (!r.exact) {
    return Num::Dbl(r.d);
  }
  switch (r.kind) {
    case NumberReading::Kind::kInt:
      return Num::Int(r.i);
    case NumberReading::Kind::kUInt:
      return Num::UInt(r.u);
    case NumberReading::Kind::kDecimal:
      return Num::Dec(r.dec);
    case NumberReading::Kind::kDouble:
      break;
  }
  return Num::Dbl(r.d);
}

// Per-thread scratch for strings that functions build (LOWER, CONCAT, a
// number formatted for LIKE). Taken and reset on first use in an
// evaluation, so rows that need no new strings never touch it, and steady
// state reuses its first block.
class Scratch {
 public:
  char* Allocate(size_t n) {
    if (arena_ == nullptr) {
      thread_local Arena arena(4096);
      arena_ = &arena;
      arena_->Reset();
    }
    return arena_->Allocate(n == 0 ? 1 : n);
  }

 private:
  Arena* arena_ = nullptr;
};

class Evaluator {
 public:
  Evaluator(const FilterProgram& p, const std::vector<Value>* row) : p_(p), row_(row) {}

  Status Eval(uint32_t index, Datum* out) {
    const Node& n = p_.nodes[index];
    switch (n.op) {
      case FilterOp::kLiteral:
        *out = n.constant;
        return Status::Ok();
      case FilterOp::kColumn:
        return EvalColumn(n, out);
      case FilterOp::kFunction:
        return EvalFunction(n, out);
      case FilterOp::kOr:
      case FilterOp::kAnd:
        return EvalAndOr(n, out);
      case FilterOp::kXor: {
        Datum a;
        Datum b;
        RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &a));
        RETURN_IF_ERROR(Eval(p_.Arg(n, 1), &b));
        Tri ta = Truth(a);
        Tri tb = Truth(b);
        *out = ta == Tri::kNull || tb == Tri::kNull ? Datum() : FromBool(ta != tb);
        return Status::Ok();
      }
      case FilterOp::kNot: {
        Datum a;
        RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &a));
        Tri t = Truth(a);
        *out = t == Tri::kNull ? Datum() : FromBool(t == Tri::kFalse);
        return Status::Ok();
      }
      case FilterOp::kEq:
      case FilterOp::kNullSafeEq:
      case FilterOp::kNe:
      case FilterOp::kLt:
      case FilterOp::kLe:
      case FilterOp::kGt:
      case FilterOp::kGe:
        return EvalComparison(n, out);
      case FilterOp::kIsNull:
      case FilterOp::kIsNotNull:
      case FilterOp::kIsTrue:
      case FilterOp::kIsNotTrue:
      case FilterOp::kIsFalse:
      case FilterOp::kIsNotFalse:
        return EvalIs(n, out);
      case FilterOp::kIn:
      case FilterOp::kNotIn:
        return EvalIn(n, out);
      case FilterOp::kBetween:
      case FilterOp::kNotBetween:
        return EvalBetween(n, out);
      case FilterOp::kLike:
      case FilterOp::kNotLike:
        return EvalLike(n, out);
      case FilterOp::kAdd:
      case FilterOp::kSub:
      case FilterOp::kMul:
      case FilterOp::kDiv:
      case FilterOp::kIntDiv:
      case FilterOp::kMod:
        return EvalArithmetic(n, out);
      case FilterOp::kNeg:
        return EvalNegate(n, out);
    }
    return Status::Error(StatusCode::kNotSupported, "unknown filter operator {}", static_cast<int>(n.op));
  }

  // SQL truth of a value: numbers are TRUE when not zero, strings are read
  // as numbers ('abc' is FALSE, '1abc' TRUE), as in MySQL.
  Tri Truth(const Datum& d) const {
    switch (FamilyOf(d.kind)) {
      case Family::kNull:
        return Tri::kNull;
      case Family::kInteger:
        return (d.kind == ValueKind::kInt || d.kind == ValueKind::kYear ? d.i != 0 : d.u != 0) ? Tri::kTrue
                                                                                               : Tri::kFalse;
      case Family::kDecimal:
        return d.dec.is_zero() ? Tri::kFalse : Tri::kTrue;
      case Family::kDouble:
        return d.d != 0 ? Tri::kTrue : Tri::kFalse;
      case Family::kText:
      case Family::kBinary: {
        if (d.members != nullptr) {
          uint64_t v = d.kind == ValueKind::kSet ? SetBits(*d.members, d.s) : EnumIndex(*d.members, d.s);
          return v != 0 ? Tri::kTrue : Tri::kFalse;
        }
        double v = d.readings != nullptr ? d.readings->number.d : ReadNumber(d.s).d;
        return v != 0 ? Tri::kTrue : Tri::kFalse;
      }
      case Family::kDateTime: {
        int64_t packed = 0;
        return ParseDateTime(d.s, false, &packed) && packed != 0 ? Tri::kTrue : Tri::kFalse;
      }
      case Family::kTime: {
        int64_t micros = 0;
        return ParseTime(d.s, &micros) && micros != 0 ? Tri::kTrue : Tri::kFalse;
      }
    }
    return Tri::kNull;
  }

 private:
  template <typename... Args>
  Status Error(const Node& n, fmt::format_string<Args...> f, Args&&... args) const {
    return Status::Invalid("{} in \"{}\"", fmt::format(f, std::forward<Args>(args)...), p_.Text(n));
  }

  Status EvalColumn(const Node& n, Datum* out) {
    // Matches checked the index and kAbsent for every referenced column.
    const Value& v = (*row_)[n.column];
    // Filled in place, not through a local copy: this runs for every
    // column of every row.
    Datum& d = *out;
    d.kind = v.kind;
    d.s = v.s;
    d.readings = nullptr;
    d.members = nullptr;
    d.collation = n.collation;
    switch (v.kind) {
      case ValueKind::kNull:
      case ValueKind::kAbsent:
        d.kind = ValueKind::kNull;
        break;
      case ValueKind::kInt:
      case ValueKind::kYear:
        d.i = v.i;
        break;
      case ValueKind::kUInt:
      case ValueKind::kBit:
        d.u = v.u;
        break;
      case ValueKind::kFloat:
      case ValueKind::kDouble:
        d.d = v.d;
        break;
      case ValueKind::kDecimal:
        if (!Decimal::Parse(v.s, &d.dec)) {
          return Status::Corruption("column `{}` holds a malformed DECIMAL value \"{}\" in \"{}\"", ColumnName(n), v.s,
                                    p_.Text(n));
        }
        break;
      case ValueKind::kEnum:
      case ValueKind::kSet:
        d.members = n.members;
        break;
      default:
        break;
    }
    return Status::Ok();
  }

  std::string_view ColumnName(const Node& n) const {
    for (size_t k = 0; k < p_.columns.size(); ++k) {
      if (p_.columns[k] == n.column) {
        return p_.column_names[k];
      }
    }
    return "?";
  }

  // AND and OR over a flattened list: FALSE (TRUE) decides at once, even
  // past a NULL; otherwise any NULL makes the result NULL.
  Status EvalAndOr(const Node& n, Datum* out) {
    Tri decisive = n.op == FilterOp::kAnd ? Tri::kFalse : Tri::kTrue;
    bool saw_null = false;
    for (uint32_t k = 0; k < n.arg_count; ++k) {
      Datum a;
      RETURN_IF_ERROR(Eval(p_.Arg(n, k), &a));
      Tri t = Truth(a);
      if (t == decisive) {
        *out = FromTri(decisive);
        return Status::Ok();
      }
      saw_null = saw_null || t == Tri::kNull;
    }
    *out = saw_null ? Datum() : FromTri(decisive == Tri::kFalse ? Tri::kTrue : Tri::kFalse);
    return Status::Ok();
  }

  Status EvalIs(const Node& n, Datum* out) {
    Datum a;
    RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &a));
    Tri t = Truth(a);
    switch (n.op) {
      case FilterOp::kIsNull:
        *out = FromBool(t == Tri::kNull);
        break;
      case FilterOp::kIsNotNull:
        *out = FromBool(t != Tri::kNull);
        break;
      case FilterOp::kIsTrue:
        *out = FromBool(t == Tri::kTrue);
        break;
      case FilterOp::kIsNotTrue:
        *out = FromBool(t != Tri::kTrue);
        break;
      case FilterOp::kIsFalse:
        *out = FromBool(t == Tri::kFalse);
        break;
      default:
        *out = FromBool(t != Tri::kFalse);
        break;
    }
    return Status::Ok();
  }

  static bool Holds(FilterOp op, int c) {
    switch (op) {
      case FilterOp::kEq:
      case FilterOp::kNullSafeEq:
        return c == 0;
      case FilterOp::kNe:
        return c != 0;
      case FilterOp::kLt:
        return c < 0;
      case FilterOp::kLe:
        return c <= 0;
      case FilterOp::kGt:
        return c > 0;
      default:
        return c >= 0;
    }
  }

  Status EvalComparison(const Node& n, Datum* out) {
    Datum a;
    Datum b;
    RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &a));
    RETURN_IF_ERROR(Eval(p_.Arg(n, 1), &b));
    if (a.is_null() || b.is_null()) {
      *out = n.op == FilterOp::kNullSafeEq ? FromBool(a.is_null() && b.is_null()) : Datum();
      return Status::Ok();
    }
    int c = 0;
    bool is_null = false;
    RETURN_IF_ERROR(Compare(n, a, b, &c, &is_null));
    if (is_null) {
      *out = n.op == FilterOp::kNullSafeEq ? FromBool(false) : Datum();
    } else {
      *out = FromBool(Holds(n.op, c));
    }
    return Status::Ok();
  }

  // x IN (a, b, ...): TRUE if x equals one of them; otherwise NULL if x or
  // any item is NULL, else FALSE. NOT IN negates that (so a NULL in the
  // list makes NOT IN never TRUE, as in SQL).
  Status EvalIn(const Node& n, Datum* out) {
    Datum x;
    RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &x));
    Tri result = Tri::kFalse;
    if (x.is_null()) {
      result = Tri::kNull;
    } else {
      for (uint32_t k = 1; k < n.arg_count && result != Tri::kTrue; ++k) {
        Datum item;
        RETURN_IF_ERROR(Eval(p_.Arg(n, k), &item));
        if (item.is_null()) {
          result = Tri::kNull;
          continue;
        }
        int c = 0;
        bool is_null = false;
        RETURN_IF_ERROR(Compare(n, x, item, &c, &is_null));
        if (is_null) {
          result = Tri::kNull;
        } else if (c == 0) {
          result = Tri::kTrue;
        }
      }
    }
    if (n.op == FilterOp::kNotIn && result != Tri::kNull) {
      result = result == Tri::kTrue ? Tri::kFalse : Tri::kTrue;
    }
    *out = FromTri(result);
    return Status::Ok();
  }

  // x BETWEEN lo AND hi is (x >= lo AND x <= hi) with SQL's NULL logic:
  // NULL BETWEEN 1 AND 2 is NULL, 5 BETWEEN NULL AND 3 is FALSE.
  Status EvalBetween(const Node& n, Datum* out) {
    Datum x;
    Datum lo;
    Datum hi;
    RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &x));
    RETURN_IF_ERROR(Eval(p_.Arg(n, 1), &lo));
    RETURN_IF_ERROR(Eval(p_.Arg(n, 2), &hi));
    auto side = [&](const Datum& bound, bool lower, Tri* t) -> Status {
      if (x.is_null() || bound.is_null()) {
        *t = Tri::kNull;
        return Status::Ok();
      }
      int c = 0;
      bool is_null = false;
      RETURN_IF_ERROR(Compare(n, x, bound, &c, &is_null));
      *t = is_null ? Tri::kNull : ((lower ? c >= 0 : c <= 0) ? Tri::kTrue : Tri::kFalse);
      return Status::Ok();
    };
    Tri low;
    Tri high;
    RETURN_IF_ERROR(side(lo, true, &low));
    RETURN_IF_ERROR(side(hi, false, &high));
    Tri result = low == Tri::kFalse || high == Tri::kFalse ? Tri::kFalse
                 : low == Tri::kNull || high == Tri::kNull ? Tri::kNull
                                                           : Tri::kTrue;
    if (n.op == FilterOp::kNotBetween && result != Tri::kNull) {
      result = result == Tri::kTrue ? Tri::kFalse : Tri::kTrue;
    }
    *out = FromTri(result);
    return Status::Ok();
  }

  Status EvalLike(const Node& n, Datum* out) {
    Datum subject;
    Datum pattern;
    RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &subject));
    RETURN_IF_ERROR(Eval(p_.Arg(n, 1), &pattern));
    if (subject.is_null() || pattern.is_null()) {
      *out = Datum();
      return Status::Ok();
    }
    // Binary if either side is a binary string, as in MySQL.
    bool binary = FamilyOf(subject.kind) == Family::kBinary || FamilyOf(pattern.kind) == Family::kBinary;
    bool match = LikeMatch(AsString(subject), AsString(pattern), n.escape, binary,
                           &CollationOf(subject, pattern));
    *out = FromBool(n.op == FilterOp::kLike ? match : !match);
    return Status::Ok();
  }

  // ---- comparison ------------------------------------------------------------

  // Orders a and b (neither NULL) by MySQL's rules, or sets *is_null where
  // MySQL compares to NULL: a string or number that is not a valid date or
  // time, compared with one.
  Status Compare(const Node& n, const Datum& a, const Datum& b, int* c, bool* is_null) {
    *is_null = false;
    Family fa = FamilyOf(a.kind);
    Family fb = FamilyOf(b.kind);
    if (IsTemporal(fa) || IsTemporal(fb)) {
      return CompareTemporal(n, a, b, c, is_null);
    }
    // The common column-against-literal cases, without the general
    // conversion below.
    if (fa == Family::kInteger && fb == Family::kInteger) {
      *c = Order(IntegerValue(a), IntegerValue(b));
      return Status::Ok();
    }
    if (fa == Family::kDecimal && fb == Family::kDecimal) {
      *c = a.dec.Compare(b.dec);
      return Status::Ok();
    }
    if (IsNumeric(fa) || IsNumeric(fb)) {
      *c = CompareNums(ComparisonNum(a), ComparisonNum(b));
      return Status::Ok();
    }
    *c = fa == Family::kBinary || fb == Family::kBinary ? CompareBinary(a.s, b.s) : CollationOf(a, b).Compare(a.s, b.s);
    return Status::Ok();
  }

  // The collation two strings compare by: a column's over a literal's
  // (utf8mb4_general_ci, the filter session's); with two columns of
  // different collations (an error in MySQL unless one converts), the
  // left one's.
  static const Collation& CollationOf(const Datum& a, const Datum& b) {
    if (a.collation != nullptr) return *a.collation;
    if (b.collation != nullptr) return *b.collation;
    return Collation::Default();
  }

  static i128 IntegerValue(const Datum& d) {
    return d.kind == ValueKind::kInt || d.kind == ValueKind::kYear ? static_cast<i128>(d.i) : static_cast<i128>(d.u);
  }

  // A value as a number for comparing with a number: strings exactly when
  // they are clean integers or decimals, else as doubles (filter_text.h);
  // ENUM/SET as their index/bitmask.
  static Num ComparisonNum(const Datum& d) {
    switch (d.kind) {
      case ValueKind::kInt:
      case ValueKind::kYear:
        return Num::Int(d.i);
      case ValueKind::kUInt:
      case ValueKind::kBit:
        return Num::UInt(d.u);
      case ValueKind::kDecimal:
        return Num::Dec(d.dec);
      case ValueKind::kFloat:
      case ValueKind::kDouble:
        return Num::Dbl(d.d);
      default:
        break;
    }
    if (d.members != nullptr) {
      return Num::UInt(d.kind == ValueKind::kSet ? SetBits(*d.members, d.s) : EnumIndex(*d.members, d.s));
    }
    return FromReading(d.readings != nullptr ? d.readings->number : ReadNumber(d.s));
  }

  // A temporal value's own text (from the decoder) as an integer key.
  Status TemporalKey(const Node& n, const Datum& d, int64_t* key) const {
    bool ok = FamilyOf(d.kind) == Family::kTime ? ParseTime(d.s, key) : ParseDateTime(d.s, false, key);
    if (!ok) {
      return Status::Corruption("malformed {} value \"{}\" in \"{}\"", KindName(d.kind), d.s, p_.Text(n));
    }
    return Status::Ok();
  }

  Status CompareTemporal(const Node& n, const Datum& a, const Datum& b, int* c, bool* is_null) {
    Family fa = FamilyOf(a.kind);
    Family fb = FamilyOf(b.kind);
    if (IsTemporal(fa) && IsTemporal(fb)) {
      if (fa != fb) {
        return Error(n, "cannot compare a {} with a {}", KindName(a.kind), KindName(b.kind));
      }
      int64_t ka = 0;
      int64_t kb = 0;
      RETURN_IF_ERROR(TemporalKey(n, a, &ka));
      RETURN_IF_ERROR(TemporalKey(n, b, &kb));
      *c = Order(ka, kb);
      return Status::Ok();
    }
    bool a_is_temporal = IsTemporal(fa);
    const Datum& t = a_is_temporal ? a : b;
    const Datum& other = a_is_temporal ? b : a;
    int64_t kt = 0;
    int64_t ko = 0;
    RETURN_IF_ERROR(TemporalKey(n, t, &kt));
    if (!AsTemporal(other, FamilyOf(t.kind), /*strict=*/false, &ko)) {
      *is_null = true;
      return Status::Ok();
    }
    *c = a_is_temporal ? Order(kt, ko) : Order(ko, kt);
    return Status::Ok();
  }

 public:
  // Reads a non-temporal value as a date/time of `family`, as MySQL does
  // when comparing one with a temporal: strings are parsed, numbers read as
  // YYYYMMDD[hhmmss] or hhmmss. False if it is none.
  static bool AsTemporal(const Datum& d, Family family, bool strict, int64_t* key) {
    bool is_time = family == Family::kTime;
    switch (FamilyOf(d.kind)) {
      case Family::kText:
      case Family::kBinary:
        if (d.readings != nullptr) {
          *key = is_time ? d.readings->time : d.readings->datetime;
          return is_time ? d.readings->time_ok : d.readings->datetime_ok;
        }
        return is_time ? ParseTime(d.s, key) : ParseDateTime(d.s, strict, key);
      case Family::kInteger: {
        bool negative = (d.kind == ValueKind::kInt || d.kind == ValueKind::kYear) && d.i < 0;
        uint64_t magnitude = d.kind == ValueKind::kInt || d.kind == ValueKind::kYear
                                 ? (negative ? 0 - static_cast<uint64_t>(d.i) : static_cast<uint64_t>(d.i))
                                 : d.u;
        if (is_time) {
          return NumberToTime(negative, magnitude, 0, key);
        }
        return !negative && NumberToDateTime(magnitude, 0, key);
      }
      case Family::kDecimal: {
        uint64_t magnitude = 0;
        if (!d.dec.IntegerPartMagnitude(&magnitude)) {
          return false;
        }
        if (is_time) {
          return NumberToTime(d.dec.negative(), magnitude, d.dec.FractionMicros(), key);
        }
        return !d.dec.negative() && NumberToDateTime(magnitude, d.dec.FractionMicros(), key);
      }
      case Family::kDouble: {
        double v = std::fabs(d.d);
        if (!std::isfinite(v) || v >= 1e19) {
          return false;
        }
        auto whole = static_cast<uint64_t>(v);
        auto micros = static_cast<uint32_t>(std::min(999999.0, std::round((v - static_cast<double>(whole)) * 1e6)));
        if (is_time) {
          return NumberToTime(d.d < 0, whole, micros, key);
        }
        return d.d >= 0 && NumberToDateTime(whole, micros, key);
      }
      default:
        return false;
    }
  }

 private:
  // ---- arithmetic ------------------------------------------------------------

  // A value as an operand of arithmetic: strings become doubles (MySQL
  // computes '1.5' + 1 in double), ENUM/SET their index/bitmask.
  Status ArithmeticNum(const Node& n, const Datum& d, Num* out) const {
    switch (FamilyOf(d.kind)) {
      case Family::kInteger:
      case Family::kDecimal:
      case Family::kDouble:
        *out = ComparisonNum(d);
        return Status::Ok();
      case Family::kText:
      case Family::kBinary:
        if (d.members != nullptr) {
          *out = ComparisonNum(d);
        } else {
          *out = Num::Dbl(d.readings != nullptr ? d.readings->number.d : ReadNumber(d.s).d);
        }
        return Status::Ok();
      case Family::kDateTime:
      case Family::kTime:
        return Error(n, "arithmetic on a {} value is not supported (compare it with a date or time literal instead)",
                     KindName(d.kind));
      case Family::kNull:
        break;
    }
    return Error(n, "internal: arithmetic on NULL");
  }

  Status IntegerResult(const Node& n, i128 v, Datum* out) const {
    if (v >= INT64_MIN && v <= INT64_MAX) {
      *out = Datum::Int(static_cast<int64_t>(v));
    } else if (v > 0 && v <= static_cast<i128>(UINT64_MAX)) {
      *out = Datum::UInt(static_cast<uint64_t>(v));
    } else {
      return Error(n, "BIGINT value is out of range");
    }
    return Status::Ok();
  }

  Status DecimalIntegerResult(const Node& n, const Decimal& q, Datum* out) const {
    int64_t i = 0;
    uint64_t u = 0;
    if (q.TruncateToInt64(&i)) {
      *out = Datum::Int(i);
    } else if (q.TruncateToUInt64(&u)) {
      *out = Datum::UInt(u);
    } else {
      return Error(n, "BIGINT value is out of range");
    }
    return Status::Ok();
  }

  Status DoubleResult(const Node& n, double v, Datum* out) const {
    if (!std::isfinite(v)) {
      return Error(n, "DOUBLE value is out of range");
    }
    *out = Datum::Double(v);
    return Status::Ok();
  }

  Status EvalArithmetic(const Node& n, Datum* out) {
    Datum a;
    Datum b;
    RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &a));
    RETURN_IF_ERROR(Eval(p_.Arg(n, 1), &b));
    if (a.is_null() || b.is_null()) {
      *out = Datum();
      return Status::Ok();
    }
    Num x;
    Num y;
    RETURN_IF_ERROR(ArithmeticNum(n, a, &x));
    RETURN_IF_ERROR(ArithmeticNum(n, b, &y));
    using K = Num::Kind;
    // Division by zero is NULL in MySQL (without ERROR_FOR_DIVISION_BY_ZERO
    // in strict mode, which concerns writes, not WHERE clauses).
    bool divides = n.op == FilterOp::kDiv || n.op == FilterOp::kIntDiv || n.op == FilterOp::kMod;

    if (x.kind == K::kDouble || y.kind == K::kDouble) {
      double l = x.AsDouble();
      double r = y.AsDouble();
      if (divides && r == 0) {
        *out = Datum();
        return Status::Ok();
      }
      switch (n.op) {
        case FilterOp::kAdd:
          return DoubleResult(n, l + r, out);
        case FilterOp::kSub:
          return DoubleResult(n, l - r, out);
        case FilterOp::kMul:
          return DoubleResult(n, l * r, out);
        case FilterOp::kDiv:
          return DoubleResult(n, l / r, out);
        case FilterOp::kMod:
          return DoubleResult(n, std::fmod(l, r), out);
        default: {
          double q = std::trunc(l / r);
          if (!(q >= -9223372036854775808.0 && q < 18446744073709551616.0)) {
            return Error(n, "BIGINT value is out of range");
          }
          return IntegerResult(
              n, q < 0 ? static_cast<i128>(static_cast<int64_t>(q)) : static_cast<i128>(static_cast<uint64_t>(q)), out);
        }
      }
    }

    // Integers divided with / give an exact decimal (7 / 2 = 3.5000), as in MySQL.
    if (x.kind == K::kDecimal || y.kind == K::kDecimal || n.op == FilterOp::kDiv) {
      Decimal l = x.AsDecimal();
      Decimal r = y.AsDecimal();
      if (divides && r.is_zero()) {
        *out = Datum();
        return Status::Ok();
      }
      Decimal result;
      bool ok = false;
      switch (n.op) {
        case FilterOp::kAdd:
          ok = Decimal::Add(l, r, &result);
          break;
        case FilterOp::kSub:
          ok = Decimal::Sub(l, r, &result);
          break;
        case FilterOp::kMul:
          ok = Decimal::Mul(l, r, &result);
          break;
        case FilterOp::kDiv:
          ok = Decimal::Div(l, r, &result);
          break;
        case FilterOp::kMod:
          ok = Decimal::Mod(l, r, &result);
          break;
        default:
          if (!Decimal::IntDiv(l, r, &result)) {
            return Error(n, "DECIMAL value is out of range");
          }
          return DecimalIntegerResult(n, result, out);
      }
      if (!ok) {
        return Error(n, "DECIMAL value is out of range");
      }
      *out = Datum::OfDecimal(result);
      return Status::Ok();
    }

    i128 l = x.AsI128();
    i128 r = y.AsI128();
    if (divides && r == 0) {
      *out = Datum();
      return Status::Ok();
    }
    i128 v = 0;
    switch (n.op) {
      case FilterOp::kAdd:
        v = l + r;
        break;  // |l|, |r| < 2^64: no i128 overflow
      case FilterOp::kSub:
        v = l - r;
        break;
      case FilterOp::kMul:
        if (__builtin_mul_overflow(l, r, &v)) {
          return Error(n, "BIGINT value is out of range");
        }
        break;
      case FilterOp::kIntDiv:
        v = l / r;
        break;  // truncates toward zero, like DIV
      default:
        v = l % r;
        break;  // takes the dividend's sign, like MOD
    }
    return IntegerResult(n, v, out);
  }

  Status EvalNegate(const Node& n, Datum* out) {
    Datum a;
    RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &a));
    if (a.is_null()) {
      *out = Datum();
      return Status::Ok();
    }
    Num x;
    RETURN_IF_ERROR(ArithmeticNum(n, a, &x));
    switch (x.kind) {
      case Num::Kind::kDouble:
        *out = Datum::Double(-x.d);
        return Status::Ok();
      case Num::Kind::kDecimal:
        *out = Datum::OfDecimal(x.dec.Negated());
        return Status::Ok();
      default:
        return IntegerResult(n, -x.AsI128(), out);
    }
  }

  // ---- strings and functions -------------------------------------------------

  // The value as text: strings as they are, numbers formatted like MySQL
  // (into the scratch arena).
  std::string_view AsString(const Datum& d) {
    char buf[Decimal::kMaxTextSize];
    size_t len = 0;
    switch (d.kind) {
      case ValueKind::kInt:
      case ValueKind::kYear:
        len = static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, d.i).ptr - buf);
        break;
      case ValueKind::kUInt:
      case ValueKind::kBit:
        len = static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, d.u).ptr - buf);
        break;
      case ValueKind::kDouble:
        len = static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, d.d).ptr - buf);
        break;
      case ValueKind::kFloat:  // shortest text that reads back as the same float: 0.1, not 0.10000000149011612
        len = static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, static_cast<float>(d.d)).ptr - buf);
        break;
      case ValueKind::kDecimal:
        if (!d.s.empty()) {
          return d.s;
        }
        len = d.dec.Format(buf);
        break;
      default:
        return d.s;
    }
    char* p = scratch_.Allocate(len);
    std::copy(buf, buf + len, p);
    return {p, len};
  }

  static int64_t ClampToInt64(const Num& x) {
    switch (x.kind) {
      case Num::Kind::kInt:
        return x.i;
      case Num::Kind::kUInt:
        return x.u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(x.u);
      case Num::Kind::kDecimal:
      case Num::Kind::kDouble: {
        double v = std::round(x.AsDouble());
        if (v >= 9.2e18) {
          return INT64_MAX;
        }
        if (v <= -9.2e18) {
          return INT64_MIN;
        }
        return static_cast<int64_t>(v);
      }
    }
    return 0;
  }

  Status EvalFunction(const Node& n, Datum* out) {
    switch (n.function) {
      case FilterFunction::kCoalesce:
      case FilterFunction::kIfNull:
        // The first non-NULL argument; later ones are not evaluated.
        for (uint32_t k = 0; k < n.arg_count; ++k) {
          RETURN_IF_ERROR(Eval(p_.Arg(n, k), out));
          if (!out->is_null()) {
            return Status::Ok();
          }
        }
        return Status::Ok();
      case FilterFunction::kConcat:
        return EvalConcat(n, out);
      default:
        break;
    }
    Datum a;
    RETURN_IF_ERROR(Eval(p_.Arg(n, 0), &a));
    if (a.is_null()) {
      *out = Datum();
      return Status::Ok();
    }
    switch (n.function) {
      case FilterFunction::kLower:
      case FilterFunction::kUpper: {
        // MySQL leaves binary strings alone: they have no letter case.
        if (FamilyOf(a.kind) == Family::kBinary) {
          *out = a;
          return Status::Ok();
        }
        // The charset's case mapping (É -> é), not only ASCII's; the
        // result keeps the argument's collation.
        std::string_view s = AsString(a);
        char* p = scratch_.Allocate(2 * s.size());
        size_t len = CaseMapUtf8(s, n.function == FilterFunction::kLower, p);
        const Collation* collation = a.collation;
        *out = Datum::Str(ValueKind::kText, {p, len});
        out->collation = collation;
        return Status::Ok();
      }
      case FilterFunction::kLength:
        *out = Datum::Int(static_cast<int64_t>(AsString(a).size()));
        return Status::Ok();
      case FilterFunction::kCharLength: {
        std::string_view s = AsString(a);
        bool binary = FamilyOf(a.kind) == Family::kBinary;
        *out = Datum::Int(static_cast<int64_t>(binary ? s.size() : Utf8Length(s)));
        return Status::Ok();
      }
      case FilterFunction::kAbs: {
        Num x;
        RETURN_IF_ERROR(ArithmeticNum(n, a, &x));
        switch (x.kind) {
          case Num::Kind::kDouble:
            *out = Datum::Double(std::fabs(x.d));
            return Status::Ok();
          case Num::Kind::kDecimal:
            *out = Datum::OfDecimal(x.dec.Abs());
            return Status::Ok();
          default: {
            i128 v = x.AsI128();
            return IntegerResult(n, v < 0 ? -v : v, out);
          }
        }
      }
      case FilterFunction::kSubstring:
        return EvalSubstring(n, a, out);
      default:
        break;
    }
    return Error(n, "unknown function");
  }

  Status EvalConcat(const Node& n, Datum* out) {
    // Two passes so that the result is allocated once: texts first (a
    // number's text lives in the scratch arena, which never moves).
    constexpr uint32_t kInline = 16;
    std::string_view inline_parts[kInline];
    std::vector<std::string_view> many;
    std::string_view* parts = inline_parts;
    if (n.arg_count > kInline) {
      many.resize(n.arg_count);
      parts = many.data();
    }
    size_t total = 0;
    bool binary = false;
    const Collation* collation = nullptr;
    for (uint32_t k = 0; k < n.arg_count; ++k) {
      Datum a;
      RETURN_IF_ERROR(Eval(p_.Arg(n, k), &a));
      if (a.is_null()) {  // CONCAT with a NULL is NULL
        *out = Datum();
        return Status::Ok();
      }
      binary = binary || FamilyOf(a.kind) == Family::kBinary;
      if (collation == nullptr) collation = a.collation;
      parts[k] = AsString(a);
      total += parts[k].size();
    }
    char* p = scratch_.Allocate(total);
    size_t at = 0;
    for (uint32_t k = 0; k < n.arg_count; ++k) {
      std::copy(parts[k].begin(), parts[k].end(), p + at);
      at += parts[k].size();
    }
    *out = Datum::Str(binary ? ValueKind::kBytes : ValueKind::kText, {p, total});
    out->collation = binary ? nullptr : collation;
    return Status::Ok();
  }

  // SUBSTRING(s, pos[, len]) in characters (bytes for binary strings): pos
  // counts from 1, or from the end when negative; pos 0 or len < 1 give ''.
  Status EvalSubstring(const Node& n, const Datum& a, Datum* out) {
    Datum pos_d;
    RETURN_IF_ERROR(Eval(p_.Arg(n, 1), &pos_d));
    Datum len_d = Datum::Int(INT64_MAX);
    if (n.arg_count > 2) {
      RETURN_IF_ERROR(Eval(p_.Arg(n, 2), &len_d));
    }
    if (pos_d.is_null() || len_d.is_null()) {
      *out = Datum();
      return Status::Ok();
    }
    Num pos_n;
    Num len_n;
    RETURN_IF_ERROR(ArithmeticNum(n, pos_d, &pos_n));
    RETURN_IF_ERROR(ArithmeticNum(n, len_d, &len_n));
    int64_t pos = ClampToInt64(pos_n);
    int64_t len = ClampToInt64(len_n);
    bool binary = FamilyOf(a.kind) == Family::kBinary;
    std::string_view s = AsString(a);
    ValueKind kind = binary ? a.kind : ValueKind::kText;
    auto chars = static_cast<int64_t>(binary ? s.size() : Utf8Length(s));
    int64_t start = pos > 0 ? pos - 1 : chars + pos;
    if (pos == 0 || len < 1 || start < 0 || start >= chars) {
      *out = Datum::Str(kind, {});
      out->collation = a.collation;
      return Status::Ok();
    }
    int64_t count = std::min(len, chars - start);
    // Character offsets to byte offsets.
    size_t begin = 0;
    if (binary) {
      begin = static_cast<size_t>(start);
    } else {
      for (int64_t k = 0; k < start; ++k) {
        begin += Utf8CharBytes(s, begin);
      }
    }
    size_t end = begin;
    if (binary) {
      end = begin + static_cast<size_t>(count);
    } else {
      for (int64_t k = 0; k < count; ++k) {
        end += Utf8CharBytes(s, end);
      }
    }
    *out = Datum::Str(kind, s.substr(begin, end - begin));
    out->collation = a.collation;
    return Status::Ok();
  }

  const FilterProgram& p_;
  const std::vector<Value>* row_;  // null while folding constants at bind time
  Scratch scratch_;
};

// ---- binding -----------------------------------------------------------------

std::string QuotedTable(const TableSchema& schema) { return fmt::format("\"{}\".\"{}\"", schema.db, schema.table); }

class Binder {
 public:
  Binder(const FilterExpr& root, const TableSchema& schema, FilterProgram* p) : root_(root), schema_(schema), p_(p) {}

  Result<uint32_t> Build(const FilterExpr& e) {
    Node node;
    node.op = e.op();
    node.function = e.function();
    // Spans index the shared source text of the tree (see FilterExpr::text).
    node.begin = static_cast<uint32_t>(e.text().data() - root_.text().data());
    node.end = node.begin + static_cast<uint32_t>(e.text().size());

    if (e.op() == FilterOp::kLiteral) {
      RETURN_IF_ERROR(LiteralDatum(e, &node.constant));
      return Add(node);
    }
    if (e.op() == FilterOp::kColumn) {
      return BuildColumn(e, node);
    }

    // AND and OR chains become one node with all their operands.
    std::vector<const FilterExpr*> operands;
    if (e.op() == FilterOp::kAnd || e.op() == FilterOp::kOr) {
      Flatten(e, e.op(), &operands);
    } else {
      for (const auto& a : e.args()) {
        operands.push_back(a.get());
      }
    }
    std::vector<uint32_t> children;
    bool constant = true;
    for (const FilterExpr* a : operands) {
      ASSIGN_OR_RETURN(uint32_t child, Build(*a));
      children.push_back(child);
      constant = constant && p_->nodes[child].op == FilterOp::kLiteral;
    }
    node.first_arg = static_cast<uint32_t>(p_->args.size());
    node.arg_count = static_cast<uint32_t>(children.size());
    p_->args.insert(p_->args.end(), children.begin(), children.end());
    uint32_t index = Add(node);

    RETURN_IF_ERROR(CheckTemporalLiterals(index));
    if (e.op() == FilterOp::kLike || e.op() == FilterOp::kNotLike) {
      RETURN_IF_ERROR(BindEscape(index));
    }
    if (constant) {
      RETURN_IF_ERROR(Fold(index));
    }
    return index;
  }

 private:
  static void Flatten(const FilterExpr& e, FilterOp op, std::vector<const FilterExpr*>* out) {
    for (const auto& a : e.args()) {
      if (a->op() == op) {
        Flatten(*a, op, out);
      } else {
        out->push_back(a.get());
      }
    }
  }

  uint32_t Add(const Node& node) {
    p_->nodes.push_back(node);
    return static_cast<uint32_t>(p_->nodes.size() - 1);
  }

  Status BindError(const Node& n, std::string message) const {
    return Status::Invalid("where: {} (at column {} of the filter)", message, ColumnOf(n.begin));
  }

  uint32_t ColumnOf(uint32_t offset) const {
    uint32_t column = 1;
    for (uint32_t k = 0; k < offset && k < p_->source.size(); ++k) {
      if ((static_cast<unsigned char>(p_->source[k]) & 0xC0) != 0x80) {
        ++column;
      }
    }
    return column;
  }

  Result<uint32_t> BuildColumn(const FilterExpr& e, Node node) {
    const std::string& name = e.column();
    size_t found = schema_.columns.size();
    for (size_t k = 0; k < schema_.columns.size(); ++k) {
      if (EqualsIgnoreCase(schema_.columns[k].name, name)) {
        found = k;
        break;
      }
    }
    if (found == schema_.columns.size()) {
      return BindError(node,
                       fmt::format("unknown column `{}` in table {}{}", name, QuotedTable(schema_),
                                   schema_.names_known ? ""
                                                       : " (its column names are unknown: enable "
                                                         "binlog_row_metadata=FULL or information_schema access)"));
    }
    node.column = static_cast<uint32_t>(found);
    const ColumnMeta& meta = schema_.columns[found];
    if (!meta.enum_values.empty()) {
      p_->members.push_back(meta.enum_values);
      node.members = &p_->members.back();
    }
    if (meta.charset != Charset::kBinary) {
      node.collation = Collation::ForId(meta.collation);
      if (node.collation == nullptr) {
        node.collation = &Collation::Default();
        if (meta.collation != 0 || meta.charset != Charset::kUnknown) {
          p_->unknown_collations.push_back(fmt::format("`{}` (collation id {})", meta.name, meta.collation));
        }
      }
    }
    auto it = std::lower_bound(p_->columns.begin(), p_->columns.end(), node.column);
    if (it == p_->columns.end() || *it != node.column) {
      size_t at = static_cast<size_t>(it - p_->columns.begin());
      p_->columns.insert(it, node.column);
      p_->column_names.insert(p_->column_names.begin() + static_cast<std::ptrdiff_t>(at), meta.name);
    }
    return Add(node);
  }

  Status LiteralDatum(const FilterExpr& e, Datum* out) {
    const FilterLiteral& lit = e.literal();
    const std::string& t = lit.text;
    switch (lit.kind) {
      case FilterLiteral::Kind::kNull:
        *out = Datum();
        return Status::Ok();
      case FilterLiteral::Kind::kTrue:
        *out = Datum::Int(1);
        return Status::Ok();
      case FilterLiteral::Kind::kFalse:
        *out = Datum::Int(0);
        return Status::Ok();
      case FilterLiteral::Kind::kInteger: {
        int64_t i = 0;
        uint64_t u = 0;
        if (std::from_chars(t.data(), t.data() + t.size(), i).ec == std::errc()) {
          *out = Datum::Int(i);
          return Status::Ok();
        }
        if (std::from_chars(t.data(), t.data() + t.size(), u).ec == std::errc()) {
          *out = Datum::UInt(u);
          return Status::Ok();
        }
        break;
      }
      case FilterLiteral::Kind::kDecimal: {
        Decimal d;
        if (!Decimal::Parse(t, &d)) {
          break;
        }
        *out = Datum::OfDecimal(d);
        out->s = Own(t);  // keeps the literal's own scale for LIKE and CONCAT: 19.90 stays "19.90"
        return Status::Ok();
      }
      case FilterLiteral::Kind::kDouble: {
        double d = 0;
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
        if (ec == std::errc::result_out_of_range) {
          return Status::Invalid("where: number {} is out of the DOUBLE range (at column {} of the filter)", t,
                                 e.position());
        }
        if (ec != std::errc() || ptr != t.data() + t.size()) {
          break;
        }
        *out = Datum::Double(d);
        return Status::Ok();
      }
      case FilterLiteral::Kind::kString:
        *out = StringConstant(ValueKind::kText, t);
        return Status::Ok();
    }
    return Status::Invalid("where: malformed number {} (at column {} of the filter)", t, e.position());
  }

  std::string_view Own(std::string_view s) {
    p_->strings.emplace_back(s);
    return p_->strings.back();
  }

  // A string constant owned by the program, with its readings.
  Datum StringConstant(ValueKind kind, std::string_view s) {
    Datum d = Datum::Str(kind, Own(s));
    StringReadings r;
    r.number = ReadNumber(d.s);
    r.datetime_ok = ParseDateTime(d.s, /*strict=*/true, &r.datetime);
    r.time_ok = ParseTime(d.s, &r.time);
    p_->readings.push_back(r);
    d.readings = &p_->readings.back();
    return d;
  }

  // Evaluates a node whose operands are all constants, once, and makes it a
  // constant: `amount > 10 * 1.5` compares with 15.0 per row.
  Status Fold(uint32_t index) {
    Evaluator ev(*p_, nullptr);
    Datum d;
    Status st = ev.Eval(index, &d);
    if (!st.ok()) {
      return BindError(p_->nodes[index], st.message());
    }
    if (!d.is_null() && (IsString(FamilyOf(d.kind)) || IsTemporal(FamilyOf(d.kind)))) {
      // The result may live in the scratch arena: the program keeps a copy.
      d = IsString(FamilyOf(d.kind)) ? StringConstant(d.kind, d.s) : Datum::Str(d.kind, Own(d.s));
    } else if (d.kind == ValueKind::kDecimal && !d.s.empty()) {
      d.s = Own(d.s);
    }
    Node& n = p_->nodes[index];
    n.op = FilterOp::kLiteral;
    n.arg_count = 0;
    n.constant = d;
    return Status::Ok();
  }

  // LIKE's ESCAPE must be one constant character; without one it is '\'.
  Status BindEscape(uint32_t index) {
    Node& n = p_->nodes[index];
    if (n.arg_count < 3) {
      n.escape = "\\";
      return Status::Ok();
    }
    const Node& e = p_->nodes[p_->Arg(n, 2)];
    if (e.op != FilterOp::kLiteral || !IsString(FamilyOf(e.constant.kind)) ||
        (!e.constant.s.empty() && Utf8CharBytes(e.constant.s, 0) != e.constant.s.size())) {
      return BindError(e, fmt::format("ESCAPE takes one constant character, not {}", p_->Text(e)));
    }
    n.escape = e.constant.s;  // empty: no escape character
    return Status::Ok();
  }

  // A literal compared with a DATE/DATETIME/TIMESTAMP/TIME column must read
  // as one: '2024-13-01' or 20241301 is a typo that MySQL would silently
  // turn into a NULL comparison, dropping every row.
  Status CheckTemporalLiterals(uint32_t index) {
    const Node& n = p_->nodes[index];
    auto check = [&](uint32_t column_node, uint32_t other_node) -> Status {
      const Node& c = p_->nodes[column_node];
      const Node& o = p_->nodes[other_node];
      if (c.op != FilterOp::kColumn || o.op != FilterOp::kLiteral || o.constant.is_null()) {
        return Status::Ok();
      }
      std::string_view type_name;
      Family family = TemporalFamilyOfColumn(schema_.columns[c.column], &type_name);
      if (family == Family::kNull || IsTemporal(FamilyOf(o.constant.kind))) {
        return Status::Ok();
      }
      int64_t key = 0;
      if (Evaluator::AsTemporal(o.constant, family, /*strict=*/true, &key)) {
        return Status::Ok();
      }
      return BindError(o, fmt::format("{} is not a valid {} to compare with column `{}`", p_->Text(o), type_name,
                                      schema_.columns[c.column].name));
    };
    switch (n.op) {
      case FilterOp::kEq:
      case FilterOp::kNullSafeEq:
      case FilterOp::kNe:
      case FilterOp::kLt:
      case FilterOp::kLe:
      case FilterOp::kGt:
      case FilterOp::kGe:
        RETURN_IF_ERROR(check(p_->Arg(n, 0), p_->Arg(n, 1)));
        return check(p_->Arg(n, 1), p_->Arg(n, 0));
      case FilterOp::kIn:
      case FilterOp::kNotIn:
      case FilterOp::kBetween:
      case FilterOp::kNotBetween:
        for (uint32_t k = 1; k < n.arg_count; ++k) {
          RETURN_IF_ERROR(check(p_->Arg(n, 0), p_->Arg(n, k)));
        }
        return Status::Ok();
      default:
        return Status::Ok();
    }
  }

  const FilterExpr& root_;
  const TableSchema& schema_;
  FilterProgram* p_;
};

}  // namespace

std::string_view BoundFilter::text() const { return program_->source; }

const std::vector<uint32_t>& BoundFilter::column_indexes() const { return program_->columns; }

const std::vector<std::string>& BoundFilter::unknown_collations() const { return program_->unknown_collations; }

Result<BoundFilter> BindFilter(const FilterExpr& expr, const TableSchema& schema) {
  auto program = std::make_shared<FilterProgram>();
  program->source = std::string(expr.text());
  program->table = QuotedTable(schema);
  Binder binder(expr, schema, program.get());
  ASSIGN_OR_RETURN(program->root, binder.Build(expr));
  return BoundFilter(std::move(program));
}

Result<bool> Matches(const BoundFilter& f, const std::vector<Value>& row) {
  const FilterProgram& p = *f.program_;
  // Every referenced column must be in the image, whatever the row's values:
  // a filter that errs only on some rows would surface a MINIMAL row image
  // late and at random.
  for (size_t k = 0; k < p.columns.size(); ++k) {
    uint32_t index = p.columns[k];
    if (index >= row.size()) {
      return Status::Error(StatusCode::kSchemaMismatch,
                           "where: {}: the row image has {} columns, but the filter reads column `{}` (number {})",
                           p.table, row.size(), p.column_names[k], index + 1);
    }
    if (row[index].kind == ValueKind::kAbsent) {
      return Status::Error(StatusCode::kNotSupported,
                           "where: {}: column `{}` is not in the row image; the filter needs binlog_row_image=FULL",
                           p.table, p.column_names[k]);
    }
  }
  Evaluator ev(p, &row);
  Datum d;
  Status st = ev.Eval(p.root, &d);
  if (!st.ok()) {
    return st.WithContext(fmt::format("where: {}", p.table));
  }
  return ev.Truth(d) == Tri::kTrue;
}

}  // namespace sluice::transform
