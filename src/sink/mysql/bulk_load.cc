#include "sink/mysql/bulk_load.h"

#include <fmt/format.h>
#include <mysql.h>

#include <cstring>

#include "sink/mysql/mysql_loader.h"
#include "sink/mysql/sql_builder.h"

namespace sluice::sink::mysql {

namespace {

constexpr unsigned kErLocalInfileDisabled = 1148;         // ER_NOT_ALLOWED_COMMAND
constexpr unsigned kErLocalInfileDisabledMariadb = 4166;  // ER_LOAD_INFILE_CAPABILITY_DISABLED
constexpr unsigned kCrLocalInfileDisabled = 2068;         // CR_LOAD_DATA_LOCAL_INFILE_REJECTED

// How a column travels: as its text, or as hex/number through a user variable.
enum class Encoding : uint8_t { kText, kHex, kGeometry, kBit };

void AppendEscaped(std::string& out, std::string_view s) {
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    const char* esc = nullptr;
    switch (c) {
      case '\\': esc = "\\\\"; break;
      case '\t': esc = "\\t"; break;
      case '\n': esc = "\\n"; break;
      case '\0': esc = "\\0"; break;
      default: continue;
    }
    out.append(s.data() + start, i - start);
    out += esc;
    start = i + 1;
  }
  out.append(s.data() + start, s.size() - start);
}

void AppendHexDigits(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char ch : s) {
    out += kHex[ch >> 4];
    out += kHex[ch & 15];
  }
}

struct Source {
  const std::string* data = nullptr;
  size_t pos = 0;
};

int InfileInit(void** ptr, const char*, void* userdata) {
  *ptr = userdata;
  return 0;
}
int InfileRead(void* ptr, char* buf, unsigned int len) {
  auto* src = static_cast<Source*>(ptr);
  size_t n = std::min<size_t>(len, src->data->size() - src->pos);
  std::memcpy(buf, src->data->data() + src->pos, n);
  src->pos += n;
  return static_cast<int>(n);
}
void InfileEnd(void*) {}
int InfileError(void*, char* msg, unsigned int len) {
  std::snprintf(msg, len, "sluice bulk load: no data");
  return 0;
}

}  // namespace

Status BuildBulkLoad(const TargetTable& t, const std::vector<const SinkChange*>& rows, bool replace, BulkLoad* out,
                     const std::vector<bool>* generated) {
  const size_t n = t.columns.size();
  std::vector<Encoding> enc(n, Encoding::kText);
  for (const SinkChange* r : rows) {
    for (size_t i = 0; i < n; ++i) {
      switch (r->values[i].kind) {
        case ValueKind::kBytes: enc[i] = Encoding::kHex; break;
        case ValueKind::kGeometry: enc[i] = Encoding::kGeometry; break;
        case ValueKind::kBit: enc[i] = Encoding::kBit; break;
        default: break;
      }
    }
  }
  std::string& d = out->data;
  d.clear();
  for (const SinkChange* r : rows) {
    for (size_t i = 0; i < n; ++i) {
      if (i) d += '\t';
      const Value v = MysqlValue(t, i, r->values[i]);
      switch (v.kind) {
        case ValueKind::kNull: d += "\\N"; break;
        case ValueKind::kAbsent:
          return Status::Error(StatusCode::kNotSupported,
                               "value not in the row image: sync needs binlog_row_image=FULL on the source");
        case ValueKind::kBytes:
        case ValueKind::kGeometry: AppendHexDigits(d, v.s); break;
        case ValueKind::kInt:
        case ValueKind::kUInt:
        case ValueKind::kYear:
        case ValueKind::kBit:
          // Numbers: their SQL literal is also their LOAD DATA text.
          RETURN_IF_ERROR(AppendLiteral(d, v));
          break;
        case ValueKind::kFloat:
          // The shortest text that reads back as the same float (stored, not compared).
          fmt::format_to(std::back_inserter(d), "{}", static_cast<float>(v.d));
          break;
        case ValueKind::kDouble:
          fmt::format_to(std::back_inserter(d), "{}", v.d);
          break;
        default:
          AppendEscaped(d, v.s);
      }
    }
    d += '\n';
  }

  std::string& s = out->sql;
  s = replace ? "LOAD DATA LOCAL INFILE 'sluice-rows' REPLACE INTO TABLE " : "LOAD DATA LOCAL INFILE 'sluice-rows' INTO TABLE ";
  AppendQualifiedName(s, t);
  s += " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (";
  std::string sets;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ", ";
    if (generated && i < generated->size() && (*generated)[i]) {
      s += "@sluice_generated";  // computed by the target
      continue;
    }
    if (enc[i] == Encoding::kText) {
      AppendIdentifier(s, t.columns[i]);
      continue;
    }
    std::string var = fmt::format("@c{}", i);
    s += var;
    sets += sets.empty() ? " SET " : ", ";
    AppendIdentifier(sets, t.columns[i]);
    switch (enc[i]) {
      case Encoding::kHex: sets += " = UNHEX(" + var + ")"; break;
      case Encoding::kGeometry: sets += " = ST_GeomFromWKB(UNHEX(" + var + "))"; break;
      case Encoding::kBit: sets += " = CAST(" + var + " AS UNSIGNED)"; break;
      case Encoding::kText: break;
    }
  }
  s += ")" + sets;
  return Status::Ok();
}

Status RunBulkLoad(sluice::mysql::MysqlConnection& c, const TargetTable& t, const BulkLoad& load) {
  Source src{&load.data, 0};
  mysql_set_local_infile_handler(c.raw(), InfileInit, InfileRead, InfileEnd, InfileError, &src);
  int rc = mysql_real_query(c.raw(), load.sql.data(), load.sql.size());
  mysql_set_local_infile_default(c.raw());
  if (rc != 0) {
    unsigned err = mysql_errno(c.raw());
    std::string msg = mysql_error(c.raw());
    if (err == kErLocalInfileDisabled || err == kErLocalInfileDisabledMariadb || err == kCrLocalInfileDisabled) {
      return Status::Error(StatusCode::kNotSupported, "LOAD DATA LOCAL INFILE is disabled: {} (error {})", msg, err);
    }
    if (IsRetryableApplyError(err)) {
      return Status::Retryable(StatusCode::kIoError, "target {}: {} (error {})", c.options().Describe(), msg, err);
    }
    return Status::Error(StatusCode::kServerError, "loading {}.{}: {} (error {})", t.db, t.table, msg, err);
  }
  if (mysql_warning_count(c.raw()) > 0) {
    std::string first = "a warning";
    auto rows = c.Query("SHOW WARNINGS LIMIT 1");
    if (rows.ok() && !rows->empty() && rows->front().size() >= 3) {
      first = fmt::format("{} {}: {}", rows->front()[0].value_or(""), rows->front()[1].value_or(""),
                          rows->front()[2].value_or(""));
    }
    return Status::Error(StatusCode::kServerError, "loading {}.{}: the target reported {} (nothing is truncated or "
                         "dropped silently; the chunk is rolled back)",
                         t.db, t.table, first);
  }
  return Status::Ok();
}

}  // namespace sluice::sink::mysql
