// A PostgreSQL target whose tables were made by hand or by a migration
// tool in PostgreSQL's own idiom: the source's AUTO_INCREMENT key declared
// `GENERATED ALWAYS AS IDENTITY` (which refuses an explicit value unless
// the INSERT overrides it). Snapshot chunks, small batches (multi-row
// upserts) and a large one (COPY through a staging table) all write the
// source's key values.

#include "sink/postgres/pg_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kItems = "SELECT id, name, qty FROM shop.items ORDER BY id";

TEST_F(PgSyncTest, AnIdentityKeyGeneratedAlwaysTakesTheSourcesValues) {
  StartServers();
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT AUTO_INCREMENT PRIMARY KEY, "
                            "name VARCHAR(20), qty INT)")
                  .ok());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(src_->Execute("INSERT INTO shop.items (name, qty) VALUES ('a', 1)").ok());
  ASSERT_TRUE(pg_->Execute("CREATE SCHEMA shop AUTHORIZATION app; SET ROLE app; CREATE TABLE shop.items (id integer "
                           "GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name character varying(20), qty integer)",
                           kPgDb)
                  .ok());
  PipelineOptions o;
  o.batch_size = 1000;
  o.extra = "    chunk_rows: 10\n    snapshot: initial\n";
  StartSluiceWith(o);
  ASSERT_TRUE(PgConverges(kItems, kItems));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.items (name, qty) VALUES ('b', 2), ('c', 3); "
                            "UPDATE shop.items SET qty = qty + 1 WHERE id < 5; DELETE FROM shop.items WHERE id = 7")
                  .ok());
  ASSERT_TRUE(PgConverges(kItems, kItems));
  // 600 rows in one transaction: COPY into the staging table, then one upsert.
  Status many = src_->Execute("INSERT INTO shop.items (name, qty) SELECT 'many', seq FROM shop.seq_1_to_600");
  ASSERT_TRUE(many.ok()) << many.message();
  EXPECT_TRUE(PgConverges(kItems, kItems));
  std::string log = sluice_->FullLog();
  EXPECT_EQ(log.find(" error "), std::string::npos) << log;
}

}  // namespace
}  // namespace sluice::testing
