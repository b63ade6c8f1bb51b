#include "client/clickhouse/http_client.h"

#include <gtest/gtest.h>

#include "harness/clickhouse_server.h"

namespace sluice::clickhouse {
namespace {

ClientOptions For(const testing::ClickhouseServer& server) {
  auto url = Url::Parse(server.Url());
  EXPECT_TRUE(url.ok());
  auto o = ClientOptions::FromUrl(*url);
  EXPECT_TRUE(o.ok());
  return *o;
}

TEST(ClickhouseClientTest, QueriesErrorsAndAnUnreachableServer) {
  auto server = testing::ClickhouseServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().message();
  ClickhouseClient client(For(**server));

  auto one = client.Query("SELECT 1");
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(*one, "1\n");

  // Bytes that need escaping survive a round trip through a POST body and TSV.
  ASSERT_TRUE(client.Query("CREATE TABLE default.t (s String) ENGINE = Memory").ok());
  std::string bytes("a\tb\nc\\d\0e'", 10);
  std::string row;
  AppendTsvEscaped(row, bytes);
  ASSERT_TRUE(client.Insert("INSERT INTO default.t FORMAT TabSeparated", row + "\n").ok());
  auto rows = client.QueryRows("SELECT s FROM default.t FORMAT TabSeparated");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0], bytes);

  // A server error: ClickHouse's code and message, not retryable.
  auto missing = client.Query("SELECT * FROM default.nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(client.last_server_code(), kUnknownTable);
  EXPECT_FALSE(missing.status().retryable());
  EXPECT_NE(missing.status().message().find("error 60: Table default.nope doesn't exist"), std::string::npos)
      << missing.status().message();

  // The server gone: a retryable error; back again: the same client works.
  ASSERT_TRUE((*server)->Stop().ok());
  auto down = client.Query("SELECT 1");
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(down.status().retryable()) << down.status().message();
  ASSERT_TRUE((*server)->Restart().ok());
  auto again = client.Query("SELECT 2");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, "2\n");
}

}  // namespace
}  // namespace sluice::clickhouse
