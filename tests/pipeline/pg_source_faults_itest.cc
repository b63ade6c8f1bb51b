// A PostgreSQL source server killed with SIGKILL (postmaster and every
// backend at once) and started again on the same data directory and port,
// several times while a writer runs: sluice keeps running, reconnects when
// the server is back (crash recovery may put the slot's confirmed position
// back to its last checkpoint), and the targets converge to the source with
// nothing lost and nothing applied twice.

#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "pipeline/pg_source_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(PgSourceTest, SourceServerKilledNineUnderLoadConvergesExactly) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  // audit has no key: a change applied twice would show as an extra row.
  // done: the writer's own record of which transactions committed (a
  // commit whose answer the crash cut off is not run twice).
  Sql("CREATE TABLE orders (id int PRIMARY KEY, amount int NOT NULL, note text); CREATE TABLE audit (txn int, msg "
      "text); CREATE TABLE done (txn int PRIMARY KEY); ALTER TABLE audit REPLICA IDENTITY FULL");
  ASSERT_NO_FATAL_FAILURE(StartPipeline("      - match: \"public.orders\"\n      - match: \"public.audit\"\n"));
  constexpr int kTransactions = 600;
  std::atomic<int> committed{0};
  std::string writer_error;
  std::jthread writer([&] {
    auto deadline = std::chrono::steady_clock::now() + 5min;
    for (int i = 1; i <= kTransactions;) {
      Status st = pg_->Execute(fmt::format("SET ROLE repl; BEGIN; INSERT INTO done VALUES ({0}); INSERT INTO orders "
                                           "VALUES ({0}, {0}, 'n') ON CONFLICT (id) DO NOTHING; UPDATE orders SET "
                                           "amount = amount + 1 WHERE id = {1}; DELETE FROM orders WHERE id = {2}; "
                                           "INSERT INTO audit VALUES ({0}, 't'); COMMIT",
                                           i, i / 2, i - 200),
                               "shop");
      bool done_before = !st.ok() && st.message().find("duplicate key value") != std::string::npos;
      if (done_before) (void)pg_->Execute("ROLLBACK", "shop");  // leave the failed transaction
      if (st.ok() || done_before) {
        committed = i++;
        std::this_thread::sleep_for(3ms);
        continue;
      }
      // The server is down or restarting: the same transaction again.
      if (std::chrono::steady_clock::now() > deadline) {
        writer_error = st.message();
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  auto applied = [&] {
    auto n = pg_->QueryValue("SELECT count(*) FROM public.audit", "target");
    return n.ok() ? std::stoll(*n) : 0;
  };
  for (long long at : {60, 180, 300}) {
    ASSERT_TRUE(WaitUntil([&] { return applied() >= at; }, 120s)) << sluice_->Log();
    EXPECT_LT(committed.load(), kTransactions);  // the writer is still at it
    ASSERT_TRUE(pg_->Crash().ok());
    ASSERT_TRUE(pg_->Restart().ok());
    EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  }
  writer.join();
  ASSERT_TRUE(writer_error.empty()) << writer_error;
  ASSERT_EQ(committed.load(), kTransactions);
  const std::string orders = "SELECT id, amount, note FROM {}orders ORDER BY id";
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(orders), ""), fmt::format(fmt::runtime(orders), "public."),
                       fmt::format(fmt::runtime(orders), "public."), 120s));
  const std::string audit = "SELECT txn, msg, count(*) FROM {}audit GROUP BY txn, msg ORDER BY txn";
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(audit), ""), fmt::format(fmt::runtime(audit), "public."),
                       fmt::format(fmt::runtime(audit), "public.")));
  EXPECT_EQ(Value("SELECT count(*) FROM public.audit", "target"), std::to_string(kTransactions));
  EXPECT_EQ(Value("SELECT count(*) FROM public.orders", "target"), Value("SELECT count(*) FROM orders"));
  auto my_count = my_->QueryValue("SELECT COUNT(*) FROM public.audit");
  ASSERT_TRUE(my_count.ok()) << my_count.status().message();
  EXPECT_EQ(*my_count, std::to_string(kTransactions));
  EXPECT_EQ(PipelineStatus("p").value("state", ""), "running");
  EXPECT_NE(sluice_->FullLog().find("reconnecting after"), std::string::npos) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
