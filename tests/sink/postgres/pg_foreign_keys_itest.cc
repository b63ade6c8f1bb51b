// Foreign keys and triggers on a PostgreSQL target's tables (a schema made
// by hand or by a migration tool). sluice writes a source transaction's
// rows over parallel partitions and grouped by table, so a child row can
// reach the target before its parent. Where its user may take PostgreSQL's
// replica role (here granted with GRANT SET ON PARAMETER), the target's
// foreign keys and triggers do not act on its writes, as for PostgreSQL's
// own replication; where it may not, a batch a foreign key refuses is
// applied again in source order on one connection, and a warning names the
// constraints, the triggers and the grant.

#include "sink/postgres/pg_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kCustomers = "SELECT id, name FROM shop.customers ORDER BY id";
constexpr const char* kOrders = "SELECT id, customer_id, amount FROM shop.orders ORDER BY id";

class PgForeignKeysTest : public PgSyncTest {
 protected:
  // The source's tables (orders cascade with their customer) and the same
  // tables made on the target by hand, owned by `writer`, a user that is
  // no superuser, with a foreign key and a trigger that notes each order
  // inserted into a table of the target's own.
  void MakeSchemas(bool grant_role) {
    StartServers();
    ASSERT_TRUE(pg_->CreateUser("writer", "pw", /*superuser=*/false).ok());
    ASSERT_TRUE(pg_->Execute(fmt::format("ALTER DATABASE {} OWNER TO writer", kPgDb)).ok());
    if (grant_role) {
      ASSERT_TRUE(pg_->Execute("GRANT SET ON PARAMETER session_replication_role TO writer").ok());
    }
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; "
                              "CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(20)); "
                              "CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT NOT NULL, amount INT, "
                              "FOREIGN KEY (customer_id) REFERENCES shop.customers (id) ON DELETE CASCADE)")
                    .ok());
    ASSERT_TRUE(pg_->Execute("CREATE SCHEMA shop AUTHORIZATION writer; SET ROLE writer; "
                             "CREATE TABLE shop.customers (id integer PRIMARY KEY, name character varying(20)); "
                             "CREATE TABLE shop.orders (id integer PRIMARY KEY, customer_id integer NOT NULL "
                             "REFERENCES shop.customers (id), amount integer); "
                             "CREATE TABLE shop.order_notes (order_id integer); "
                             "CREATE FUNCTION shop.note_order() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                             "INSERT INTO shop.order_notes VALUES (NEW.id); RETURN NEW; END $$; "
                             "CREATE TRIGGER note_order AFTER INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION "
                             "shop.note_order()",
                             kPgDb)
                    .ok());
  }

  std::string WriterUrl() const { return pg_->Url("writer", "pw", kPgDb); }

  void Start(const std::string& extra) {
    PipelineOptions o;
    o.parallel = 4;
    o.extra = extra;
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), WriterUrl(), o));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }

  // Transactions that each make customers and their orders (children after
  // parents in the statement order, spread over partitions by key), move
  // orders to a customer made in the same transaction, and (`deletes`)
  // delete a customer whose orders the source cascades (a batch holding a
  // cascade is applied in source order anyway).
  void Workload(int first, bool deletes) {
    for (int t = first; t < first + 20; ++t) {
      const int c = t * 10;
      ASSERT_TRUE(src_->Execute(fmt::format(
                      "BEGIN; INSERT INTO shop.customers VALUES ({0}, 'c{0}'), ({1}, 'c{1}'); "
                      "INSERT INTO shop.orders VALUES ({2}, {0}, 1), ({3}, {0}, 2), ({4}, {1}, 3), ({5}, {1}, 4); "
                      "INSERT INTO shop.customers VALUES ({6}, 'c{6}'); UPDATE shop.orders SET customer_id = {6} "
                      "WHERE id = {3}; COMMIT",
                      c, c + 1, c * 10, c * 10 + 1, c * 10 + 2, c * 10 + 3, c + 2))
                      .ok());
      if (deletes && t % 4 == 0) {
        ASSERT_TRUE(src_->Execute(fmt::format("DELETE FROM shop.customers WHERE id = {}", c)).ok());
      }
    }
  }
};

TEST_F(PgForeignKeysTest, WithTheReplicaRoleForeignKeysAndTriggersDoNotActOnReplicatedRows) {
  MakeSchemas(/*grant_role=*/true);
  // Rows before the start, copied in parallel chunks (orders' chunks may
  // come before their customers').
  for (int c = 1; c <= 40; ++c) {
    ASSERT_TRUE(src_->Execute(fmt::format("INSERT INTO shop.customers VALUES ({0}, 'c{0}'); INSERT INTO "
                                          "shop.orders VALUES ({1}, {0}, 5), ({2}, {0}, 6)",
                                          5000 + c, 1000000 + c * 2, 1000000 + c * 2 + 1))
                    .ok());
  }
  Start("    chunk_rows: 10\n    snapshot: initial\n");
  ASSERT_NO_FATAL_FAILURE(Workload(1, /*deletes=*/false));
  ASSERT_NO_FATAL_FAILURE(Workload(100, /*deletes=*/true));
  EXPECT_TRUE(PgConverges(kCustomers, kCustomers));
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  auto notes = pg_->QueryValue("SELECT count(*) FROM shop.order_notes", kPgDb);
  ASSERT_TRUE(notes.ok()) << notes.status().message();
  EXPECT_EQ(*notes, "0");  // the trigger did not fire for replicated rows
  std::string log = sluice_->FullLog();
  EXPECT_EQ(log.find("session_replication_role"), std::string::npos) << log;
  EXPECT_EQ(log.find(" error "), std::string::npos) << log;
}

TEST_F(PgForeignKeysTest, WithoutTheRoleARefusedBatchIsAppliedInSourceOrder) {
  MakeSchemas(/*grant_role=*/false);
  Start("");
  ASSERT_NO_FATAL_FAILURE(Workload(1, /*deletes=*/false));
  EXPECT_TRUE(PgConverges(kCustomers, kCustomers));
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  std::string log = sluice_->FullLog();
  // At the start: what acts on sluice's writes, and the grant that stops it.
  EXPECT_NE(log.find("foreign key orders_customer_id_fkey on shop.orders"), std::string::npos) << log;
  EXPECT_NE(log.find("trigger note_order on shop.orders"), std::string::npos) << log;
  EXPECT_NE(log.find("GRANT SET ON PARAMETER session_replication_role TO \"writer\""), std::string::npos) << log;
  EXPECT_NE(log.find("applied in source order on one connection from now on"), std::string::npos) << log;
  EXPECT_EQ(log.find(" error "), std::string::npos) << log;
  // In source order from then on, the source's cascades included.
  ASSERT_NO_FATAL_FAILURE(Workload(100, /*deletes=*/true));
  EXPECT_TRUE(PgConverges(kCustomers, kCustomers));
  EXPECT_TRUE(PgConverges(kOrders, kOrders));
  nlohmann::json s = PipelineStatus("p");
  EXPECT_EQ(s.value("state", ""), "running") << s.dump();
}

}  // namespace
}  // namespace sluice::testing
