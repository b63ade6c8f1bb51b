#include "source/mysql/binlog/xa.h"

#include <cctype>

#include <fmt/format.h>

#include "source/mysql/binlog/sql_words.h"

namespace sluice::mysql {
namespace {

std::string Hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One part of an xid as lower-case hex of its bytes: 'text', "text",
// X'hex' or 0xhex. nullopt when s does not start with one.
std::optional<std::string> TakeXidString(std::string_view& s) {
  SkipSpaceAndComments(s);
  if (s.empty()) return std::nullopt;
  if ((s[0] == 'X' || s[0] == 'x') && s.size() > 1 && s[1] == '\'') {
    size_t end = s.find('\'', 2);
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view hex = s.substr(2, end - 2);
    if (!IsHex(hex) || hex.size() % 2 != 0) return std::nullopt;
    s.remove_prefix(end + 1);
    return Lower(hex);
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    size_t end = 2;
    while (end < s.size() && std::isxdigit(static_cast<unsigned char>(s[end]))) ++end;
    std::string hex = Lower(s.substr(2, end - 2));
    if (hex.size() % 2 != 0) hex.insert(hex.begin(), '0');
    s.remove_prefix(end);
    return hex;
  }
  if (s[0] == '\'' || s[0] == '"') {
    const char quote = s[0];
    std::string bytes;
    size_t i = 1;
    for (; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        bytes += s[++i];
      } else if (s[i] == quote) {
        if (i + 1 < s.size() && s[i + 1] == quote) {
          bytes += quote;
          ++i;
        } else {
          break;
        }
      } else {
        bytes += s[i];
      }
    }
    if (i >= s.size()) return std::nullopt;
    s.remove_prefix(i + 1);
    return Hex(bytes);
  }
  return std::nullopt;
}

// gtrid [, bqual [, formatID]] as an XidKey; empty when it does not parse.
XidKey TakeXid(std::string_view& s) {
  auto gtrid = TakeXidString(s);
  if (!gtrid) return {};
  std::string bqual;
  uint64_t format_id = 1;
  SkipSpaceAndComments(s);
  if (!s.empty() && s[0] == ',') {
    s.remove_prefix(1);
    auto b = TakeXidString(s);
    if (!b) return {};
    bqual = *b;
    SkipSpaceAndComments(s);
    if (!s.empty() && s[0] == ',') {
      s.remove_prefix(1);
      SkipSpaceAndComments(s);
      size_t digits = 0;
      format_id = 0;
      while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) {
        format_id = format_id * 10 + static_cast<uint64_t>(s[digits] - '0');
        ++digits;
      }
      if (digits == 0) return {};
      s.remove_prefix(digits);
    }
  }
  return fmt::format("{},{},{}", *gtrid, bqual, format_id);  // as MakeXidKey
}

}  // namespace

XidKey MakeXidKey(std::string_view gtrid, std::string_view bqual, uint64_t format_id) {
  return fmt::format("{},{},{}", Hex(gtrid), Hex(bqual), format_id);
}

std::optional<XaStatement> ParseXaStatement(std::string_view query) {
  std::string_view s = query;
  if (!TakeWord(s, "XA")) return std::nullopt;
  XaStatement st;
  if (TakeWord(s, "START") || TakeWord(s, "BEGIN")) {
    st.kind = XaStatement::Kind::kStart;
  } else if (TakeWord(s, "END")) {
    st.kind = XaStatement::Kind::kEnd;
  } else if (TakeWord(s, "PREPARE")) {
    st.kind = XaStatement::Kind::kPrepare;
  } else if (TakeWord(s, "COMMIT")) {
    st.kind = XaStatement::Kind::kCommit;
  } else if (TakeWord(s, "ROLLBACK")) {
    st.kind = XaStatement::Kind::kRollback;
  } else if (TakeWord(s, "RECOVER")) {
    st.kind = XaStatement::Kind::kRecover;
    return st;
  } else {
    return st;
  }
  st.xid = TakeXid(s);
  if (st.kind == XaStatement::Kind::kCommit && TakeWord(s, "ONE")) st.one_phase = TakeWord(s, "PHASE");
  return st;
}

Result<XaPrepareEvent> ParseXaPrepare(ByteReader& body) {
  XaPrepareEvent ev;
  ev.one_phase = body.U8() != 0;
  const uint32_t format_id = body.U32();
  const uint32_t gtrid_length = body.U32();
  const uint32_t bqual_length = body.U32();
  if (!body.ok() || gtrid_length > 64 || bqual_length > 64 || body.remaining() < gtrid_length + bqual_length) {
    return Status::Corruption("XA_PREPARE: malformed xid (gtrid {} bytes, bqual {} bytes)", gtrid_length,
                              bqual_length);
  }
  std::string_view data(reinterpret_cast<const char*>(body.cursor()), gtrid_length + bqual_length);
  ev.xid = MakeXidKey(data.substr(0, gtrid_length), data.substr(gtrid_length), format_id);
  return ev;
}

}  // namespace sluice::mysql
