// A PostgreSQL target whose tables were made by hand or by a migration
// tool in PostgreSQL's own idiom: the source's AUTO_INCREMENT key declared
// `GENERATED ALWAYS AS IDENTITY` (which refuses an explicit value unless
// the INSERT overrides it), columns the target generates itself (which
// refuse any value). Snapshot chunks, small batches (multi-row upserts)
// and a large one (COPY through a staging table) are each exercised.

#include "sink/postgres/pg_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kItems = "SELECT id, name, qty FROM shop.items ORDER BY id";

class PgTargetSchemaTest : public PgSyncTest {
 protected:
  // Makes schema shop on the target with `create` (as its owner would),
  // then starts sluice copying in chunks of 10 rows and streaming on in
  // batches of up to 1,000.
  void MakeTargetTableAndStart(const std::string& create) {
    ASSERT_TRUE(pg_->Execute("CREATE SCHEMA shop AUTHORIZATION app; SET ROLE app; " + create, kPgDb).ok());
    PipelineOptions o;
    o.batch_size = 1000;
    o.extra = "    chunk_rows: 10\n    snapshot: initial\n";
    StartSluiceWith(o);
  }
};

TEST_F(PgTargetSchemaTest, AnIdentityKeyGeneratedAlwaysTakesTheSourcesValues) {
  StartServers();
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT AUTO_INCREMENT PRIMARY KEY, "
                            "name VARCHAR(20), qty INT)")
                  .ok());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(src_->Execute("INSERT INTO shop.items (name, qty) VALUES ('a', 1)").ok());
  ASSERT_NO_FATAL_FAILURE(MakeTargetTableAndStart("CREATE TABLE shop.items (id integer GENERATED ALWAYS AS IDENTITY "
                                                  "PRIMARY KEY, name character varying(20), qty integer)"));
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

// The target computes a column itself (`GENERATED ALWAYS AS (...) STORED`,
// here where the source has a generated column too, and one where the
// source's is a plain column): sluice leaves it out of what it writes, in
// snapshot chunks, multi-row upserts and COPY alike; the values agree.
TEST_F(PgTargetSchemaTest, ColumnsTheTargetGeneratesAreLeftToIt) {
  StartServers();
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.lines (id INT AUTO_INCREMENT, k INT, price "
                            "DECIMAL(10,2), qty INT, total DECIMAL(12,2) AS (price * qty) STORED, label VARCHAR(30), "
                            "note VARCHAR(10), PRIMARY KEY (k, id), KEY (id))")
                  .ok());
  auto insert = [&](int rows) {
    return src_->Execute(fmt::format("INSERT INTO shop.lines (k, price, qty, label, note) SELECT seq % 3, seq + 0.25, "
                                     "seq % 7, CONCAT('L', seq % 7), 'n' FROM shop.seq_1_to_{}",
                                     rows));
  };
  ASSERT_TRUE(insert(40).ok());
  ASSERT_NO_FATAL_FAILURE(MakeTargetTableAndStart(
      "CREATE TABLE shop.lines (id integer, k integer, price numeric(10,2), qty integer, total numeric(12,2) "
      "GENERATED ALWAYS AS (price * qty) STORED, label character varying(30) GENERATED ALWAYS AS ('L' || qty) STORED, "
      "note character varying(10), PRIMARY KEY (k, id))"));
  const std::string lines = "SELECT k, id, price, qty, total, label, note FROM shop.lines ORDER BY k, id";
  ASSERT_TRUE(PgConverges(lines, lines));
  ASSERT_TRUE(src_->Execute("UPDATE shop.lines SET qty = qty + 1, label = CONCAT('L', qty), note = 'm' WHERE "
                            "id < 20; DELETE FROM shop.lines WHERE id = 3")
                  .ok());
  ASSERT_TRUE(insert(2).ok());
  ASSERT_TRUE(PgConverges(lines, lines));
  ASSERT_TRUE(insert(600).ok());  // COPY into the staging table, then one upsert
  EXPECT_TRUE(PgConverges(lines, lines));
  std::string log = sluice_->FullLog();
  EXPECT_EQ(log.find(" error "), std::string::npos) << log;
}

}  // namespace
}  // namespace sluice::testing
