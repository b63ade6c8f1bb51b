#pragma once
// BulkStatement: one prepared statement run for many rows of parameters in
// a single round trip (MariaDB's array binding, COM_STMT_BULK_EXECUTE). The
// server parses and plans the statement once instead of once per row: for
// a key-lookup DELETE that is about a fifth of the server's CPU of one
// DELETE statement per row, and a multi-row upsert costs a third less than
// the same rows as SQL text (bench/RESULTS.md, 2026-12-05).
//
// MariaDB 10.2+ only: Prepare returns kNotSupported on servers without bulk
// operations (MySQL), and the caller sends SQL text instead.
//
// Parameters are core Values bound by kind: integers as BIGINT (signed or
// not), FLOAT/DOUBLE as DOUBLE, DECIMAL as DECIMAL, bytes and WKB as binary
// strings, everything else (text, dates and times, ENUM, SET, JSON) as a string in the
// connection's character set: what the server then stores equals what the
// same value as an SQL literal gives (sink/mysql/sql_builder.h). A kAbsent
// value is the column's DEFAULT (an INSERT's column the source's statement
// did not set: SinkChange::absent_means_default).
//
// Lifetime and threads: belongs to the connection it was prepared on, used
// by that connection's thread only, destroyed before the connection.

#include <mysql.h>

#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "core/value.h"

namespace sluice::mysql {

class MysqlConnection;

class BulkStatement {
 public:
  static Result<std::unique_ptr<BulkStatement>> Prepare(MysqlConnection& c, const std::string& sql);
  ~BulkStatement();
  BulkStatement(const BulkStatement&) = delete;
  BulkStatement& operator=(const BulkStatement&) = delete;

  size_t param_count() const { return params_; }
  // Runs the statement once per row: `values[row * param_count() + i]` is
  // parameter i of `row`. kNotSupported when one parameter's rows mix kinds
  // that bind differently (the caller sends those rows as SQL text). On a
  // server error, rows before the failing one may have been executed: the
  // caller rolls back (to a savepoint). `server_errno` is the server's error
  // number of the last failure (0 when none).
  Status Execute(std::span<const Value> values);
  unsigned server_errno() const { return errno_; }
  const std::string& sql() const { return sql_; }

 private:
  BulkStatement(MYSQL_STMT* stmt, std::string sql, size_t params)
      : stmt_(stmt), sql_(std::move(sql)), params_(params) {}
  MYSQL_STMT* stmt_;
  std::string sql_;
  size_t params_;
  unsigned errno_ = 0;
};

}  // namespace sluice::mysql
