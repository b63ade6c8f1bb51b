// ParseFilter: a hand-written lexer and recursive-descent parser following
// the expression grammar of MySQL's sql_yacc.yy (expr / bool_pri /
// predicate / bit_expr / simple_expr), reduced to what a row filter needs.

#include <algorithm>
#include <charconv>
#include <limits>

#include "transform/filter_decimal.h"
#include "transform/filter_text.h"
#include "transform/row_filter.h"

namespace sluice::transform {
namespace {

// Parentheses, NOT and unary operators nest the parser's recursion; the
// tree height bounds the recursion of binding and evaluation. Both limits
// are far beyond any hand-written filter and keep a hostile or generated
// one from exhausting a thread's stack.
constexpr int kMaxNesting = 200;
constexpr uint32_t kMaxDepth = 1000;

enum class Tok : uint8_t {
  kEnd,
  kInteger,
  kDecimal,
  kDouble,
  kString,
  kIdent,
  kQuotedIdent,
  kLParen,
  kRParen,
  kComma,
  kEq,
  kNullSafeEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kOrOr,
  kAndAnd,
  kBang,
};

struct Token {
  Tok kind = Tok::kEnd;
  uint32_t begin = 0;
  uint32_t end = 0;
  std::string value;  // unescaped string, or identifier name
};

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;  // MySQL allows any non-ASCII character
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Words that cannot be bare column names (backquote such a column).
constexpr std::string_view kReserved[] = {"AND",   "OR", "XOR",     "NOT",  "IS",     "NULL", "TRUE",
                                          "FALSE", "IN", "BETWEEN", "LIKE", "ESCAPE", "DIV",  "MOD"};

bool IsReserved(std::string_view word) {
  return std::any_of(std::begin(kReserved), std::end(kReserved),
                     [&](std::string_view k) { return EqualsIgnoreCase(word, k); });
}

struct FunctionInfo {
  std::string_view name;
  FilterFunction function;
  size_t min_args;
  size_t max_args;  // SIZE_MAX: variadic
};
constexpr FunctionInfo kFunctions[] = {
    {"LOWER", FilterFunction::kLower, 1, 1},
    {"LCASE", FilterFunction::kLower, 1, 1},
    {"UPPER", FilterFunction::kUpper, 1, 1},
    {"UCASE", FilterFunction::kUpper, 1, 1},
    {"LENGTH", FilterFunction::kLength, 1, 1},
    {"OCTET_LENGTH", FilterFunction::kLength, 1, 1},
    {"CHAR_LENGTH", FilterFunction::kCharLength, 1, 1},
    {"CHARACTER_LENGTH", FilterFunction::kCharLength, 1, 1},
    {"COALESCE", FilterFunction::kCoalesce, 1, SIZE_MAX},
    {"IFNULL", FilterFunction::kIfNull, 2, 2},
    {"ABS", FilterFunction::kAbs, 1, 1},
    {"CONCAT", FilterFunction::kConcat, 1, SIZE_MAX},
    {"SUBSTRING", FilterFunction::kSubstring, 2, 3},
    {"SUBSTR", FilterFunction::kSubstring, 2, 3},
};

std::string_view FunctionName(FilterFunction f) {
  for (const auto& info : kFunctions) {
    if (info.function == f) {
      return info.name;
    }
  }
  return "?";
}

// 1-based column, in characters, of byte offset `offset`.
uint32_t ColumnOf(std::string_view text, uint32_t offset) {
  uint32_t column = 1;
  for (uint32_t i = 0; i < offset && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return column;
}

std::string_view OpSymbol(FilterOp op) {
  switch (op) {
    case FilterOp::kOr:
      return "OR";
    case FilterOp::kXor:
      return "XOR";
    case FilterOp::kAnd:
      return "AND";
    case FilterOp::kEq:
      return "=";
    case FilterOp::kNullSafeEq:
      return "<=>";
    case FilterOp::kNe:
      return "<>";
    case FilterOp::kLt:
      return "<";
    case FilterOp::kLe:
      return "<=";
    case FilterOp::kGt:
      return ">";
    case FilterOp::kGe:
      return ">=";
    case FilterOp::kAdd:
      return "+";
    case FilterOp::kSub:
      return "-";
    case FilterOp::kMul:
      return "*";
    case FilterOp::kDiv:
      return "/";
    case FilterOp::kIntDiv:
      return "DIV";
    case FilterOp::kMod:
      return "%";
    default:
      return "?";
  }
}

void AppendQuotedString(std::string& out, std::string_view s) {
  out += '\'';
  for (char c : s) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  out += '\'';
}

void AppendColumnName(std::string& out, std::string_view name) {
  bool plain =
      !name.empty() && IsIdentStart(name[0]) && !IsReserved(name) && std::all_of(name.begin(), name.end(), IsIdentChar);
  if (plain) {
    out += name;
    return;
  }
  out += '`';
  for (char c : name) {
    if (c == '`') {
      out += '`';
    }
    out += c;
  }
  out += '`';
}

}  // namespace

class FilterParser {
 public:
  using Node = std::unique_ptr<FilterExpr>;

  explicit FilterParser(std::string_view text) : source_(std::make_shared<const std::string>(text)), text_(*source_) {}

  Result<std::unique_ptr<const FilterExpr>> Parse() {
    if (text_.size() > std::numeric_limits<uint32_t>::max() / 2) {
      return Status::Invalid("where: the filter is too long ({} bytes)", text_.size());
    }
    RETURN_IF_ERROR(Lex());
    if (Peek().kind == Tok::kEnd) {
      return Status::Invalid("where: the filter is empty");
    }
    ASSIGN_OR_RETURN(Node root, ParseExpr());
    if (Peek().kind != Tok::kEnd) {
      return Unexpected("an operator or the end of the filter");
    }
    return std::unique_ptr<const FilterExpr>(std::move(root));
  }

  static void AppendTo(const FilterExpr& e, std::string& out);

 private:
  // ---- lexer ---------------------------------------------------------------

  Status Lex() {
    size_t i = 0;
    while (true) {
      while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t' || text_[i] == '\n' || text_[i] == '\r')) {
        ++i;
      }
      Token t;
      t.begin = static_cast<uint32_t>(i);
      if (i == text_.size()) {
        t.end = t.begin;
        tokens_.push_back(std::move(t));
        return Status::Ok();
      }
      char c = text_[i];
      auto two = [&](char next) { return i + 1 < text_.size() && text_[i + 1] == next; };
      if (IsDigit(c) || (c == '.' && i + 1 < text_.size() && IsDigit(text_[i + 1]))) {
        RETURN_IF_ERROR(LexNumber(&i, &t));
      } else if (c == '\'' || c == '"') {
        RETURN_IF_ERROR(LexString(&i, &t));
      } else if (c == '`') {
        RETURN_IF_ERROR(LexQuotedIdent(&i, &t));
      } else if (IsIdentStart(c)) {
        while (i < text_.size() && IsIdentChar(text_[i])) {
          ++i;
        }
        t.kind = Tok::kIdent;
        t.value = std::string(text_.substr(t.begin, i - t.begin));
      } else if (c == '<' && two('=') && i + 2 < text_.size() && text_[i + 2] == '>') {
        t.kind = Tok::kNullSafeEq;
        i += 3;
      } else if (c == '<' && two('=')) {
        t.kind = Tok::kLe;
        i += 2;
      } else if ((c == '<' && two('>')) || (c == '!' && two('='))) {
        t.kind = Tok::kNe;
        i += 2;
      } else if (c == '>' && two('=')) {
        t.kind = Tok::kGe;
        i += 2;
      } else if (c == '|' && two('|')) {
        t.kind = Tok::kOrOr;
        i += 2;
      } else if (c == '&' && two('&')) {
        t.kind = Tok::kAndAnd;
        i += 2;
      } else {
        static constexpr std::pair<char, Tok> kSingle[] = {
            {'(', Tok::kLParen}, {')', Tok::kRParen}, {',', Tok::kComma},   {'=', Tok::kEq},
            {'<', Tok::kLt},     {'>', Tok::kGt},     {'+', Tok::kPlus},    {'-', Tok::kMinus},
            {'*', Tok::kStar},   {'/', Tok::kSlash},  {'%', Tok::kPercent}, {'!', Tok::kBang}};
        auto it = std::find_if(std::begin(kSingle), std::end(kSingle), [&](const auto& p) { return p.first == c; });
        if (it == std::end(kSingle)) {
          size_t len = Utf8CharBytes(text_, i);
          std::string_view what = text_.substr(i, len);
          if (c == '|' || c == '&' || c == '^' || c == '~') {
            return Status::Invalid("where: unsupported operator \"{}\" at column {} (bit operators are not supported)",
                                   what, ColumnOf(text_, t.begin));
          }
          return Status::Invalid("where: unexpected character \"{}\" at column {}", what, ColumnOf(text_, t.begin));
        }
        t.kind = it->second;
        ++i;
      }
      t.end = static_cast<uint32_t>(i);
      tokens_.push_back(std::move(t));
    }
  }

  Status LexNumber(size_t* pos, Token* t) {
    size_t i = *pos;
    while (i < text_.size() && IsDigit(text_[i])) {
      ++i;
    }
    t->kind = Tok::kInteger;
    if (i < text_.size() && text_[i] == '.') {
      t->kind = Tok::kDecimal;
      ++i;
      while (i < text_.size() && IsDigit(text_[i])) {
        ++i;
      }
    }
    if (i < text_.size() && (text_[i] == 'e' || text_[i] == 'E')) {
      size_t e = i + 1;
      if (e < text_.size() && (text_[e] == '+' || text_[e] == '-')) {
        ++e;
      }
      if (e < text_.size() && IsDigit(text_[e])) {
        while (e < text_.size() && IsDigit(text_[e])) {
          ++e;
        }
        t->kind = Tok::kDouble;
        i = e;
      }
    }
    if (i < text_.size() && (IsIdentChar(text_[i]) || text_[i] == '.')) {
      // "12abc", "0x1F", "1.2.3", "1e": MySQL would read some of these as
      // identifiers or hex literals; a filter rejects them all clearly.
      size_t end = i;
      while (end < text_.size() && (IsIdentChar(text_[end]) || text_[end] == '.')) {
        ++end;
      }
      return Status::Invalid("where: malformed number \"{}\" at column {}", text_.substr(*pos, end - *pos),
                             ColumnOf(text_, t->begin));
    }
    t->value = std::string(text_.substr(*pos, i - *pos));
    *pos = i;
    return Status::Ok();
  }

  // '...' or "...": a doubled quote is one quote; backslash escapes as in
  // MySQL, except that \% and \_ keep their backslash so that LIKE sees an
  // escaped wildcard.
  Status LexString(size_t* pos, Token* t) {
    char quote = text_[*pos];
    size_t i = *pos + 1;
    std::string value;
    while (true) {
      if (i >= text_.size()) {
        return Status::Invalid("where: unterminated string starting at column {}", ColumnOf(text_, t->begin));
      }
      char c = text_[i];
      if (c == quote) {
        if (i + 1 < text_.size() && text_[i + 1] == quote) {
          value += quote;
          i += 2;
          continue;
        }
        ++i;
        break;
      }
      if (c == '\\' && i + 1 < text_.size()) {
        char e = text_[i + 1];
        switch (e) {
          case '0':
            value += '\0';
            break;
          case 'b':
            value += '\b';
            break;
          case 'n':
            value += '\n';
            break;
          case 'r':
            value += '\r';
            break;
          case 't':
            value += '\t';
            break;
          case 'Z':
            value += '\x1A';
            break;
          case '%':
          case '_':
            value += '\\';
            value += e;
            break;
          default:
            value += e;
            break;  // \\ \' \" and any other character: itself
        }
        i += 2;
        continue;
      }
      value += c;
      ++i;
    }
    t->kind = Tok::kString;
    t->value = std::move(value);
    *pos = i;
    return Status::Ok();
  }

  Status LexQuotedIdent(size_t* pos, Token* t) {
    size_t i = *pos + 1;
    std::string name;
    while (true) {
      if (i >= text_.size()) {
        return Status::Invalid("where: unterminated `quoted name` starting at column {}", ColumnOf(text_, t->begin));
      }
      if (text_[i] == '`') {
        if (i + 1 < text_.size() && text_[i + 1] == '`') {
          name += '`';
          i += 2;
          continue;
        }
        ++i;
        break;
      }
      name += text_[i++];
    }
    if (name.empty()) {
      return Status::Invalid("where: empty `` name at column {}", ColumnOf(text_, t->begin));
    }
    t->kind = Tok::kQuotedIdent;
    t->value = std::move(name);
    *pos = i;
    return Status::Ok();
  }

  // ---- token access --------------------------------------------------------

  const Token& Peek(size_t ahead = 0) const { return tokens_[std::min(next_ + ahead, tokens_.size() - 1)]; }
  const Token& Take() {
    const Token& t = tokens_[next_];
    if (next_ + 1 < tokens_.size()) {
      ++next_;
    }
    return t;
  }
  bool IsKeyword(const Token& t, std::string_view word) const {
    return t.kind == Tok::kIdent && EqualsIgnoreCase(t.value, word);
  }
  bool TakeKeyword(std::string_view word) {
    if (!IsKeyword(Peek(), word)) {
      return false;
    }
    Take();
    return true;
  }
  bool TakeIf(Tok kind) {
    if (Peek().kind != kind) {
      return false;
    }
    Take();
    return true;
  }

  Status Unexpected(std::string_view expected) const {
    const Token& t = Peek();
    if (t.kind == Tok::kEnd) {
      return Status::Invalid("where: unexpected end of the filter at column {} (expected {})", ColumnOf(text_, t.begin),
                             expected);
    }
    std::string_view raw = text_.substr(t.begin, t.end - t.begin);
    if (raw.size() > 40) {
      raw = raw.substr(0, 37);
    }
    return Status::Invalid("where: unexpected token \"{}{}\" at column {} (expected {})", raw,
                           t.end - t.begin > 40 ? "..." : "", ColumnOf(text_, t.begin), expected);
  }

  Status Expect(Tok kind, std::string_view what) {
    if (!TakeIf(kind)) {
      return Unexpected(what);
    }
    return Status::Ok();
  }

  // ---- tree building -------------------------------------------------------

  Result<Node> Make(FilterOp op, uint32_t begin, std::vector<Node> args) {
    auto n = std::make_unique<FilterExpr>();
    n->op_ = op;
    n->source_ = source_;
    n->begin_ = begin;
    n->end_ = begin;
    for (auto& a : args) {
      n->depth_ = std::max(n->depth_, a->depth_ + 1);
      n->end_ = std::max(n->end_, a->end_);
      n->args_.push_back(std::move(a));
    }
    if (n->depth_ > kMaxDepth) {
      return Status::Invalid("where: the filter is nested too deeply (more than {} levels) at column {}", kMaxDepth,
                             ColumnOf(text_, begin));
    }
    return n;
  }
  Result<Node> Binary(FilterOp op, Node l, Node r) {
    uint32_t begin = l->begin_;
    std::vector<Node> args;
    args.push_back(std::move(l));
    args.push_back(std::move(r));
    return Make(op, begin, std::move(args));
  }
  Result<Node> Unary(FilterOp op, uint32_t begin, Node a) {
    std::vector<Node> args;
    args.push_back(std::move(a));
    return Make(op, begin, std::move(args));
  }
  // Marks the end of n as the end of the last token taken (a closing
  // parenthesis or a keyword such as NULL in "x IS NULL").
  void EndAtPrevious(FilterExpr* n) const { n->end_ = std::max(n->end_, tokens_[next_ == 0 ? 0 : next_ - 1].end); }

  struct NestingGuard {
    explicit NestingGuard(int* d) : depth(d) { ++*depth; }
    ~NestingGuard() { --*depth; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;
    int* depth;
  };
  Status CheckNesting() const {
    if (nesting_ > kMaxNesting) {
      return Status::Invalid("where: the filter is nested too deeply (more than {} levels) at column {}", kMaxNesting,
                             ColumnOf(text_, Peek().begin));
    }
    return Status::Ok();
  }

  // ---- grammar -------------------------------------------------------------

  // expr: OR / || (lowest), XOR, AND / &&, NOT.
  Result<Node> ParseExpr() {
    NestingGuard guard(&nesting_);
    RETURN_IF_ERROR(CheckNesting());
    ASSIGN_OR_RETURN(Node l, ParseXor());
    while (TakeKeyword("OR") || TakeIf(Tok::kOrOr)) {
      ASSIGN_OR_RETURN(Node r, ParseXor());
      ASSIGN_OR_RETURN(l, Binary(FilterOp::kOr, std::move(l), std::move(r)));
    }
    return l;
  }

  Result<Node> ParseXor() {
    ASSIGN_OR_RETURN(Node l, ParseAnd());
    while (TakeKeyword("XOR")) {
      ASSIGN_OR_RETURN(Node r, ParseAnd());
      ASSIGN_OR_RETURN(l, Binary(FilterOp::kXor, std::move(l), std::move(r)));
    }
    return l;
  }

  Result<Node> ParseAnd() {
    ASSIGN_OR_RETURN(Node l, ParseNot());
    while (TakeKeyword("AND") || TakeIf(Tok::kAndAnd)) {
      ASSIGN_OR_RETURN(Node r, ParseNot());
      ASSIGN_OR_RETURN(l, Binary(FilterOp::kAnd, std::move(l), std::move(r)));
    }
    return l;
  }

  Result<Node> ParseNot() {
    if (IsKeyword(Peek(), "NOT")) {
      uint32_t begin = Take().begin;
      NestingGuard guard(&nesting_);
      RETURN_IF_ERROR(CheckNesting());
      ASSIGN_OR_RETURN(Node operand, ParseNot());
      return Unary(FilterOp::kNot, begin, std::move(operand));
    }
    return ParseBoolPrimary();
  }

  // bool_pri: comparisons and IS tests, left-associative.
  Result<Node> ParseBoolPrimary() {
    ASSIGN_OR_RETURN(Node l, ParsePredicate());
    while (true) {
      static constexpr std::pair<Tok, FilterOp> kComparisons[] = {
          {Tok::kEq, FilterOp::kEq}, {Tok::kNullSafeEq, FilterOp::kNullSafeEq},
          {Tok::kNe, FilterOp::kNe}, {Tok::kLt, FilterOp::kLt},
          {Tok::kLe, FilterOp::kLe}, {Tok::kGt, FilterOp::kGt},
          {Tok::kGe, FilterOp::kGe}};
      Tok kind = Peek().kind;
      auto it = std::find_if(std::begin(kComparisons), std::end(kComparisons),
                             [&](const auto& p) { return p.first == kind; });
      if (it != std::end(kComparisons)) {
        Take();
        ASSIGN_OR_RETURN(Node r, ParsePredicate());
        ASSIGN_OR_RETURN(l, Binary(it->second, std::move(l), std::move(r)));
        continue;
      }
      if (TakeKeyword("IS")) {
        bool negated = TakeKeyword("NOT");
        FilterOp op;
        if (TakeKeyword("NULL") || TakeKeyword("UNKNOWN")) {
          op = negated ? FilterOp::kIsNotNull : FilterOp::kIsNull;
        } else if (TakeKeyword("TRUE")) {
          op = negated ? FilterOp::kIsNotTrue : FilterOp::kIsTrue;
        } else if (TakeKeyword("FALSE")) {
          op = negated ? FilterOp::kIsNotFalse : FilterOp::kIsFalse;
        } else {
          return Unexpected("NULL, TRUE, FALSE or UNKNOWN after IS");
        }
        uint32_t begin = l->begin_;
        ASSIGN_OR_RETURN(l, Unary(op, begin, std::move(l)));
        EndAtPrevious(l.get());
        continue;
      }
      return l;
    }
  }

  // predicate: [NOT] IN / BETWEEN / LIKE after an arithmetic operand.
  Result<Node> ParsePredicate() {
    ASSIGN_OR_RETURN(Node subject, ParseArithmetic());
    bool negated = false;
    if (IsKeyword(Peek(), "NOT")) {
      const Token& next = Peek(1);
      if (!IsKeyword(next, "IN") && !IsKeyword(next, "BETWEEN") && !IsKeyword(next, "LIKE")) {
        Take();
        return Unexpected("IN, BETWEEN or LIKE after NOT");
      }
      Take();
      negated = true;
    }
    uint32_t begin = subject->begin_;
    std::vector<Node> args;
    args.push_back(std::move(subject));
    if (TakeKeyword("IN")) {
      RETURN_IF_ERROR(Expect(Tok::kLParen, "\"(\" after IN"));
      do {
        ASSIGN_OR_RETURN(Node item, ParseExpr());
        args.push_back(std::move(item));
      } while (TakeIf(Tok::kComma));
      RETURN_IF_ERROR(Expect(Tok::kRParen, "\",\" or \")\" in the IN list"));
      ASSIGN_OR_RETURN(Node n, Make(negated ? FilterOp::kNotIn : FilterOp::kIn, begin, std::move(args)));
      EndAtPrevious(n.get());
      return n;
    }
    if (TakeKeyword("BETWEEN")) {
      ASSIGN_OR_RETURN(Node low, ParseArithmetic());
      if (!TakeKeyword("AND")) {
        return Unexpected("AND in BETWEEN ... AND ...");
      }
      ASSIGN_OR_RETURN(Node high, ParsePredicate());
      args.push_back(std::move(low));
      args.push_back(std::move(high));
      return Make(negated ? FilterOp::kNotBetween : FilterOp::kBetween, begin, std::move(args));
    }
    if (TakeKeyword("LIKE")) {
      ASSIGN_OR_RETURN(Node pattern, ParseArithmetic());
      args.push_back(std::move(pattern));
      if (TakeKeyword("ESCAPE")) {
        ASSIGN_OR_RETURN(Node escape, ParseUnary());
        args.push_back(std::move(escape));
      }
      return Make(negated ? FilterOp::kNotLike : FilterOp::kLike, begin, std::move(args));
    }
    return std::move(args[0]);
  }

  // bit_expr, restricted to arithmetic: + - (lower) and * / DIV % MOD.
  Result<Node> ParseArithmetic() {
    ASSIGN_OR_RETURN(Node l, ParseTerm());
    while (true) {
      FilterOp op;
      if (TakeIf(Tok::kPlus)) {
        op = FilterOp::kAdd;
      } else if (TakeIf(Tok::kMinus)) {
        op = FilterOp::kSub;
      } else {
        return l;
      }
      ASSIGN_OR_RETURN(Node r, ParseTerm());
      ASSIGN_OR_RETURN(l, Binary(op, std::move(l), std::move(r)));
    }
  }

  Result<Node> ParseTerm() {
    ASSIGN_OR_RETURN(Node l, ParseUnary());
    while (true) {
      FilterOp op;
      if (TakeIf(Tok::kStar)) {
        op = FilterOp::kMul;
      } else if (TakeIf(Tok::kSlash)) {
        op = FilterOp::kDiv;
      } else if (TakeKeyword("DIV")) {
        op = FilterOp::kIntDiv;
      } else if (TakeIf(Tok::kPercent) || TakeKeyword("MOD")) {
        op = FilterOp::kMod;
      } else {
        return l;
      }
      ASSIGN_OR_RETURN(Node r, ParseUnary());
      ASSIGN_OR_RETURN(l, Binary(op, std::move(l), std::move(r)));
    }
  }

  Result<Node> ParseUnary() {
    Tok kind = Peek().kind;
    if (kind == Tok::kMinus || kind == Tok::kPlus || kind == Tok::kBang) {
      uint32_t begin = Take().begin;
      NestingGuard guard(&nesting_);
      RETURN_IF_ERROR(CheckNesting());
      ASSIGN_OR_RETURN(Node operand, ParseUnary());
      if (kind == Tok::kPlus) {
        operand->begin_ = begin;  // unary plus is a no-op, as in MySQL
        return operand;
      }
      return Unary(kind == Tok::kMinus ? FilterOp::kNeg : FilterOp::kNot, begin, std::move(operand));
    }
    return ParsePrimary();
  }

  Result<Node> Literal(FilterLiteral::Kind kind, std::string text, uint32_t begin) {
    ASSIGN_OR_RETURN(Node n, Make(FilterOp::kLiteral, begin, {}));
    n->literal_.kind = kind;
    n->literal_.text = std::move(text);
    EndAtPrevious(n.get());
    return n;
  }

  Result<Node> ParsePrimary() {
    const Token& t = Peek();
    uint32_t begin = t.begin;
    switch (t.kind) {
      case Tok::kInteger: {
        std::string digits = Take().value;
        uint64_t u;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u);
        (void)ptr;
        // Like MySQL: an integer literal beyond BIGINT UNSIGNED is a DECIMAL,
        // and one beyond DECIMAL's digits a DOUBLE.
        Decimal unused;
        FilterLiteral::Kind kind = ec == std::errc()                 ? FilterLiteral::Kind::kInteger
                                   : Decimal::Parse(digits, &unused) ? FilterLiteral::Kind::kDecimal
                                                                     : FilterLiteral::Kind::kDouble;
        return Literal(kind, std::move(digits), begin);
      }
      case Tok::kDecimal: {
        std::string digits = Take().value;
        // Beyond DECIMAL's digits, a DOUBLE (as in MySQL).
        Decimal unused;
        FilterLiteral::Kind kind =
            Decimal::Parse(digits, &unused) ? FilterLiteral::Kind::kDecimal : FilterLiteral::Kind::kDouble;
        return Literal(kind, std::move(digits), begin);
      }
      case Tok::kDouble:
        return Literal(FilterLiteral::Kind::kDouble, Take().value, begin);
      case Tok::kString: {
        std::string value = Take().value;
        while (Peek().kind == Tok::kString) {
          value += Take().value;
        }  // 'a' 'b' is 'ab', as in MySQL
        return Literal(FilterLiteral::Kind::kString, std::move(value), begin);
      }
      case Tok::kLParen: {
        Take();
        ASSIGN_OR_RETURN(Node inner, ParseExpr());
        RETURN_IF_ERROR(Expect(Tok::kRParen, "\")\""));
        // The parentheses belong to the expression's text: "(a + b)".
        inner->begin_ = begin;
        EndAtPrevious(inner.get());
        return inner;
      }
      case Tok::kQuotedIdent: {
        ASSIGN_OR_RETURN(Node n, Make(FilterOp::kColumn, begin, {}));
        n->column_ = Take().value;
        EndAtPrevious(n.get());
        return n;
      }
      case Tok::kIdent: {
        for (auto [word, kind] :
             {std::pair{"NULL", FilterLiteral::Kind::kNull}, std::pair{"TRUE", FilterLiteral::Kind::kTrue},
              std::pair{"FALSE", FilterLiteral::Kind::kFalse}}) {
          if (IsKeyword(t, word)) {
            Take();
            return Literal(kind, word, begin);
          }
        }
        if (Peek(1).kind == Tok::kLParen) {
          return ParseFunction();
        }
        if (IsReserved(t.value)) {
          return Unexpected("an operand");
        }
        ASSIGN_OR_RETURN(Node n, Make(FilterOp::kColumn, begin, {}));
        n->column_ = Take().value;
        EndAtPrevious(n.get());
        return n;
      }
      default:
        return Unexpected("an operand");
    }
  }

  Result<Node> ParseFunction() {
    const Token& name = Peek();
    uint32_t begin = name.begin;
    const FunctionInfo* info = nullptr;
    for (const auto& f : kFunctions) {
      if (EqualsIgnoreCase(name.value, f.name)) {
        info = &f;
      }
    }
    if (info == nullptr) {
      if (IsReserved(name.value)) {
        return Unexpected("an operand");
      }
      return Status::Invalid(
          "where: unknown function \"{}\" at column {} (supported: LOWER, UPPER, LENGTH, CHAR_LENGTH, COALESCE, "
          "IFNULL, ABS, CONCAT, SUBSTRING)",
          name.value, ColumnOf(text_, begin));
    }
    Take();
    Take();  // "("
    NestingGuard guard(&nesting_);
    RETURN_IF_ERROR(CheckNesting());
    std::vector<Node> args;
    if (Peek().kind != Tok::kRParen) {
      do {
        ASSIGN_OR_RETURN(Node a, ParseExpr());
        args.push_back(std::move(a));
      } while (TakeIf(Tok::kComma));
    }
    RETURN_IF_ERROR(Expect(Tok::kRParen, "\",\" or \")\" in the argument list"));
    if (args.size() < info->min_args || args.size() > info->max_args) {
      std::string takes = info->max_args == SIZE_MAX         ? fmt::format("at least {}", info->min_args)
                          : info->min_args == info->max_args ? fmt::format("{}", info->min_args)
                                                             : fmt::format("{} or {}", info->min_args, info->max_args);
      size_t shown = info->max_args == SIZE_MAX ? info->min_args : info->max_args;
      return Status::Invalid("where: {}() takes {} argument{}, got {} at column {}", info->name, takes,
                             shown == 1 ? "" : "s", args.size(), ColumnOf(text_, begin));
    }
    ASSIGN_OR_RETURN(Node n, Make(FilterOp::kFunction, begin, std::move(args)));
    n->function_ = info->function;
    EndAtPrevious(n.get());
    return n;
  }

  std::shared_ptr<const std::string> source_;
  std::string_view text_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
  int nesting_ = 0;
};

void FilterParser::AppendTo(const FilterExpr& e, std::string& out) {
  const auto& a = e.args_;
  switch (e.op_) {
    case FilterOp::kLiteral:
      if (e.literal_.kind == FilterLiteral::Kind::kString) {
        AppendQuotedString(out, e.literal_.text);
      } else {
        out += e.literal_.text;
      }
      return;
    case FilterOp::kColumn:
      AppendColumnName(out, e.column_);
      return;
    case FilterOp::kFunction:
      out += FunctionName(e.function_);
      out += '(';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i > 0) {
          out += ", ";
        }
        AppendTo(*a[i], out);
      }
      out += ')';
      return;
    case FilterOp::kNot:
    case FilterOp::kNeg:
      out += e.op_ == FilterOp::kNot ? "(NOT " : "(-";
      AppendTo(*a[0], out);
      out += ')';
      return;
    case FilterOp::kIsNull:
    case FilterOp::kIsNotNull:
    case FilterOp::kIsTrue:
    case FilterOp::kIsNotTrue:
    case FilterOp::kIsFalse:
    case FilterOp::kIsNotFalse: {
      static constexpr std::string_view kSuffix[] = {" IS NULL)",     " IS NOT NULL)", " IS TRUE)",
                                                     " IS NOT TRUE)", " IS FALSE)",    " IS NOT FALSE)"};
      out += '(';
      AppendTo(*a[0], out);
      out += kSuffix[static_cast<int>(e.op_) - static_cast<int>(FilterOp::kIsNull)];
      return;
    }
    case FilterOp::kIn:
    case FilterOp::kNotIn:
      out += '(';
      AppendTo(*a[0], out);
      out += e.op_ == FilterOp::kIn ? " IN (" : " NOT IN (";
      for (size_t i = 1; i < a.size(); ++i) {
        if (i > 1) {
          out += ", ";
        }
        AppendTo(*a[i], out);
      }
      out += "))";
      return;
    case FilterOp::kBetween:
    case FilterOp::kNotBetween:
      out += '(';
      AppendTo(*a[0], out);
      out += e.op_ == FilterOp::kBetween ? " BETWEEN " : " NOT BETWEEN ";
      AppendTo(*a[1], out);
      out += " AND ";
      AppendTo(*a[2], out);
      out += ')';
      return;
    case FilterOp::kLike:
    case FilterOp::kNotLike:
      out += '(';
      AppendTo(*a[0], out);
      out += e.op_ == FilterOp::kLike ? " LIKE " : " NOT LIKE ";
      AppendTo(*a[1], out);
      if (a.size() > 2) {
        out += " ESCAPE ";
        AppendTo(*a[2], out);
      }
      out += ')';
      return;
    default:
      out += '(';
      AppendTo(*a[0], out);
      out += ' ';
      out += OpSymbol(e.op_);
      out += ' ';
      AppendTo(*a[1], out);
      out += ')';
      return;
  }
}

std::string_view FilterExpr::text() const {
  if (!source_) {
    return {};
  }
  return std::string_view(*source_).substr(begin_, end_ - begin_);
}

uint32_t FilterExpr::position() const { return source_ ? ColumnOf(*source_, begin_) : 1; }

std::string FilterExpr::ToString() const {
  std::string out;
  FilterParser::AppendTo(*this, out);
  return out;
}

Result<std::unique_ptr<const FilterExpr>> ParseFilter(std::string_view text) { return FilterParser(text).Parse(); }

std::vector<std::string> ReferencedColumns(const FilterExpr& expr) {
  std::vector<std::string> names;
  std::vector<const FilterExpr*> stack{&expr};
  // Depth-first, left to right: the order in which they are written.
  while (!stack.empty()) {
    const FilterExpr* e = stack.back();
    stack.pop_back();
    if (e->op() == FilterOp::kColumn && std::none_of(names.begin(), names.end(), [&](const std::string& n) {
          return EqualsIgnoreCase(n, e->column());
        })) {
      names.push_back(e->column());
    }
    for (auto it = e->args().rbegin(); it != e->args().rend(); ++it) {
      stack.push_back(it->get());
    }
  }
  return names;
}

}  // namespace sluice::transform
