// XA transactions through `sluice run` into a MySQL target, end to end: a
// transaction prepared on the source reaches the target only at its
// XA COMMIT, never after XA ROLLBACK, also when sluice is killed (-9) while
// it is prepared and its target checkpoint has moved past the prepare.

#include <fmt/format.h>

#include "client/mysql/connection.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class XaRunTest : public FaultTest {
 protected:
  // An XA transaction up to XA PREPARE on a session of its own (which ends it).
  // Transactions prepared at once must touch different orders (`order`).
  std::unique_ptr<mysql::MysqlConnection> Prepare(const std::string& xid, int first, int n, int order) {
    auto session = mysql::MysqlConnection::Connect(*mysql::ConnectOptions::FromUrl(*Url::Parse(src_->Url())));
    EXPECT_TRUE(session.ok()) << session.status().message();
    if (!session.ok()) return nullptr;
    mysql::MysqlConnection& c = **session;
    EXPECT_TRUE(c.Execute(fmt::format("XA START '{}'", xid)).ok());
    EXPECT_TRUE(c.Execute(fmt::format("INSERT INTO shop.xa SELECT seq, seq FROM shop.seq_{}_to_{}", first, first + n - 1))
                    .ok());
    EXPECT_TRUE(c.Execute(fmt::format("UPDATE shop.orders SET note = 'by {}' WHERE id = {}", xid, order)).ok());
    EXPECT_TRUE(c.Execute(fmt::format("XA END '{}'", xid)).ok());
    EXPECT_TRUE(c.Execute(fmt::format("XA PREPARE '{}'", xid)).ok());
    return std::move(session).value();
  }
  std::string Dump(MariadbServer& server, const std::string& query) {
    auto rows = server.Query(query);
    return rows.ok() ? RowsToText(*rows) : rows.status().message();
  }
  std::string TargetXaRows() { return Dump(*dst_, "SELECT COUNT(*), COALESCE(SUM(v), 0) FROM shop.xa"); }
};

TEST_F(XaRunTest, PreparedTransactionsApplyAtTheirCommitAcrossAKillNine) {
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    ASSERT_TRUE(src_->Execute("CREATE TABLE shop.xa (id INT PRIMARY KEY, v INT NOT NULL)").ok());
  }));
  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  ASSERT_TRUE(ConvergesExactly(10));

  auto committed = Prepare("keep", 1, 100, 1);
  auto rolled_back = Prepare("drop", 101, 100, 2);
  ASSERT_TRUE(committed && rolled_back);
  // Later transactions commit and are applied: the target's position moves
  // past both prepares, whose rows are not there.
  ASSERT_TRUE(Transactions(*src_, 11, 10).ok());
  ASSERT_TRUE(ConvergesExactly(20));
  EXPECT_EQ(TargetXaRows(), "0|0\n");

  sluice_->Kill();
  ASSERT_TRUE(committed->Execute("XA COMMIT 'keep'").ok());
  ASSERT_TRUE(rolled_back->Execute("XA ROLLBACK 'drop'").ok());
  ASSERT_TRUE(Transactions(*src_, 21, 10).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(ConvergesExactly(30));
  const char* kXa = "SELECT id, v FROM shop.xa ORDER BY id";
  EXPECT_TRUE(Converges(*src_, kXa, *dst_, kXa, seconds(30)));
  EXPECT_EQ(TargetXaRows(), "100|5050\n");
  // Read again from the binlog: the restart was after the prepare.
  EXPECT_NE(sluice_->Log().find("XA COMMIT of xid 6b656570,,1"), std::string::npos) << sluice_->Log();  // 'keep'

  EXPECT_EQ(Dump(*dst_, "SELECT note FROM shop.orders WHERE id IN (1, 2) ORDER BY id"), "by keep\norder 2\n");

  // While running: the same without a restart.
  auto again = Prepare("again", 201, 50, 3);
  auto undone = Prepare("undone", 301, 50, 4);
  ASSERT_TRUE(again && undone);
  ASSERT_TRUE(Transactions(*src_, 31, 5).ok());
  ASSERT_TRUE(undone->Execute("XA ROLLBACK 'undone'").ok());
  ASSERT_TRUE(again->Execute("XA COMMIT 'again'").ok());
  EXPECT_TRUE(ConvergesExactly(35));
  EXPECT_TRUE(Converges(*src_, kXa, *dst_, kXa, seconds(30)));
  EXPECT_EQ(TargetXaRows(), "150|16325\n");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
