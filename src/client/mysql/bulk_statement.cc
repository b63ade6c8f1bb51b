#include "client/mysql/bulk_statement.h"


#include <vector>

#include "client/mysql/connection.h"

namespace sluice::mysql {

namespace {

// How one parameter's rows travel.
enum class Bind : uint8_t { kNone, kSigned, kUnsigned, kDouble, kDecimal, kString, kBinary };

Bind BindOf(ValueKind k) {
  switch (k) {
    case ValueKind::kNull:
    case ValueKind::kAbsent: return Bind::kNone;
    case ValueKind::kInt:
    case ValueKind::kYear: return Bind::kSigned;
    case ValueKind::kUInt:
    case ValueKind::kBit: return Bind::kUnsigned;
    case ValueKind::kFloat:
    case ValueKind::kDouble: return Bind::kDouble;
    case ValueKind::kDecimal: return Bind::kDecimal;  // a DECIMAL, never a string compared as DOUBLE
    case ValueKind::kBytes:
    case ValueKind::kGeometry: return Bind::kBinary;
    default: return Bind::kString;
  }
}

// One parameter's column of values, as libmariadb's column-wise binding wants it.
struct ParamColumn {
  Bind bind = Bind::kNone;
  std::vector<char> indicator;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<const char*> ptrs;
  std::vector<unsigned long> lengths;
};

}  // namespace

Result<std::unique_ptr<BulkStatement>> BulkStatement::Prepare(MysqlConnection& c, const std::string& sql) {
  MYSQL_STMT* stmt = mysql_stmt_init(c.raw());
  if (stmt == nullptr) return c.LastError("preparing a statement");
  if (mysql_stmt_prepare(stmt, sql.data(), sql.size()) != 0) {
    unsigned err = mysql_stmt_errno(stmt);
    Status st = IsConnectionLost(err)
                    ? Status::Retryable(StatusCode::kIoError, "preparing on {}: {} (error {})",
                                        c.options().Describe(), mysql_stmt_error(stmt), err)
                    : Status::Error(StatusCode::kServerError, "preparing on {}: {} (error {})",
                                    c.options().Describe(), mysql_stmt_error(stmt), err);
    mysql_stmt_close(stmt);
    return st;
  }
  unsigned long extended = 0;  // MariaDB's capabilities beyond MySQL's
  mariadb_get_infov(c.raw(), MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &extended);
  if (!(extended & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32))) {
    mysql_stmt_close(stmt);
    return Status::Error(StatusCode::kNotSupported, "{} has no bulk statement execution (MariaDB 10.2+ has)",
                         c.options().Describe());
  }
  return std::unique_ptr<BulkStatement>(new BulkStatement(stmt, sql, mysql_stmt_param_count(stmt)));
}

BulkStatement::~BulkStatement() { mysql_stmt_close(stmt_); }

Status BulkStatement::Execute(std::span<const Value> values) {
  errno_ = 0;
  if (params_ == 0 || values.size() % params_ != 0) {
    return Status::Invalid("bulk statement: {} values for {} parameters", values.size(), params_);
  }
  const size_t rows = values.size() / params_;
  if (rows == 0) return Status::Ok();
  std::vector<ParamColumn> cols(params_);
  for (size_t i = 0; i < params_; ++i) {
    ParamColumn& col = cols[i];
    for (size_t r = 0; r < rows; ++r) {
      const Value& v = values[r * params_ + i];
      Bind b = BindOf(v.kind);
      if (b == Bind::kNone) continue;
      if (col.bind == Bind::kNone) col.bind = b;
      if (col.bind != b) return Status::Error(StatusCode::kNotSupported, "parameter {} mixes value kinds", i + 1);
    }
    col.indicator.resize(rows, STMT_INDICATOR_NONE);
    switch (col.bind) {
      case Bind::kSigned:
      case Bind::kUnsigned: col.ints.resize(rows); break;
      case Bind::kDouble: col.doubles.resize(rows); break;
      case Bind::kNone:
      case Bind::kDecimal:
      case Bind::kString:
      case Bind::kBinary:
        col.ptrs.resize(rows, "");
        col.lengths.resize(rows, 0);
        break;
    }
    for (size_t r = 0; r < rows; ++r) {
      const Value& v = values[r * params_ + i];
      if (v.is_null()) {
        col.indicator[r] = STMT_INDICATOR_NULL;
        continue;
      }
      if (v.kind == ValueKind::kAbsent) {
        col.indicator[r] = STMT_INDICATOR_DEFAULT;
        continue;
      }
      switch (col.bind) {
        case Bind::kSigned: col.ints[r] = v.i; break;
        case Bind::kUnsigned: col.ints[r] = static_cast<int64_t>(v.u); break;
        case Bind::kDouble:
          // A FLOAT's own value (as AppendLiteral sends it): the float widened, not its shortest text.
          col.doubles[r] = v.kind == ValueKind::kFloat ? static_cast<double>(static_cast<float>(v.d)) : v.d;
          break;
        case Bind::kDecimal:
        case Bind::kString:
        case Bind::kBinary:
          if (!v.s.empty()) col.ptrs[r] = v.s.data();
          col.lengths[r] = v.s.size();
          break;
        case Bind::kNone: break;
      }
    }
  }
  std::vector<MYSQL_BIND> binds(params_);
  for (size_t i = 0; i < params_; ++i) {
    MYSQL_BIND& b = binds[i];
    ParamColumn& col = cols[i];
    b = MYSQL_BIND{};
    b.u.indicator = col.indicator.data();
    switch (col.bind) {
      case Bind::kSigned:
      case Bind::kUnsigned:
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = col.ints.data();
        b.is_unsigned = col.bind == Bind::kUnsigned;
        break;
      case Bind::kDouble:
        b.buffer_type = MYSQL_TYPE_DOUBLE;
        b.buffer = col.doubles.data();
        break;
      case Bind::kNone:
      case Bind::kDecimal:
      case Bind::kString:
      case Bind::kBinary:
        b.buffer_type = col.bind == Bind::kBinary    ? MYSQL_TYPE_BLOB
                        : col.bind == Bind::kDecimal ? MYSQL_TYPE_NEWDECIMAL
                                                     : MYSQL_TYPE_STRING;
        b.buffer = col.ptrs.data();
        b.length = col.lengths.data();
        break;
    }
  }
  unsigned int array_size = static_cast<unsigned int>(rows);
  if (mysql_stmt_attr_set(stmt_, STMT_ATTR_ARRAY_SIZE, &array_size) != 0 ||
      mysql_stmt_bind_param(stmt_, binds.data()) != 0 || mysql_stmt_execute(stmt_) != 0) {
    errno_ = mysql_stmt_errno(stmt_);
    if (IsConnectionLost(errno_)) {
      return Status::Retryable(StatusCode::kIoError, "{} (error {})", mysql_stmt_error(stmt_), errno_);
    }
    return Status::Error(StatusCode::kServerError, "{} (error {})", mysql_stmt_error(stmt_), errno_);
  }
  return Status::Ok();
}

}  // namespace sluice::mysql
