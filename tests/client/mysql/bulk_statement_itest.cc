// BulkStatement against a real MariaDB: many rows per round trip, typed
// binds, and what it does with rows it cannot bind or the server rejects.

#include "client/mysql/bulk_statement.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/mysql/connection.h"
#include "core/url.h"
#include "harness/mariadb_server.h"

namespace sluice::mysql {
namespace {

using sluice::testing::MariadbServer;

class BulkStatementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MariadbServer::Start({.server_id = 2});
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
    auto url = Url::Parse(server_->Url());
    ASSERT_TRUE(url.ok());
    auto co = ConnectOptions::FromUrl(*url);
    ASSERT_TRUE(co.ok());
    auto c = MysqlConnection::Connect(*co);
    ASSERT_TRUE(c.ok()) << c.status().message();
    conn_ = std::move(c).value();
    ASSERT_TRUE(conn_->Execute("SET sql_mode = 'STRICT_ALL_TABLES'").ok());
    ASSERT_TRUE(conn_->Execute("CREATE DATABASE b").ok());
    ASSERT_TRUE(conn_->Execute("CREATE TABLE b.t (id BIGINT UNSIGNED PRIMARY KEY, d DECIMAL(25,5), x DOUBLE, "
                               "s VARCHAR(8), v VARBINARY(8))")
                    .ok());
  }
  std::unique_ptr<MariadbServer> server_;
  std::unique_ptr<MysqlConnection> conn_;
};

TEST_F(BulkStatementTest, RowsOfTypedValuesInOneExecution) {
  auto st = BulkStatement::Prepare(*conn_, "INSERT INTO b.t VALUES (?, ?, ?, ?, ?)");
  ASSERT_TRUE(st.ok()) << st.status().message();
  ASSERT_EQ((*st)->param_count(), 5u);
  const std::string bytes("\x00\xff'\\", 4);
  std::vector<Value> rows{
      Value::UInt(18446744073709551615ull), Value::Str(ValueKind::kDecimal, "12345678901234567890.12345"),
      Value::Double(0.1), Value::Str(ValueKind::kText, "é'x"), Value::Str(ValueKind::kBytes, bytes),
      Value::UInt(1), Value::Null(), Value::Float(0.1f), Value::Null(), Value::Str(ValueKind::kBytes, ""),
  };
  ASSERT_TRUE((*st)->Execute(rows).ok());
  auto got = conn_->Query("SELECT id, d, x, s, HEX(v) FROM b.t ORDER BY id");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0][0], "1");
  EXPECT_FALSE((*got)[0][1].has_value());
  EXPECT_EQ((*got)[0][2], "0.10000000149011612");  // the FLOAT's own value, widened
  EXPECT_FALSE((*got)[0][3].has_value());
  EXPECT_EQ((*got)[0][4], "");
  EXPECT_EQ((*got)[1][0], "18446744073709551615");
  EXPECT_EQ((*got)[1][1], "12345678901234567890.12345");
  EXPECT_EQ((*got)[1][2], "0.1");
  EXPECT_EQ((*got)[1][3], "é'x");
  EXPECT_EQ((*got)[1][4], "00FF275C");
}

TEST_F(BulkStatementTest, MixedKindsAreRefusedAndServerErrorsKeepTheirNumber) {
  auto st = BulkStatement::Prepare(*conn_, "INSERT INTO b.t (id, s) VALUES (?, ?)");
  ASSERT_TRUE(st.ok()) << st.status().message();
  std::vector<Value> mixed{Value::UInt(1), Value::Str(ValueKind::kText, "a"), Value::UInt(2), Value::Int(3)};
  Status s = (*st)->Execute(mixed);
  EXPECT_EQ(s.code(), StatusCode::kNotSupported) << s.message();
  EXPECT_EQ((*st)->server_errno(), 0u);
  std::vector<Value> too_long{Value::UInt(1), Value::Str(ValueKind::kText, "far too long")};
  s = (*st)->Execute(too_long);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.retryable());
  EXPECT_EQ((*st)->server_errno(), 1406u) << s.message();  // ER_DATA_TOO_LONG
}

// An absent value (an insert under a MINIMAL row image leaves the column to
// the table) is the column's DEFAULT, also where other rows have values.
TEST_F(BulkStatementTest, AnAbsentValueIsTheColumnsDefault) {
  ASSERT_TRUE(conn_->Execute("ALTER TABLE b.t MODIFY s VARCHAR(8) NOT NULL DEFAULT 'dflt'").ok());
  auto st = BulkStatement::Prepare(*conn_, "INSERT INTO b.t (id, s) VALUES (?, ?)");
  ASSERT_TRUE(st.ok()) << st.status().message();
  std::vector<Value> rows{Value::UInt(1), Value::Absent(), Value::UInt(2), Value::Str(ValueKind::kText, "given")};
  Status s = (*st)->Execute(rows);
  ASSERT_TRUE(s.ok()) << s.message();
  auto got = conn_->QueryValue("SELECT GROUP_CONCAT(s ORDER BY id) FROM b.t");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value_or(""), "dflt,given");
}

}  // namespace
}  // namespace sluice::mysql
