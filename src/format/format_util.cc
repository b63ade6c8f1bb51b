#include "format/format_util.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <system_error>

namespace sluice::format {
namespace {

// Java's layout over the shortest round-trip digits `digits` (no dot) of a
// value d = 0.DIGITS × 10^(exp10+1), i.e. scientific exponent exp10.
void AppendJavaLayout(std::string& out, bool negative, std::string_view digits, int exp10) {
  if (negative) out += '-';
  if (exp10 >= -3 && exp10 < 7) {
    if (exp10 < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exp10 - 1), '0');
      out.append(digits);
      return;
    }
    size_t int_len = static_cast<size_t>(exp10) + 1;
    if (digits.size() <= int_len) {
      out.append(digits);
      out.append(int_len - digits.size(), '0');
      out += ".0";
    } else {
      out.append(digits.substr(0, int_len));
      out += '.';
      out.append(digits.substr(int_len));
    }
    return;
  }
  out += digits[0];
  out += '.';
  if (digits.size() > 1) {
    out.append(digits.substr(1));
  } else {
    out += '0';
  }
  out += 'E';
  out += std::to_string(exp10);
}

template <typename T>
void AppendJava(std::string& out, T v) {
  if (v == 0) {
    out += std::signbit(v) ? "-0.0" : "0.0";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(end - buf));
  bool negative = false;
  if (!s.empty() && s[0] == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  size_t e = s.find('e');
  std::string digits;
  for (char c : s.substr(0, e)) {
    if (c != '.') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int exp10 = std::atoi(std::string(s.substr(e + 1)).c_str());
  AppendJavaLayout(out, negative, digits, exp10);
}

bool StartsWithWord(std::string_view s, size_t& i, std::string_view word) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  if (s.size() - i < word.size()) return false;
  for (size_t k = 0; k < word.size(); ++k) {
    if (std::toupper(static_cast<unsigned char>(s[i + k])) != word[k]) return false;
  }
  size_t after = i + word.size();
  if (after < s.size() && (std::isalnum(static_cast<unsigned char>(s[after])) || s[after] == '_')) return false;
  i = after;
  return true;
}

// Skips /* ... */ comments (MySQL writes /*!40000 ... */ hints) and spaces.
std::string_view SkipComments(std::string_view q) {
  while (true) {
    size_t i = 0;
    while (i < q.size() && std::isspace(static_cast<unsigned char>(q[i]))) ++i;
    q.remove_prefix(i);
    if (q.substr(0, 2) != "/*") return q;
    size_t end = q.find("*/");
    if (end == std::string_view::npos) return q;
    q.remove_prefix(end + 2);
  }
}

}  // namespace

void AppendJavaDouble(std::string& out, double v) { AppendJava(out, v); }
void AppendJavaFloat(std::string& out, float v) { AppendJava(out, v); }

Result<uint64_t> EnumIndex(const ColumnMeta& col, const Value& v) {
  if (v.kind == ValueKind::kUInt || v.kind == ValueKind::kInt) return v.u;
  if (v.s.empty()) return uint64_t{0};
  for (size_t i = 0; i < col.enum_values.size(); ++i) {
    if (col.enum_values[i] == v.s) return uint64_t{i + 1};
  }
  return Status::Error(StatusCode::kSchemaMismatch, "column `{}`: '{}' is not a member of its ENUM", col.name, v.s);
}

Result<uint64_t> SetMask(const ColumnMeta& col, const Value& v) {
  if (v.kind == ValueKind::kUInt || v.kind == ValueKind::kInt) return v.u;
  uint64_t mask = 0;
  std::string_view rest = v.s;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    bool found = false;
    for (size_t i = 0; i < col.enum_values.size() && i < 64; ++i) {
      if (col.enum_values[i] == name) {
        mask |= uint64_t{1} << i;
        found = true;
        break;
      }
    }
    if (!found) {
      return Status::Error(StatusCode::kSchemaMismatch, "column `{}`: '{}' is not a member of its SET", col.name, name);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return mask;
}

DdlKind ClassifyDdl(std::string_view query) {
  std::string_view q = SkipComments(query);
  size_t i = 0;
  if (StartsWithWord(q, i, "CREATE")) {
    size_t j = i;
    // CREATE [OR REPLACE] [TEMPORARY] TABLE, CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX
    if (StartsWithWord(q, j, "OR")) StartsWithWord(q, j, "REPLACE");
    size_t k = j;
    if (StartsWithWord(q, k, "TEMPORARY")) j = k;
    k = j;
    if (StartsWithWord(q, k, "TABLE")) return DdlKind::kCreateTable;
    k = j;
    if (StartsWithWord(q, k, "DATABASE") || StartsWithWord(q, k, "SCHEMA")) return DdlKind::kCreateDatabase;
    k = j;
    if (StartsWithWord(q, k, "UNIQUE") || StartsWithWord(q, k, "FULLTEXT") || StartsWithWord(q, k, "SPATIAL")) j = k;
    k = j;
    if (StartsWithWord(q, k, "INDEX")) return DdlKind::kCreateIndex;
    return DdlKind::kOther;
  }
  i = 0;
  if (StartsWithWord(q, i, "ALTER")) {
    size_t j = i;
    if (StartsWithWord(q, j, "ONLINE")) i = j;
    j = i;
    if (StartsWithWord(q, j, "IGNORE")) i = j;
    j = i;
    if (StartsWithWord(q, j, "TABLE")) return DdlKind::kAlterTable;
    j = i;
    if (StartsWithWord(q, j, "DATABASE") || StartsWithWord(q, j, "SCHEMA")) return DdlKind::kAlterDatabase;
    return DdlKind::kOther;
  }
  i = 0;
  if (StartsWithWord(q, i, "DROP")) {
    size_t j = i;
    if (StartsWithWord(q, j, "TEMPORARY")) i = j;
    j = i;
    if (StartsWithWord(q, j, "TABLE")) return DdlKind::kDropTable;
    j = i;
    if (StartsWithWord(q, j, "DATABASE") || StartsWithWord(q, j, "SCHEMA")) return DdlKind::kDropDatabase;
    j = i;
    if (StartsWithWord(q, j, "INDEX")) return DdlKind::kDropIndex;
    return DdlKind::kOther;
  }
  i = 0;
  if (StartsWithWord(q, i, "TRUNCATE")) return DdlKind::kTruncateTable;
  i = 0;
  if (StartsWithWord(q, i, "RENAME")) return DdlKind::kRenameTable;
  return DdlKind::kOther;
}

ChangeContext ContextOf(const SinkChange& ch, std::string& position, bool last_in_transaction) {
  ChangeContext ctx;
  // PostgreSQL: the commit LSN (design §12), like `sluice tail`'s "pos".
  position = ch.pos.is_lsn() ? ch.pos.file : fmt::format("{}:{}", ch.pos.file, ch.pos.txn_offset);
  ctx.position = position;
  if (ch.origin) ctx.gtid = ch.origin->gtid;
  // The transaction's start offset stands in for the server's XID, which
  // the stream does not carry to sinks: unique per transaction within a
  // binlog file, and growing with it.
  ctx.xid = ch.pos.txn_offset;
  ctx.last_in_transaction = last_in_transaction;
  return ctx;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace sluice::format
