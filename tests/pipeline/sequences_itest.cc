// MariaDB sequences: a selected sequence's CREATE, ALTER and DROP SEQUENCE
// and its state (the row NEXTVAL and SETVAL write) reach a MariaDB target,
// so a table whose DEFAULT takes NEXTVAL can be created there and the
// target's sequence stands where the source's does (ready for a
// switch-over); a JSON file target gets the tables' rows and nothing of
// the sequences. A snapshot creates the sequences first and copies their
// state.

#include <fstream>
#include <sstream>

#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kSequenceState = "SELECT * FROM shop.ids";
constexpr const char* kOrders = "SELECT id, v FROM shop.orders ORDER BY id";

// Whether the target's sequence gives, at its next NEXTVAL, a value past
// every id the source's has given.
::testing::AssertionResult NextValueIsPastSource(MariadbServer& src, MariadbServer& dst) {
  auto used = src.Query("SELECT MAX(id) FROM shop.orders");
  auto next = dst.Query("SELECT NEXTVAL(shop.ids)");
  if (!used.ok() || !next.ok()) return ::testing::AssertionFailure() << "query failed";
  int64_t max_used = std::stoll((*used)[0][0].value_or("0"));
  int64_t given = std::stoll((*next)[0][0].value_or("0"));
  if (given <= max_used) return ::testing::AssertionFailure() << "target NEXTVAL " << given << " <= " << max_used;
  return ::testing::AssertionSuccess();
}

TEST_F(SyncTest, SequencesStreamToAMariadbTargetAndNotToAFile) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  const std::string out = (dir_ / "changes.jsonl").string();
  const uint16_t port = FreePort();
  WriteConfig(fmt::format("http: 127.0.0.1:{}\n", port) +
              WithFileTarget(OneToOneConfig(dir_.string(), *src, *dst), out));
  StartSluice();
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE SEQUENCE shop.ids START WITH 100 INCREMENT BY 5 CACHE 3; "
                           "CREATE TABLE shop.orders (id BIGINT PRIMARY KEY DEFAULT (NEXTVAL(shop.ids)), v INT)")
                  .ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(src->Execute(fmt::format("INSERT INTO shop.orders (v) VALUES ({}), ({})", i, i + 100)).ok());
  }
  ASSERT_TRUE(src->Execute("SELECT SETVAL(shop.ids, 5000); INSERT INTO shop.orders (v) VALUES (-1); "
                           "ALTER SEQUENCE shop.ids INCREMENT BY 7 CACHE 2; INSERT INTO shop.orders (v) VALUES (-2), "
                           "(-3), (-4); CREATE SEQUENCE shop.gone; DROP SEQUENCE shop.gone; "
                           "INSERT INTO shop.orders (v) VALUES (-5)")
                  .ok());
  // The last order comes after the DROP: once it is there, so is the DROP.
  ASSERT_TRUE(Converges(*src, kOrders, *dst, kOrders));
  ASSERT_TRUE(Converges(*src, kSequenceState, *dst, kSequenceState));
  auto gone = dst->Query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND "
                         "TABLE_NAME = 'gone'");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ((*gone)[0][0].value_or(""), "0");
  auto increment = dst->Query("SELECT increment FROM shop.ids");
  ASSERT_TRUE(increment.ok());
  EXPECT_EQ((*increment)[0][0].value_or(""), "7");
  EXPECT_TRUE(NextValueIsPastSource(*src, *dst));

  // The file has every order and nothing of the sequences.
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::ifstream in(out);
        std::string line;
        size_t orders = 0;
        while (std::getline(in, line)) orders += line.find("\"table\":\"orders\",\"pk\"") != std::string::npos;
        return orders == 25;
      },
      std::chrono::seconds(30)));
  std::ifstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_EQ(line.find("\"table\":\"ids\""), std::string::npos) << line;
    EXPECT_EQ(line.find("SEQUENCE"), std::string::npos) << line;
  }
  // Nothing of the sequence is pending on the file target (a pending age
  // that never clears would read as a growing lag there).
  HttpReply metrics = HttpGet(port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  std::istringstream lines(metrics.body);
  while (std::getline(lines, line)) {
    if (line.rfind("sluice_table_delay_seconds{", 0) != 0 || line.find("target=\"out\"") == std::string::npos) {
      continue;
    }
    EXPECT_EQ(line.find("ids"), std::string::npos) << line;
  }
}

TEST_F(SyncTest, ASnapshotCreatesSequencesFirstAndCopiesTheirState) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE SEQUENCE shop.ids START WITH 10 CACHE 4; "
                           "CREATE TABLE shop.orders (id BIGINT PRIMARY KEY DEFAULT (NEXTVAL(shop.ids)), v INT); "
                           "INSERT INTO shop.orders (v) VALUES (1), (2), (3), (4), (5), (6); "
                           "SELECT SETVAL(shop.ids, 700)")
                  .ok());
  WriteConfig(HttpPipelineConfig(dir_.string(), FreePort(), *src, dst->Url(), "initial", "latest"));
  StartSluice();
  ASSERT_TRUE(Converges(*src, kOrders, *dst, kOrders));
  ASSERT_TRUE(Converges(*src, kSequenceState, *dst, kSequenceState));
  // Streamed after the copy: the sequence goes on from its copied state.
  ASSERT_TRUE(src->Execute("INSERT INTO shop.orders (v) VALUES (7), (8), (9), (10), (11)").ok());
  ASSERT_TRUE(Converges(*src, kOrders, *dst, kOrders));
  ASSERT_TRUE(Converges(*src, kSequenceState, *dst, kSequenceState));
  EXPECT_TRUE(NextValueIsPastSource(*src, *dst));
}

// Started after the sequence was made (no snapshot), into a target made by
// hand without it: the sequence is made there from its first state.
TEST_F(SyncTest, ASequenceMissingOnTheTargetIsMadeFromItsState) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE SEQUENCE shop.ids START WITH 3 MINVALUE 2 MAXVALUE 900000 "
                           "INCREMENT BY 4 CACHE 5 CYCLE; CREATE TABLE shop.orders (id BIGINT PRIMARY KEY DEFAULT "
                           "(NEXTVAL(shop.ids)), v INT)")
                  .ok());
  ASSERT_TRUE(dst->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, v INT)").ok());
  WriteConfig(HttpPipelineConfig(dir_.string(), FreePort(), *src, dst->Url(), "never", "\"" + BinlogEnd(*src) + "\""));
  StartSluice();
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(src->Execute(fmt::format("INSERT INTO shop.orders (v) VALUES ({})", i)).ok());
  ASSERT_TRUE(Converges(*src, kOrders, *dst, kOrders));
  ASSERT_TRUE(Converges(*src, kSequenceState, *dst, kSequenceState));
  auto made = dst->Query("SHOW CREATE SEQUENCE shop.ids");
  ASSERT_TRUE(made.ok());
  EXPECT_NE((*made)[0][1].value_or("").find("start with 3 minvalue 2 maxvalue 900000 increment by 4 cache 5 cycle"),
            std::string::npos)
      << (*made)[0][1].value_or("");
  EXPECT_TRUE(NextValueIsPastSource(*src, *dst));
}

}  // namespace
}  // namespace sluice::testing
