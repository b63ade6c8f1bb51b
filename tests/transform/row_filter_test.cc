#include "transform/row_filter.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace sluice::transform {
namespace {

// MYSQL_TYPE_* codes, as TABLE_MAP carries them.
constexpr uint8_t kLong = 3, kFloat = 4, kDouble = 5, kTimestamp2 = 17, kLongLong = 8, kDate = 10, kYear = 13,
                  kVarchar = 15, kBit = 16, kDateTime2 = 18, kTime2 = 19, kJson = 245, kNewDecimal = 246, kEnum = 247,
                  kSet = 248, kBlob = 252, kString = 254;

ColumnMeta Col(std::string name, uint8_t type, uint8_t real_type = 0) {
  ColumnMeta c;
  c.name = std::move(name);
  c.type = type;
  c.real_type = real_type;
  return c;
}

// shop.orders: one column of each kind the filter distinguishes.
enum Column : size_t {
  kId,        // BIGINT UNSIGNED
  kStatus,    // VARCHAR
  kAmount,    // DECIMAL(12,2)
  kCreated,   // DATETIME(6)
  kDay,       // DATE
  kDuration,  // TIME
  kNote,      // VARCHAR, often NULL
  kData,      // VARBINARY
  kKind,      // ENUM('new','paid','deleted')
  kFlags,     // SET('a','b','c')
  kPrice,     // DOUBLE
  kQty,       // INT
  kYearCol,   // YEAR
  kBits,      // BIT(8)
  kDoc,       // JSON
  kSeen,      // TIMESTAMP
  kRatio,     // FLOAT
  kT,         // INT holding 1 (TRUE)
  kF,         // INT holding 0 (FALSE)
  kN,         // INT holding NULL
  kColumnCount,
};

TableSchema Orders() {
  TableSchema t;
  t.db = "shop";
  t.table = "orders";
  t.names_known = true;
  t.columns = {Col("id", kLongLong),
               Col("status", kVarchar),
               Col("amount", kNewDecimal),
               Col("created", kDateTime2),
               Col("day", kDate),
               Col("duration", kTime2),
               Col("note", kVarchar),
               Col("data", kBlob),
               Col("kind", kString, kEnum),
               Col("flags", kString, kSet),
               Col("price", kDouble),
               Col("qty", kLong),
               Col("year", kYear),
               Col("bits", kBit),
               Col("doc", kJson),
               Col("seen", kTimestamp2),
               Col("ratio", kFloat),
               Col("t", kLong),
               Col("f", kLong),
               Col("n", kLong)};
  t.columns[kId].is_unsigned = true;
  t.columns[kKind].enum_values = {"new", "paid", "deleted"};
  t.columns[kFlags].enum_values = {"a", "b", "c"};
  t.primary_key = {0};
  return t;
}

std::vector<Value> Row() {
  std::vector<Value> r(kColumnCount);
  r[kId] = Value::UInt(7);
  r[kStatus] = Value::Str(ValueKind::kText, "paid");
  r[kAmount] = Value::Str(ValueKind::kDecimal, "19.90");
  r[kCreated] = Value::Str(ValueKind::kDateTime, "2024-01-31 12:34:56.000000");
  r[kDay] = Value::Str(ValueKind::kDate, "2024-01-31");
  r[kDuration] = Value::Str(ValueKind::kTime, "01:30:00");
  r[kNote] = Value::Null();
  r[kData] = Value::Str(ValueKind::kBytes, "AbC");
  r[kKind] = Value::Str(ValueKind::kEnum, "paid");
  r[kFlags] = Value::Str(ValueKind::kSet, "a,c");
  r[kPrice] = Value::Double(2.5);
  r[kQty] = Value::Int(3);
  r[kYearCol] = Value::Year(2024);
  r[kBits] = Value::Bit(5);
  r[kDoc] = Value::Str(ValueKind::kJson, R"({"a":1})");
  r[kSeen] = Value::Str(ValueKind::kTimestamp, "2024-01-31 23:00:00");
  r[kRatio] = Value::Float(0.5f);
  r[kT] = Value::Int(1);
  r[kF] = Value::Int(0);
  r[kN] = Value::Null();
  return r;
}

// "true", "false", or the error message of whichever step failed.
std::string Outcome(std::string_view filter, const std::vector<Value>& row = Row(),
                    const TableSchema& schema = Orders()) {
  auto parsed = ParseFilter(filter);
  if (!parsed.ok()) {
    return parsed.status().message();
  }
  auto bound = BindFilter(**parsed, schema);
  if (!bound.ok()) {
    return bound.status().message();
  }
  auto m = Matches(*bound, row);
  if (!m.ok()) {
    return m.status().message();
  }
  return *m ? "true" : "false";
}

// The SQL truth value of an expression: "TRUE", "FALSE" or "NULL".
std::string Truth(const std::string& expr, const std::vector<Value>& row = Row()) {
  std::string is_true = Outcome("(" + expr + ") IS TRUE", row);
  std::string is_false = Outcome("(" + expr + ") IS FALSE", row);
  if (is_true != "true" && is_true != "false") {
    return is_true;
  }
  if (is_true == "true") {
    return "TRUE";
  }
  return is_false == "true" ? "FALSE" : "NULL";
}

std::string Canonical(std::string_view filter) {
  auto parsed = ParseFilter(filter);
  if (!parsed.ok()) {
    return parsed.status().message();
  }
  return (*parsed)->ToString();
}

std::string ParseError(std::string_view filter) {
  auto parsed = ParseFilter(filter);
  return parsed.ok() ? "parsed" : parsed.status().message();
}

// ---- parsing -------------------------------------------------------------------

TEST(RowFilterParseTest, PrecedenceFollowsMysql) {
  EXPECT_EQ(Canonical("a OR b AND c"), "(a OR (b AND c))");
  EXPECT_EQ(Canonical("a AND b OR c"), "((a AND b) OR c)");
  EXPECT_EQ(Canonical("a || b && c"), "(a OR (b AND c))");
  EXPECT_EQ(Canonical("a XOR b OR c"), "((a XOR b) OR c)");
  EXPECT_EQ(Canonical("a AND b XOR c AND d"), "((a AND b) XOR (c AND d))");
  EXPECT_EQ(Canonical("NOT a = b"), "(NOT (a = b))");
  EXPECT_EQ(Canonical("NOT a AND b"), "((NOT a) AND b)");
  EXPECT_EQ(Canonical("!a = b"), "((NOT a) = b)");  // ! binds tighter than =, as in MySQL
  EXPECT_EQ(Canonical("a + b * c"), "(a + (b * c))");
  EXPECT_EQ(Canonical("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(Canonical("-a * b"), "((-a) * b)");
  EXPECT_EQ(Canonical("a % 3 MOD 2 DIV 1 / 4"), "((((a % 3) % 2) DIV 1) / 4)");
  EXPECT_EQ(Canonical("a = b = c"), "((a = b) = c)");
  EXPECT_EQ(Canonical("a + 1 > b * 2 AND c"), "(((a + 1) > (b * 2)) AND c)");
  EXPECT_EQ(Canonical("a BETWEEN 1 AND 2 AND b"), "((a BETWEEN 1 AND 2) AND b)");
  EXPECT_EQ(Canonical("a NOT BETWEEN b + 1 AND 5 OR c"), "((a NOT BETWEEN (b + 1) AND 5) OR c)");
  EXPECT_EQ(Canonical("a IS NOT NULL AND b IS UNKNOWN"), "((a IS NOT NULL) AND (b IS NULL))");
  EXPECT_EQ(Canonical("a = 1 IS TRUE"), "((a = 1) IS TRUE)");
  EXPECT_EQ(Canonical("NOT a IS FALSE"), "(NOT (a IS FALSE))");
  EXPECT_EQ(Canonical("a NOT IN (1, 2) OR b NOT LIKE 'x%' ESCAPE '|'"),
            "((a NOT IN (1, 2)) OR (b NOT LIKE 'x%' ESCAPE '|'))");
  EXPECT_EQ(Canonical("(a OR b) AND c"), "((a OR b) AND c)");
  EXPECT_EQ(Canonical("+a <=> - -b"), "(a <=> (-(-b)))");
  EXPECT_EQ(Canonical("a != b AND a <> c"), "((a <> b) AND (a <> c))");
}

TEST(RowFilterParseTest, LiteralsAndNames) {
  EXPECT_EQ(Canonical("`order` = 'it''s' AND `we``ird` = \"d\\\"q\""), "((order = 'it''s') AND (`we``ird` = 'd\"q'))");
  EXPECT_EQ(Canonical("a = 'x' 'y'"), "(a = 'xy')");  // adjacent strings concatenate
  EXPECT_EQ(Canonical("a LIKE 'a\\%b\\\\'"), "(a LIKE 'a\\\\%b\\\\')");
  EXPECT_EQ(Canonical("a IN (TRUE, false, NuLL, 1.50, .5, 1e3, 2E-2)"),
            "(a IN (TRUE, FALSE, NULL, 1.50, .5, 1e3, 2E-2))");
  EXPECT_EQ(Canonical("lower(a) = UCASE(b) AND substr(a, 1, 2) = ''"),
            "((LOWER(a) = UPPER(b)) AND (SUBSTRING(a, 1, 2) = ''))");
  EXPECT_EQ(Canonical("status_2 = $x"), "(status_2 = $x)");
  EXPECT_EQ(Canonical("`key` = 1"), "(key = 1)");  // not reserved here
  EXPECT_EQ(Canonical("`in` = 1"), "(`in` = 1)");  // a reserved word must stay quoted

  auto parsed = ParseFilter("id = 18446744073709551615 AND big = 99999999999999999999 AND d = 1.25");
  ASSERT_TRUE(parsed.ok());
  const FilterExpr& e = **parsed;
  ASSERT_EQ(e.op(), FilterOp::kAnd);
  const FilterExpr& first = *e.args()[0]->args()[0];
  EXPECT_EQ(first.args()[1]->literal().kind, FilterLiteral::Kind::kInteger);
  EXPECT_EQ(e.args()[0]->args()[1]->args()[1]->literal().kind, FilterLiteral::Kind::kDecimal);  // beyond BIGINT
  EXPECT_EQ(e.args()[1]->args()[1]->literal().kind, FilterLiteral::Kind::kDecimal);
  EXPECT_EQ(e.args()[1]->args()[1]->literal().text, "1.25");
}

TEST(RowFilterParseTest, CanonicalFormParsesToTheSameTree) {
  for (const char* f : {"status != 'deleted' AND amount >= 10.5", "NOT (a OR b) XOR !c IS NOT TRUE",
                        "x NOT LIKE 'it''s \\\\ 50\\%' ESCAPE '\\\\' OR y IN (1, -2, 'z')",
                        "COALESCE(a, b, 0) BETWEEN -1 AND 1 + 2 * 3", "`a b` = \"q'uote\""}) {
    std::string once = Canonical(f);
    EXPECT_EQ(Canonical(once), once) << f;
  }
}

TEST(RowFilterParseTest, TextAndPositionOfEachExpression) {
  auto parsed = ParseFilter("status != 'deleted' AND  amount >= (10.5)");
  ASSERT_TRUE(parsed.ok());
  const FilterExpr& e = **parsed;
  EXPECT_EQ(e.text(), "status != 'deleted' AND  amount >= (10.5)");
  EXPECT_EQ(e.args()[0]->text(), "status != 'deleted'");
  EXPECT_EQ(e.args()[1]->text(), "amount >= (10.5)");
  EXPECT_EQ(e.args()[1]->args()[1]->text(), "(10.5)");
  EXPECT_EQ(e.args()[1]->position(), 26u);
}

TEST(RowFilterParseTest, ErrorsNameTheTokenAndItsColumn) {
  EXPECT_EQ(ParseError("status = AND x"), "where: unexpected token \"AND\" at column 10 (expected an operand)");
  EXPECT_EQ(ParseError("amount >= 10 AND AND"), "where: unexpected token \"AND\" at column 18 (expected an operand)");
  EXPECT_EQ(ParseError("a = 1 AND"), "where: unexpected end of the filter at column 10 (expected an operand)");
  EXPECT_EQ(ParseError("(a = 1"), "where: unexpected end of the filter at column 7 (expected \")\")");
  EXPECT_EQ(ParseError("a = 1 b"),
            "where: unexpected token \"b\" at column 7 (expected an operator or the end of the filter)");
  EXPECT_EQ(ParseError("a = 'abc"), "where: unterminated string starting at column 5");
  EXPECT_EQ(ParseError("`abc = 1"), "where: unterminated `quoted name` starting at column 1");
  EXPECT_EQ(ParseError("a # 1"), "where: unexpected character \"#\" at column 3");
  EXPECT_EQ(ParseError("a & 1"), "where: unsupported operator \"&\" at column 3 (bit operators are not supported)");
  EXPECT_EQ(ParseError("a IS 5"),
            "where: unexpected token \"5\" at column 6 (expected NULL, TRUE, FALSE or UNKNOWN after IS)");
  EXPECT_EQ(ParseError("a NOT 5"),
            "where: unexpected token \"5\" at column 7 (expected IN, BETWEEN or LIKE after NOT)");
  EXPECT_EQ(ParseError("a BETWEEN 1 OR 2"),
            "where: unexpected token \"OR\" at column 13 (expected AND in BETWEEN ... AND ...)");
  EXPECT_EQ(ParseError("a IN 1"), "where: unexpected token \"1\" at column 6 (expected \"(\" after IN)");
  EXPECT_EQ(ParseError("a IN (1 2)"),
            "where: unexpected token \"2\" at column 9 (expected \",\" or \")\" in the IN list)");
  EXPECT_EQ(ParseError("12abc = 1"), "where: malformed number \"12abc\" at column 1");
  EXPECT_EQ(ParseError("a = 0x1F"), "where: malformed number \"0x1F\" at column 5");
  EXPECT_EQ(ParseError("a = 1.2.3"), "where: malformed number \"1.2.3\" at column 5");
  EXPECT_EQ(ParseError("  "), "where: the filter is empty");
  EXPECT_EQ(ParseError("and = 1"), "where: unexpected token \"and\" at column 1 (expected an operand)");
  EXPECT_EQ(ParseError("FOO(a) = 1"),
            "where: unknown function \"FOO\" at column 1 (supported: LOWER, UPPER, LENGTH, CHAR_LENGTH, COALESCE, "
            "IFNULL, ABS, CONCAT, SUBSTRING)");
  EXPECT_EQ(ParseError("x = SUBSTRING(a)"), "where: SUBSTRING() takes 2 or 3 arguments, got 1 at column 5");
  EXPECT_EQ(ParseError("LOWER(a, b)"), "where: LOWER() takes 1 argument, got 2 at column 1");
  EXPECT_EQ(ParseError("CONCAT()"), "where: CONCAT() takes at least 1 argument, got 0 at column 1");
  EXPECT_EQ(ParseError("``= 1"), "where: empty `` name at column 1");
  // Columns count characters, not bytes.
  EXPECT_EQ(ParseError("é = 'ü' AND AND"), "where: unexpected token \"AND\" at column 13 (expected an operand)");
}

TEST(RowFilterParseTest, NestingIsBounded) {
  std::string deep(300, '(');
  deep += "a";
  deep += std::string(300, ')');
  EXPECT_NE(ParseError(deep).find("nested too deeply"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 300; ++i) {
    nots += "NOT ";
  }
  EXPECT_NE(ParseError(nots + "a").find("nested too deeply"), std::string::npos);
  std::string chain = "a";
  for (int i = 0; i < 1500; ++i) {
    chain += " + a";
  }
  EXPECT_NE(ParseError(chain).find("nested too deeply"), std::string::npos);
  // Moderate nesting is fine.
  EXPECT_EQ(Outcome(std::string(50, '(') + "qty = 3" + std::string(50, ')')), "true");
}

TEST(RowFilterParseTest, ReferencedColumnsInOrderWithoutDuplicates) {
  auto parsed = ParseFilter("Status != 'x' AND (amount > 1 OR status IS NULL) AND LOWER(`note`) LIKE id");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(ReferencedColumns(**parsed), (std::vector<std::string>{"Status", "amount", "note", "id"}));
  auto constant = ParseFilter("1 = 1");
  ASSERT_TRUE(constant.ok());
  EXPECT_TRUE(ReferencedColumns(**constant).empty());
}

// ---- binding -------------------------------------------------------------------

TEST(RowFilterBindTest, ColumnsBindCaseInsensitively) {
  auto parsed = ParseFilter("STATUS = 'paid' AND `Amount` > 1 AND status <> 'x'");
  ASSERT_TRUE(parsed.ok());
  auto bound = BindFilter(**parsed, Orders());
  ASSERT_TRUE(bound.ok()) << bound.status().message();
  EXPECT_EQ(bound->column_indexes(), (std::vector<uint32_t>{kStatus, kAmount}));
  EXPECT_EQ(bound->text(), "STATUS = 'paid' AND `Amount` > 1 AND status <> 'x'");
  auto m = Matches(*bound, Row());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(*m);
}

TEST(RowFilterBindTest, UnknownColumnNamesItAndTheTable) {
  EXPECT_EQ(Outcome("stauts != 'deleted'"),
            "where: unknown column `stauts` in table \"shop\".\"orders\" (at column 1 of the filter)");
  TableSchema anonymous = Orders();
  anonymous.names_known = false;
  EXPECT_NE(Outcome("qty = 1 OR nope = 2", Row(), anonymous).find("column names are unknown"), std::string::npos);
}

TEST(RowFilterBindTest, BoundFilterOutlivesTheParsedExpression) {
  std::optional<BoundFilter> bound;
  {
    auto parsed = ParseFilter("status = CONCAT('pa', 'id') AND amount = 19.90");
    ASSERT_TRUE(parsed.ok());
    auto b = BindFilter(**parsed, Orders());
    ASSERT_TRUE(b.ok());
    bound.emplace(*b);  // a copy; the parse tree and the Result die here
  }
  auto m = Matches(*bound, Row());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE(*m);
}

TEST(RowFilterBindTest, ConstantErrorsAreReportedAtBind) {
  EXPECT_EQ(Outcome("qty = 9223372036854775807 * 3"),
            "where: BIGINT value is out of range in \"9223372036854775807 * 3\" (at column 7 of the filter)");
  EXPECT_EQ(Outcome("status LIKE 'a' ESCAPE status"),
            "where: ESCAPE takes one constant character, not status (at column 24 of the filter)");
  EXPECT_EQ(Outcome("status LIKE 'a' ESCAPE 'ab'"),
            "where: ESCAPE takes one constant character, not 'ab' (at column 24 of the filter)");
  EXPECT_EQ(Outcome("qty = 1e999"), "where: number 1e999 is out of the DOUBLE range (at column 7 of the filter)");
  EXPECT_EQ(Outcome("qty = 1 / 0 OR TRUE"), "true");  // division by zero is NULL, not an error
}

TEST(RowFilterBindTest, InvalidDateLiteralsAreReportedAtBind) {
  EXPECT_EQ(
      Outcome("created >= '2024-13-01'"),
      "where: '2024-13-01' is not a valid DATETIME to compare with column `created` (at column 12 of the filter)");
  EXPECT_EQ(Outcome("'2024-02-30' < day"),
            "where: '2024-02-30' is not a valid DATE to compare with column `day` (at column 1 of the filter)");
  EXPECT_EQ(Outcome("seen IN ('2024-01-01', 'yesterday')"),
            "where: 'yesterday' is not a valid TIMESTAMP to compare with column `seen` (at column 24 of the filter)");
  EXPECT_EQ(Outcome("duration BETWEEN '00:00' AND '25:61'"),
            "where: '25:61' is not a valid TIME to compare with column `duration` (at column 30 of the filter)");
  EXPECT_EQ(Outcome("created > 20241301"),
            "where: 20241301 is not a valid DATETIME to compare with column `created` (at column 11 of the filter)");
  EXPECT_EQ(Outcome("created < '2024-02-29'"), "true");   // a leap day is fine
  EXPECT_EQ(Outcome("created <> '0000-00-00'"), "true");  // and so is the zero date
}

// ---- row images ------------------------------------------------------------------

TEST(RowFilterMatchTest, AbsentColumnIsAnErrorNamingIt) {
  auto row = Row();
  row[kStatus] = Value::Absent();
  EXPECT_EQ(Outcome("qty = 3 OR status = 'paid'", row),
            "where: \"shop\".\"orders\": column `status` is not in the row image; the filter needs "
            "binlog_row_image=FULL");
  // Absent columns the filter does not read are fine.
  EXPECT_EQ(Outcome("qty = 3", row), "true");
}

TEST(RowFilterMatchTest, ShortRowIsAnError) {
  auto row = Row();
  row.resize(kAmount);
  EXPECT_EQ(Outcome("amount > 1", row),
            "where: \"shop\".\"orders\": the row image has 2 columns, but the filter reads column `amount` (number 3)");
}

TEST(RowFilterMatchTest, TheDesignExample) {
  auto row = Row();
  const char* filter = "status != 'deleted' AND amount >= 10.5";
  EXPECT_EQ(Outcome(filter, row), "true");
  row[kStatus] = Value::Str(ValueKind::kText, "Deleted");
  EXPECT_EQ(Outcome(filter, row), "false");
  row[kStatus] = Value::Str(ValueKind::kText, "new");
  row[kAmount] = Value::Str(ValueKind::kDecimal, "10.49");
  EXPECT_EQ(Outcome(filter, row), "false");
  row[kAmount] = Value::Str(ValueKind::kDecimal, "10.50");
  EXPECT_EQ(Outcome(filter, row), "true");
  row[kStatus] = Value::Null();  // NULL != 'deleted' is NULL: the row does not pass
  EXPECT_EQ(Outcome(filter, row), "false");
}

// ---- logic -------------------------------------------------------------------------

TEST(RowFilterLogicTest, ThreeValuedTruthTables) {
  // Literals fold at bind time; columns t/f/n (1, 0, NULL) take the per-row path.
  struct Case {
    const char* a;
    const char* b;
    const char* and_;
    const char* or_;
    const char* xor_;
  };
  const Case cases[] = {
      {"TRUE", "TRUE", "TRUE", "TRUE", "FALSE"},     {"TRUE", "FALSE", "FALSE", "TRUE", "TRUE"},
      {"TRUE", "NULL", "NULL", "TRUE", "NULL"},      {"FALSE", "TRUE", "FALSE", "TRUE", "TRUE"},
      {"FALSE", "FALSE", "FALSE", "FALSE", "FALSE"}, {"FALSE", "NULL", "FALSE", "NULL", "NULL"},
      {"NULL", "TRUE", "NULL", "TRUE", "NULL"},      {"NULL", "FALSE", "FALSE", "NULL", "NULL"},
      {"NULL", "NULL", "NULL", "NULL", "NULL"},
  };
  auto column = [](std::string_view v) { return v == "TRUE" ? "t" : v == "FALSE" ? "f" : "n"; };
  for (const auto& c : cases) {
    std::string a = c.a;
    std::string b = c.b;
    for (auto [x, y] : {std::pair{a, b}, std::pair<std::string, std::string>{column(a), column(b)}}) {
      EXPECT_EQ(Truth(x + " AND " + y), c.and_) << x << " AND " << y;
      EXPECT_EQ(Truth(x + " && " + y), c.and_) << x << " && " << y;
      EXPECT_EQ(Truth(x + " OR " + y), c.or_) << x << " OR " << y;
      EXPECT_EQ(Truth(x + " || " + y), c.or_) << x << " || " << y;
      EXPECT_EQ(Truth(x + " XOR " + y), c.xor_) << x << " XOR " << y;
    }
  }
  EXPECT_EQ(Truth("NOT TRUE"), "FALSE");
  EXPECT_EQ(Truth("NOT f"), "TRUE");
  EXPECT_EQ(Truth("NOT n"), "NULL");
  EXPECT_EQ(Truth("!t"), "FALSE");
  // Long chains flatten and still short-circuit correctly.
  EXPECT_EQ(Truth("t AND t AND n AND t"), "NULL");
  EXPECT_EQ(Truth("t AND n AND f AND t"), "FALSE");
  EXPECT_EQ(Truth("f OR n OR t"), "TRUE");
  EXPECT_EQ(Truth("f OR (n AND t) OR f"), "NULL");
}

TEST(RowFilterLogicTest, OnlyTrueLetsTheRowPass) {
  EXPECT_EQ(Outcome("n"), "false");
  EXPECT_EQ(Outcome("n = 1"), "false");
  EXPECT_EQ(Outcome("NOT (n = 1)"), "false");
  EXPECT_EQ(Outcome("t"), "true");
  EXPECT_EQ(Outcome("qty"), "true");  // non-zero numbers are TRUE
  EXPECT_EQ(Outcome("qty - 3"), "false");
  EXPECT_EQ(Outcome("amount"), "true");
  EXPECT_EQ(Outcome("'1abc'"), "true");  // strings are read as numbers
  EXPECT_EQ(Outcome("'abc'"), "false");
  EXPECT_EQ(Outcome("0.0"), "false");
  EXPECT_EQ(Outcome("kind"), "true");  // ENUM: its index (2)
}

TEST(RowFilterLogicTest, IsTests) {
  EXPECT_EQ(Truth("n IS NULL"), "TRUE");
  EXPECT_EQ(Truth("n IS UNKNOWN"), "TRUE");
  EXPECT_EQ(Truth("note IS NOT NULL"), "FALSE");
  EXPECT_EQ(Truth("status IS NOT NULL"), "TRUE");
  for (auto [v, is_true, is_false] :
       {std::tuple{"t", "TRUE", "FALSE"}, std::tuple{"f", "FALSE", "TRUE"}, std::tuple{"n", "FALSE", "FALSE"}}) {
    std::string x = v;
    EXPECT_EQ(Truth(x + " IS TRUE"), is_true) << x;
    EXPECT_EQ(Truth(x + " IS FALSE"), is_false) << x;
    EXPECT_EQ(Truth(x + " IS NOT TRUE"), std::string(is_true) == "TRUE" ? "FALSE" : "TRUE") << x;
    EXPECT_EQ(Truth(x + " IS NOT FALSE"), std::string(is_false) == "TRUE" ? "FALSE" : "TRUE") << x;
  }
  EXPECT_EQ(Truth("(n = 1) IS NULL"), "TRUE");
}

// ---- comparisons ---------------------------------------------------------------------

TEST(RowFilterCompareTest, EveryComparisonOperator) {
  struct Case {
    const char* a;
    const char* b;
    const char *eq, *ne, *lt, *le, *gt, *ge, *nse;
  };
  const Case cases[] = {
      {"qty", "3", "TRUE", "FALSE", "FALSE", "TRUE", "FALSE", "TRUE", "TRUE"},
      {"qty", "4", "FALSE", "TRUE", "TRUE", "TRUE", "FALSE", "FALSE", "FALSE"},
      {"qty", "2", "FALSE", "TRUE", "FALSE", "FALSE", "TRUE", "TRUE", "FALSE"},
      {"status", "'PAID'", "TRUE", "FALSE", "FALSE", "TRUE", "FALSE", "TRUE", "TRUE"},
      {"status", "'zebra'", "FALSE", "TRUE", "TRUE", "TRUE", "FALSE", "FALSE", "FALSE"},
      {"qty", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "FALSE"},
      {"n", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "TRUE"},
  };
  for (const auto& c : cases) {
    std::string a = c.a;
    std::string b = c.b;
    EXPECT_EQ(Truth(a + " = " + b), c.eq) << a << " = " << b;
    EXPECT_EQ(Truth(a + " != " + b), c.ne) << a << " != " << b;
    EXPECT_EQ(Truth(a + " <> " + b), c.ne) << a << " <> " << b;
    EXPECT_EQ(Truth(a + " < " + b), c.lt) << a << " < " << b;
    EXPECT_EQ(Truth(a + " <= " + b), c.le) << a << " <= " << b;
    EXPECT_EQ(Truth(a + " > " + b), c.gt) << a << " > " << b;
    EXPECT_EQ(Truth(a + " >= " + b), c.ge) << a << " >= " << b;
    EXPECT_EQ(Truth(a + " <=> " + b), c.nse) << a << " <=> " << b;
  }
}

TEST(RowFilterCompareTest, InWithNulls) {
  EXPECT_EQ(Truth("qty IN (1, 2, 3)"), "TRUE");
  EXPECT_EQ(Truth("qty IN (1, NULL, 3)"), "TRUE");
  EXPECT_EQ(Truth("qty IN (1, NULL)"), "NULL");
  EXPECT_EQ(Truth("qty IN (1, 2)"), "FALSE");
  EXPECT_EQ(Truth("qty NOT IN (1, 2)"), "TRUE");
  EXPECT_EQ(Truth("qty NOT IN (1, NULL)"), "NULL");  // the classic NOT IN trap
  EXPECT_EQ(Truth("qty NOT IN (3, NULL)"), "FALSE");
  EXPECT_EQ(Truth("n IN (1, 2)"), "NULL");
  EXPECT_EQ(Truth("n NOT IN (1, 2)"), "NULL");
  EXPECT_EQ(Truth("status IN ('new', 'PAID ')"), "TRUE");  // collation rules apply per item
  EXPECT_EQ(Truth("qty IN ('3', 4.0)"), "TRUE");
  EXPECT_EQ(Truth("amount IN (19.9, 20)"), "TRUE");
  EXPECT_EQ(Truth("qty IN (qty + 1, id - 4)"), "TRUE");  // items may be expressions
}

TEST(RowFilterCompareTest, Between) {
  EXPECT_EQ(Truth("qty BETWEEN 1 AND 3"), "TRUE");  // inclusive
  EXPECT_EQ(Truth("qty BETWEEN 3 AND 5"), "TRUE");
  EXPECT_EQ(Truth("qty BETWEEN 4 AND 5"), "FALSE");
  EXPECT_EQ(Truth("qty BETWEEN 5 AND 1"), "FALSE");  // not reordered, as in SQL
  EXPECT_EQ(Truth("qty NOT BETWEEN 4 AND 5"), "TRUE");
  EXPECT_EQ(Truth("qty BETWEEN NULL AND 5"), "NULL");
  EXPECT_EQ(Truth("qty BETWEEN NULL AND 2"), "FALSE");  // already above the upper bound
  EXPECT_EQ(Truth("qty NOT BETWEEN NULL AND 2"), "TRUE");
  EXPECT_EQ(Truth("n BETWEEN 1 AND 2"), "NULL");
  EXPECT_EQ(Truth("amount BETWEEN 19.9 AND 19.90"), "TRUE");
  EXPECT_EQ(Truth("status BETWEEN 'P' AND 'q'"), "TRUE");
  EXPECT_EQ(Truth("created BETWEEN '2024-01-31' AND '2024-02-01'"), "TRUE");
  EXPECT_EQ(Truth("day BETWEEN '2024-01-01' AND '2024-01-30 23:59:59'"), "FALSE");
}

TEST(RowFilterCompareTest, DecimalsAreExact) {
  auto row = Row();
  EXPECT_EQ(Truth("amount = 19.90", row), "TRUE");
  EXPECT_EQ(Truth("amount = 19.9", row), "TRUE");
  EXPECT_EQ(Truth("amount = 19.900000000000000000000001", row), "FALSE");
  row[kAmount] = Value::Str(ValueKind::kDecimal, "19.900");
  EXPECT_EQ(Truth("amount = 19.90", row), "TRUE");
  EXPECT_EQ(Truth("amount > 19.899999999999999999999999", row), "TRUE");
  EXPECT_EQ(Truth("0.1 + 0.2 = 0.3"), "TRUE");
  EXPECT_EQ(Truth("0.1e0 + 0.2e0 = 0.3e0"), "FALSE");  // doubles are doubles
  EXPECT_EQ(Truth("amount * 3 = 59.7"), "TRUE");
  EXPECT_EQ(Truth("amount - 19.9 = 0"), "TRUE");
  EXPECT_EQ(Truth("amount = 19.9e0"), "TRUE");  // against a double: compared as doubles, like MySQL
  EXPECT_EQ(Truth("-amount < -19.89"), "TRUE");
  // DECIMAL(65,30) values compare exactly too.
  row[kAmount] = Value::Str(ValueKind::kDecimal, "12345678901234567890123456789012345.123456789012345678901234567890");
  EXPECT_EQ(Truth("amount = 12345678901234567890123456789012345.12345678901234567890123456789", row), "TRUE");
  EXPECT_EQ(Truth("amount > 12345678901234567890123456789012345.123456789012345678901234567889", row), "TRUE");
  EXPECT_EQ(Truth("amount < 12345678901234567890123456789012346", row), "TRUE");
  row[kAmount] = Value::Str(ValueKind::kDecimal, "-0.00");
  EXPECT_EQ(Truth("amount = 0", row), "TRUE");
  row[kAmount] = Value::Str(ValueKind::kDecimal, "12,5");
  EXPECT_EQ(Outcome("amount = 1", row),
            "where: \"shop\".\"orders\": column `amount` holds a malformed DECIMAL value \"12,5\" in \"amount\"");
}

TEST(RowFilterCompareTest, DecimalArithmeticFollowsMysqlScales) {
  EXPECT_EQ(Truth("7 / 2 = 3.5"), "TRUE");               // integer / integer is an exact decimal
  EXPECT_EQ(Truth("CONCAT(7 / 2) = '3.5000'"), "TRUE");  // with scale + 4
  EXPECT_EQ(Truth("CONCAT(1 / 3) = '0.3333'"), "TRUE");
  EXPECT_EQ(Truth("CONCAT(2 / 3) = '0.6667'"), "TRUE");  // rounded half up
  EXPECT_EQ(Truth("CONCAT(-2 / 3) = '-0.6667'"), "TRUE");
  EXPECT_EQ(Truth("CONCAT(1.00 / 3) = '0.333333'"), "TRUE");
  EXPECT_EQ(Truth("CONCAT(amount * 2) = '39.80'"), "TRUE");
  EXPECT_EQ(Truth("CONCAT(amount + 0.005) = '19.905'"), "TRUE");
  EXPECT_EQ(Truth("CONCAT(19.90) = '19.90'"), "TRUE");  // a literal keeps its scale
  EXPECT_EQ(Truth("10 / 0"), "NULL");
  EXPECT_EQ(Truth("10 DIV 0"), "NULL");
  EXPECT_EQ(Truth("10 % 0"), "NULL");
  EXPECT_EQ(Truth("amount / 0.00"), "NULL");
  EXPECT_EQ(Truth("price / 0"), "NULL");
  EXPECT_EQ(Truth("7 DIV 2 = 3"), "TRUE");
  EXPECT_EQ(Truth("-7 DIV 2 = -3"), "TRUE");
  EXPECT_EQ(Truth("7.9 DIV 2 = 3"), "TRUE");
  EXPECT_EQ(Truth("-7 % 2 = -1"), "TRUE");
  EXPECT_EQ(Truth("7 MOD -2 = 1"), "TRUE");
  EXPECT_EQ(Truth("5.5 MOD 2 = 1.5"), "TRUE");
  EXPECT_EQ(Truth("price * 2 = 5"), "TRUE");
  EXPECT_EQ(Truth("price DIV 1 = 2"), "TRUE");
  EXPECT_EQ(Truth("ABS(-amount) = 19.9 AND ABS(-3) = 3 AND ABS(-price) = 2.5"), "TRUE");
}

TEST(RowFilterCompareTest, UnsignedBigint) {
  auto row = Row();
  row[kId] = Value::UInt(18446744073709551615ULL);
  EXPECT_EQ(Truth("id > 18446744073709551614", row), "TRUE");
  EXPECT_EQ(Truth("id = 18446744073709551615", row), "TRUE");
  EXPECT_EQ(Truth("id > -1", row), "TRUE");
  EXPECT_EQ(Truth("id > 9223372036854775807", row), "TRUE");
  EXPECT_EQ(Truth("id < 99999999999999999999", row), "TRUE");    // a DECIMAL literal
  EXPECT_EQ(Truth("id = '18446744073709551615'", row), "TRUE");  // clean strings compare exactly
  EXPECT_EQ(Truth("id = '18446744073709551614'", row), "FALSE");
  EXPECT_EQ(Truth("id - 1 = 18446744073709551614", row), "TRUE");
  EXPECT_EQ(Outcome("id + 1 > 0", row), "where: \"shop\".\"orders\": BIGINT value is out of range in \"id + 1\"");
  EXPECT_EQ(Outcome("id * 2 > 0", row), "where: \"shop\".\"orders\": BIGINT value is out of range in \"id * 2\"");
  EXPECT_EQ(Truth("id + 1.0 = 18446744073709551616", row), "TRUE");  // decimals go beyond
  EXPECT_EQ(Truth("9223372036854775807 + 1 = 9223372036854775808"), "TRUE");
  EXPECT_EQ(Truth("-9223372036854775808 = -9223372036854775807 - 1"), "TRUE");
  EXPECT_EQ(Truth("qty - 4 = -1"), "TRUE");
  row[kId] = Value::UInt(0);
  EXPECT_EQ(Truth("id - 1 = -1", row), "TRUE");  // exact, where MySQL would fail
  row[kQty] = Value::Int(INT64_MIN);
  EXPECT_EQ(Outcome("-qty > 0", row), "true");  // 2^63 fits BIGINT UNSIGNED
  EXPECT_EQ(Outcome("qty - 1 < 0", row), "where: \"shop\".\"orders\": BIGINT value is out of range in \"qty - 1\"");
}

TEST(RowFilterCompareTest, StringsAgainstNumbers) {
  auto row = Row();
  row[kStatus] = Value::Str(ValueKind::kText, "12abc");
  EXPECT_EQ(Truth("status = 12", row), "TRUE");
  EXPECT_EQ(Truth("status > 11.5", row), "TRUE");
  row[kStatus] = Value::Str(ValueKind::kText, "abc");
  EXPECT_EQ(Truth("status = 0", row), "TRUE");
  row[kStatus] = Value::Str(ValueKind::kText, " 42 ");
  EXPECT_EQ(Truth("status = 42", row), "TRUE");
  row[kStatus] = Value::Str(ValueKind::kText, "1e3");
  EXPECT_EQ(Truth("status = 1000", row), "TRUE");
  row[kStatus] = Value::Str(ValueKind::kText, "-0.5");
  EXPECT_EQ(Truth("status < 0", row), "TRUE");
  EXPECT_EQ(Truth("status = -0.50", row), "TRUE");
  EXPECT_EQ(Truth("qty = '003'"), "TRUE");
  EXPECT_EQ(Truth("qty = '3.0'"), "TRUE");
  EXPECT_EQ(Truth("qty < '3x'"), "FALSE");
  EXPECT_EQ(Truth("'10' > 9"), "TRUE");     // as numbers
  EXPECT_EQ(Truth("'10' > '9'"), "FALSE");  // as strings
  EXPECT_EQ(Truth("'1.5' + 1 = 2.5"), "TRUE");
  EXPECT_EQ(Truth("status + 1 = 1", row), "FALSE");  // -0.5 + 1
}

TEST(RowFilterCompareTest, TextCollationAndBinaryStrings) {
  EXPECT_EQ(Truth("status = 'PaId'"), "TRUE");
  EXPECT_EQ(Truth("status = 'paid   '"), "TRUE");  // PAD SPACE
  EXPECT_EQ(Truth("status = ' paid'"), "FALSE");
  EXPECT_EQ(Truth("'a' < 'B'"), "TRUE");
  EXPECT_EQ(Truth("'a' < '_'"), "TRUE");  // upper-case weights, like general_ci
  EXPECT_EQ(Truth("'a\\t' < 'a'"), "TRUE");
  EXPECT_EQ(Truth("data = 'AbC'"), "TRUE");
  EXPECT_EQ(Truth("data = 'abc'"), "FALSE");   // binary: case matters
  EXPECT_EQ(Truth("data = 'AbC '"), "FALSE");  // and no padding
  EXPECT_EQ(Truth("data < 'a'"), "TRUE");
  EXPECT_EQ(Truth("doc = '{\"a\":1}'"), "TRUE");
  EXPECT_EQ(Truth("doc = '{\"A\":1}'"), "FALSE");
  EXPECT_EQ(Truth("'é' = 'é  '"), "TRUE");
}

TEST(RowFilterCompareTest, EnumSetYearBitFloat) {
  EXPECT_EQ(Truth("kind = 'PAID'"), "TRUE");
  EXPECT_EQ(Truth("kind = 2"), "TRUE");  // ENUM against a number: its index
  EXPECT_EQ(Truth("kind IN ('new', 'deleted')"), "FALSE");
  EXPECT_EQ(Truth("kind > 'new'"), "TRUE");  // as strings: 'paid' > 'new'
  EXPECT_EQ(Truth("flags = 'a,c'"), "TRUE");
  EXPECT_EQ(Truth("flags = 5"), "TRUE");  // SET against a number: its bitmask
  EXPECT_EQ(Truth("year = 2024 AND year = '2024' AND year > 1999"), "TRUE");
  EXPECT_EQ(Truth("bits = 5 AND bits > 4.5 AND bits = '5'"), "TRUE");
  EXPECT_EQ(Truth("ratio = 0.5 AND ratio < 1"), "TRUE");
  auto tenth = Row();
  tenth[kRatio] = Value::Float(0.1f);
  EXPECT_EQ(Truth("ratio = 0.1", tenth), "FALSE");           // FLOAT 0.1 is not DOUBLE 0.1, as in MySQL
  EXPECT_EQ(Truth("CONCAT(ratio) = '0.1'", tenth), "TRUE");  // but prints like a float
  EXPECT_EQ(Truth("price = 2.5 AND price > 2 AND price < 2.50001"), "TRUE");
  auto row = Row();
  row[kKind] = Value::UInt(3);  // ENUM whose names were unknown at decode time
  EXPECT_EQ(Truth("kind = 3", row), "TRUE");
}

TEST(RowFilterCompareTest, DatesAndTimes) {
  auto row = Row();
  row[kCreated] = Value::Str(ValueKind::kDateTime, "2024-01-01 00:00:00");
  EXPECT_EQ(Truth("created = '2024-01-01'", row), "TRUE");  // a DATE equals midnight
  EXPECT_EQ(Truth("created >= '2024-01-01'", row), "TRUE");
  EXPECT_EQ(Truth("created > '2024-01-01'", row), "FALSE");
  EXPECT_EQ(Truth("created = '2024-1-1 0:0:0'", row), "TRUE");
  EXPECT_EQ(Truth("created = '2024/01/01'", row), "TRUE");
  EXPECT_EQ(Truth("created = '20240101'", row), "TRUE");
  EXPECT_EQ(Truth("created = '2024-01-01T00:00:00.000'", row), "TRUE");
  EXPECT_EQ(Truth("created = 20240101", row), "TRUE");  // numbers read as YYYYMMDD[hhmmss]
  EXPECT_EQ(Truth("created < 20240101000001", row), "TRUE");
  EXPECT_EQ(Truth("created < 20240101000000.5", row), "TRUE");
  row[kCreated] = Value::Str(ValueKind::kDateTime, "2023-12-31 23:59:59.999999");
  EXPECT_EQ(Truth("created >= '2024-01-01'", row), "FALSE");
  EXPECT_EQ(Truth("created > '2023-12-31 23:59:59.999998'", row), "TRUE");
  EXPECT_EQ(Truth("created < day", row), "TRUE");  // column against column
  row[kDay] = Value::Str(ValueKind::kDate, "2024-01-01");
  row[kCreated] = Value::Str(ValueKind::kDateTime, "2024-01-01 00:00:00");
  EXPECT_EQ(Truth("day = created", row), "TRUE");            // DATE against DATETIME
  EXPECT_EQ(Truth("seen > '2024-01-31 22:59:59'"), "TRUE");  // TIMESTAMP, in UTC
  EXPECT_EQ(Truth("created IN ('2024-01-31 12:34:56', '2020-01-01')"), "TRUE");
  // A string column that is not a date compares to NULL, as in MySQL.
  row[kStatus] = Value::Str(ValueKind::kText, "soon");
  EXPECT_EQ(Truth("created = status", row), "NULL");
  row[kStatus] = Value::Str(ValueKind::kText, "2024-01-01");
  EXPECT_EQ(Truth("created = status", row), "TRUE");

  EXPECT_EQ(Truth("duration = '01:30:00'"), "TRUE");
  EXPECT_EQ(Truth("duration = '1:30'"), "TRUE");
  EXPECT_EQ(Truth("duration = 13000"), "TRUE");  // hhmmss
  EXPECT_EQ(Truth("duration > '00:59:59.999'"), "TRUE");
  EXPECT_EQ(Truth("duration < '0 02:00:00'"), "TRUE");
  row[kDuration] = Value::Str(ValueKind::kTime, "-838:59:59.000000");
  EXPECT_EQ(Truth("duration < '-838:59:58'", row), "TRUE");
  EXPECT_EQ(Truth("duration < 0", row), "TRUE");
}

TEST(RowFilterCompareTest, TemporalNonsenseIsAnError) {
  EXPECT_EQ(Outcome("duration = created"),
            "where: \"shop\".\"orders\": cannot compare a TIME with a DATETIME in \"duration = created\"");
  EXPECT_EQ(Outcome("created + 1 > 0"),
            "where: \"shop\".\"orders\": arithmetic on a DATETIME value is not supported (compare it with a date or "
            "time literal instead) in \"created + 1\"");
  auto row = Row();
  row[kCreated] = Value::Str(ValueKind::kDateTime, "garbage");
  EXPECT_EQ(Outcome("created > '2024-01-01'", row),
            "where: \"shop\".\"orders\": malformed DATETIME value \"garbage\" in \"created > '2024-01-01'\"");
}

// ---- LIKE ------------------------------------------------------------------------------

TEST(RowFilterLikeTest, WildcardsCaseAndEscapes) {
  EXPECT_EQ(Truth("status LIKE 'pa%'"), "TRUE");
  EXPECT_EQ(Truth("status LIKE 'PA%'"), "TRUE");  // case-insensitive for text
  EXPECT_EQ(Truth("status LIKE '%AI%'"), "TRUE");
  EXPECT_EQ(Truth("status LIKE 'p_id'"), "TRUE");
  EXPECT_EQ(Truth("status LIKE 'p_d'"), "FALSE");
  EXPECT_EQ(Truth("status LIKE '%'"), "TRUE");
  EXPECT_EQ(Truth("status LIKE 'paid '"), "FALSE");  // no PAD SPACE in LIKE
  EXPECT_EQ(Truth("status NOT LIKE 'x%'"), "TRUE");
  EXPECT_EQ(Truth("note LIKE '%'"), "NULL");
  EXPECT_EQ(Truth("status LIKE NULL"), "NULL");
  EXPECT_EQ(Truth("'50%' LIKE '50\\%'"), "TRUE");  // \% is a literal %
  EXPECT_EQ(Truth("'500' LIKE '50\\%'"), "FALSE");
  EXPECT_EQ(Truth("'a_b' LIKE 'a\\_b'"), "TRUE");
  EXPECT_EQ(Truth("'axb' LIKE 'a\\_b'"), "FALSE");
  EXPECT_EQ(Truth("'a\\\\b' LIKE 'a\\\\\\\\b'"), "TRUE");  // a\b LIKE a\\b
  EXPECT_EQ(Truth("'50%' LIKE '50|%' ESCAPE '|'"), "TRUE");
  EXPECT_EQ(Truth("'500' LIKE '50|%' ESCAPE '|'"), "FALSE");
  EXPECT_EQ(Truth("'a\\\\b' LIKE 'a\\\\b' ESCAPE '|'"), "TRUE");  // backslash is plain with another escape
  EXPECT_EQ(Truth("'50%' LIKE '50%' ESCAPE ''"), "TRUE");         // no escape at all
  EXPECT_EQ(Truth("'héllo' LIKE 'h_llo'"), "TRUE");               // _ is one character, not one byte
  EXPECT_EQ(Truth("'日本語' LIKE '__語'"), "TRUE");
  EXPECT_EQ(Truth("data LIKE 'Ab%'"), "TRUE");
  EXPECT_EQ(Truth("data LIKE 'ab%'"), "FALSE");  // binary: case matters
  EXPECT_EQ(Truth("id LIKE '7'"), "TRUE");       // numbers as text
  EXPECT_EQ(Truth("amount LIKE '19.9_'"), "TRUE");
  EXPECT_EQ(Truth("created LIKE '2024-01-%'"), "TRUE");
  EXPECT_EQ(Truth("status LIKE CONCAT(SUBSTRING(status, 1, 2), '%')"), "TRUE");  // a per-row pattern
}

TEST(RowFilterLikeTest, PathologicalPatternsStayFast) {
  auto row = Row();
  std::string long_text(20000, 'a');
  row[kStatus] = Value::Str(ValueKind::kText, long_text);
  EXPECT_EQ(Truth("status LIKE '%a%a%a%a%a%a%a%a%b'", row), "FALSE");
  EXPECT_EQ(Truth("status LIKE '%a%a%a%a%a%a%a%a%'", row), "TRUE");
}

// ---- functions ---------------------------------------------------------------------------

TEST(RowFilterFunctionTest, StringAndNullFunctions) {
  // Concatenating a binary string makes the comparison binary, which shows the case.
  EXPECT_EQ(Truth("CONCAT(UPPER(status), data) = 'PAIDAbC'"), "TRUE");
  EXPECT_EQ(Truth("CONCAT(LCASE(status), data) = 'paidAbC'"), "TRUE");
  EXPECT_EQ(Truth("CONCAT(LOWER('ÀB'), data) = 'àbAbC'"), "TRUE");  // the charset's case mapping, as MySQL
  EXPECT_EQ(Truth("LOWER(data) = data"), "TRUE");                   // binary strings have no case
  EXPECT_EQ(Truth("LENGTH('é') = 2 AND CHAR_LENGTH('é') = 1 AND OCTET_LENGTH(data) = 3"), "TRUE");
  EXPECT_EQ(Truth("LENGTH(qty * 100) = 3"), "TRUE");
  EXPECT_EQ(Truth("LENGTH(note)"), "NULL");
  EXPECT_EQ(Truth("COALESCE(note, n, 'x') = 'x'"), "TRUE");
  EXPECT_EQ(Truth("COALESCE(note, n)"), "NULL");
  EXPECT_EQ(Truth("IFNULL(note, status) = 'paid'"), "TRUE");
  EXPECT_EQ(Truth("IFNULL(qty, 1 / 0) = 3"), "TRUE");
  EXPECT_EQ(Truth("CONCAT(status, '-', id, '-', amount, '-', price) = 'paid-7-19.90-2.5'"), "TRUE");
  EXPECT_EQ(Truth("CONCAT(status, note)"), "NULL");
  EXPECT_EQ(Truth("CONCAT(data, 'x') = 'abcx'"), "FALSE");  // binary in, binary out
  EXPECT_EQ(Truth("SUBSTRING('hello', 2, 3) = 'ell'"), "TRUE");
  EXPECT_EQ(Truth("SUBSTRING('hello', -3) = 'llo'"), "TRUE");
  EXPECT_EQ(Truth("SUBSTR('héllo', 2, 1) = 'é'"), "TRUE");
  EXPECT_EQ(Truth("SUBSTRING('hello', 0) = ''"), "TRUE");
  EXPECT_EQ(Truth("SUBSTRING('hello', 9) = ''"), "TRUE");
  EXPECT_EQ(Truth("SUBSTRING('hello', 2, 0) = ''"), "TRUE");
  EXPECT_EQ(Truth("SUBSTRING('hello', 4, 100) = 'lo'"), "TRUE");
  EXPECT_EQ(Truth("SUBSTRING(status, 1, 1) = 'P'"), "TRUE");
  EXPECT_EQ(Truth("SUBSTRING(status, n)"), "NULL");
  EXPECT_EQ(Truth("SUBSTRING(created, 1, 4) = '2024'"), "TRUE");
}

TEST(RowFilterFunctionTest, ConstantFunctionsFoldAtBind) {
  // Folded constants keep their own storage and readings.
  EXPECT_EQ(Truth("created >= CONCAT('2024-01-', '31')"), "TRUE");
  EXPECT_EQ(Truth("qty = LENGTH('abc')"), "TRUE");
  EXPECT_EQ(Truth("amount > 10 * 1.5"), "TRUE");
  EXPECT_EQ(Truth("status = LOWER('PAID')"), "TRUE");
}

TEST(RowFilterFunctionTest, ConcurrentMatchesShareOneBoundFilter) {
  auto parsed = ParseFilter("LOWER(CONCAT(status, '-', id)) = CONCAT('paid-', qty + 4) AND amount >= 10.5");
  ASSERT_TRUE(parsed.ok());
  auto bound = BindFilter(**parsed, Orders());
  ASSERT_TRUE(bound.ok()) << bound.status().message();
  const BoundFilter& f = *bound;
  std::vector<std::thread> threads;
  std::vector<int> passed(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto row = Row();
      std::string status = t % 2 == 0 ? "PAID" : "new";
      row[kStatus] = Value::Str(ValueKind::kText, status);
      for (int i = 0; i < 2000; ++i) {
        auto m = Matches(f, row);
        if (m.ok() && *m) {
          ++passed[t];
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(passed, (std::vector<int>{2000, 0, 2000, 0}));
}

}  // namespace
}  // namespace sluice::transform
