#include "core/position.h"

#include <algorithm>
#include <charconv>

#include "core/byte_reader.h"

namespace sluice {
namespace {

template <typename T>
bool ParseNumber(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    parts.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return parts;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<BinlogFilePos> BinlogFilePos::Parse(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::Invalid("invalid binlog position \"{}\": expected FILE:OFFSET", text);
  }
  BinlogFilePos p;
  p.file = std::string(text.substr(0, colon));
  if (!ParseNumber(text.substr(colon + 1), p.offset)) {
    return Status::Invalid("invalid binlog position \"{}\": offset is not a number", text);
  }
  return p;
}

std::string BinlogFilePos::ToString() const { return fmt::format("{}:{}", file, offset); }

Result<MariadbGtid> MariadbGtid::Parse(std::string_view text) {
  auto parts = Split(Trim(text), '-');
  MariadbGtid g;
  if (parts.size() != 3 || !ParseNumber(parts[0], g.domain) || !ParseNumber(parts[1], g.server) ||
      !ParseNumber(parts[2], g.seq)) {
    return Status::Invalid("invalid MariaDB GTID \"{}\": expected DOMAIN-SERVER-SEQUENCE", text);
  }
  return g;
}

std::string MariadbGtid::ToString() const { return fmt::format("{}-{}-{}", domain, server, seq); }

Result<MariadbGtidList> MariadbGtidList::Parse(std::string_view text) {
  MariadbGtidList list;
  text = Trim(text);
  if (text.empty()) return list;
  for (auto part : Split(text, ',')) {
    ASSIGN_OR_RETURN(MariadbGtid g, MariadbGtid::Parse(part));
    if (list.domains_.count(g.domain)) {
      return Status::Invalid("invalid MariaDB GTID list \"{}\": domain {} appears twice", text, g.domain);
    }
    list.domains_[g.domain] = g;
  }
  return list;
}

std::string MariadbGtidList::ToString() const {
  std::string out;
  for (const auto& [domain, g] : domains_) {
    if (!out.empty()) out += ',';
    out += g.ToString();
  }
  return out;
}

std::string UuidToString(const Uuid& u) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += kHex[u[i] >> 4];
    s += kHex[u[i] & 15];
  }
  return s;
}

Result<Uuid> ParseUuid(std::string_view text) {
  Uuid u{};
  size_t n = 0;
  for (char c : text) {
    if (c == '-') continue;
    int h = HexDigit(c);
    if (h < 0 || n >= 32) return Status::Invalid("invalid UUID \"{}\"", text);
    u[n / 2] = static_cast<uint8_t>(u[n / 2] | (n % 2 == 0 ? h << 4 : h));
    ++n;
  }
  if (n != 32 || text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return Status::Invalid("invalid UUID \"{}\"", text);
  }
  return u;
}

void MysqlGtidSet::AddInterval(const Uuid& uuid, Interval iv) {
  auto& list = sets_[uuid];
  list.push_back(iv);
  std::sort(list.begin(), list.end(), [](const Interval& a, const Interval& b) { return a.first < b.first; });
  std::vector<Interval> merged;
  for (const auto& x : list) {
    if (!merged.empty() && x.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, x.last);
    } else {
      merged.push_back(x);
    }
  }
  list = std::move(merged);
}

bool MysqlGtidSet::Contains(const Uuid& uuid, uint64_t gno) const {
  auto it = sets_.find(uuid);
  if (it == sets_.end()) return false;
  for (const auto& iv : it->second) {
    if (gno >= iv.first && gno <= iv.last) return true;
  }
  return false;
}

Result<MysqlGtidSet> MysqlGtidSet::Parse(std::string_view text) {
  MysqlGtidSet set;
  text = Trim(text);
  if (text.empty()) return set;
  for (auto sid_part : Split(text, ',')) {
    sid_part = Trim(sid_part);
    auto fields = Split(sid_part, ':');
    if (fields.size() < 2) {
      return Status::Invalid("invalid MySQL GTID set \"{}\": expected UUID:INTERVAL[:INTERVAL...]", text);
    }
    ASSIGN_OR_RETURN(Uuid uuid, ParseUuid(fields[0]));
    for (size_t i = 1; i < fields.size(); ++i) {
      auto range = Split(fields[i], '-');
      Interval iv{};
      bool ok = range.size() == 1 ? ParseNumber(range[0], iv.first) && (iv.last = iv.first, true)
                : range.size() == 2 ? ParseNumber(range[0], iv.first) && ParseNumber(range[1], iv.last)
                                    : false;
      if (!ok || iv.first == 0 || iv.last < iv.first) {
        return Status::Invalid("invalid MySQL GTID set \"{}\": bad interval \"{}\"", text, fields[i]);
      }
      set.AddInterval(uuid, iv);
    }
  }
  return set;
}

std::string MysqlGtidSet::ToString() const {
  std::string out;
  for (const auto& [uuid, list] : sets_) {
    if (!out.empty()) out += ',';
    out += UuidToString(uuid);
    for (const auto& iv : list) {
      if (iv.first == iv.last) {
        out += fmt::format(":{}", iv.first);
      } else {
        out += fmt::format(":{}-{}", iv.first, iv.last);
      }
    }
  }
  return out;
}

namespace {
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
}  // namespace

std::string MysqlGtidSet::Encode() const {
  std::string out;
  PutU64(out, sets_.size());
  for (const auto& [uuid, list] : sets_) {
    out.append(reinterpret_cast<const char*>(uuid.data()), uuid.size());
    PutU64(out, list.size());
    for (const auto& iv : list) {
      PutU64(out, iv.first);
      PutU64(out, iv.last + 1);  // the wire form's end is exclusive
    }
  }
  return out;
}

Result<MysqlGtidSet> MysqlGtidSet::Decode(std::string_view bytes) {
  ByteReader r(bytes);
  MysqlGtidSet set;
  uint64_t n_sids = r.U64();
  for (uint64_t s = 0; s < n_sids && r.ok(); ++s) {
    Uuid uuid{};
    std::string_view raw = r.Bytes(16);
    if (!r.ok()) break;
    std::copy(raw.begin(), raw.end(), uuid.begin());
    uint64_t n_iv = r.U64();
    for (uint64_t i = 0; i < n_iv && r.ok(); ++i) {
      uint64_t start = r.U64();
      uint64_t end = r.U64();
      if (!r.ok()) break;
      if (end <= start) return Status::Corruption("GTID set: empty interval {}-{}", start, end);
      set.AddInterval(uuid, {start, end - 1});
    }
  }
  if (!r.ok()) return Status::Corruption("GTID set: truncated at byte {} of {}", r.pos(), bytes.size());
  return set;
}

Result<Lsn> Lsn::Parse(std::string_view text) {
  size_t slash = text.find('/');
  uint32_t hi = 0, lo = 0;
  auto hex = [](std::string_view s, uint32_t& out) {
    if (s.empty() || s.size() > 8) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
    return ec == std::errc() && p == s.data() + s.size();
  };
  if (slash == std::string_view::npos || !hex(text.substr(0, slash), hi) || !hex(text.substr(slash + 1), lo)) {
    return Status::Invalid("invalid LSN \"{}\": expected two hex numbers such as 0/16B3748", text);
  }
  return Lsn{(uint64_t{hi} << 32) | lo};
}

std::string Lsn::ToString() const {
  return fmt::format("{:X}/{:X}", static_cast<uint32_t>(value >> 32), static_cast<uint32_t>(value));
}

Result<StartPosition> StartPosition::Parse(std::string_view text) {
  StartPosition p;
  text = Trim(text);
  if (text == "latest" || text.empty()) return p;
  if (text == "earliest") {
    p.kind = Kind::kEarliest;
    return p;
  }
  if (text.find('/') != std::string_view::npos && text.find(':') == std::string_view::npos) {
    ASSIGN_OR_RETURN(p.lsn, Lsn::Parse(text));
    p.kind = Kind::kLsn;
    return p;
  }
  // A MySQL GTID set has a UUID before its first colon.
  size_t colon = text.find(':');
  if (colon == 36 || (colon != std::string_view::npos && text.find('-') == 8)) {
    ASSIGN_OR_RETURN(p.mysql_gtid, MysqlGtidSet::Parse(text));
    p.kind = Kind::kMysqlGtid;
    return p;
  }
  if (colon != std::string_view::npos) {
    ASSIGN_OR_RETURN(p.file_pos, BinlogFilePos::Parse(text));
    p.kind = Kind::kFilePos;
    return p;
  }
  auto gtid = MariadbGtidList::Parse(text);
  if (!gtid.ok()) {
    return Status::Invalid(
        "invalid start position \"{}\": expected latest, earliest, a MariaDB GTID list (0-1-42), "
        "a MySQL GTID set (UUID:1-42), FILE:OFFSET or a PostgreSQL LSN (0/16B3748)",
        text);
  }
  p.mariadb_gtid = std::move(gtid).value();
  p.kind = Kind::kMariadbGtid;
  return p;
}

std::string StartPosition::ToString() const {
  switch (kind) {
    case Kind::kLatest: return "latest";
    case Kind::kEarliest: return "earliest";
    case Kind::kMariadbGtid: return mariadb_gtid.ToString();
    case Kind::kMysqlGtid: return mysql_gtid.ToString();
    case Kind::kFilePos: return file_pos.ToString();
    case Kind::kLsn: return lsn.ToString();
  }
  return "?";
}

}  // namespace sluice
