// Tables created on a PostgreSQL source while a pipeline runs, matching its
// rules (`public.*`). Before, their rows were dropped silently: the
// publication sluice made named the tables of the start, and the stream
// decoded only those. Now a publication sluice creates for whole schemas is
// FOR TABLES IN SCHEMA (a superuser's right on PostgreSQL 15), and a table
// the stream shows that the rules select but the start did not stops the
// capture once: `sluice run` starts the pipeline again, which selects it
// (creating its target tables) and reads its rows from the slot. Without
// the right to publish a schema, sluice's own publication names tables: a
// new table is found in the catalog (every 5 s) and added to the
// publication at the new start; the rows written to it before were never
// streamed: with `snapshot: initial` they are copied alongside the stream
// (before, they were only named, like with `snapshot: never`).

#include "pipeline/pg_source_fixture.h"

namespace sluice::testing {
namespace {

class PgSourceNewTablesTest : public PgSourceTest {};

TEST_F(PgSourceNewTablesTest, ATableCreatedWhileRunningIsSelectedAndCarried) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  // A source user allowed to publish whole schemas.
  ASSERT_TRUE(pg_->Execute("ALTER ROLE repl SUPERUSER").ok());
  Sql("CREATE TABLE items (id int PRIMARY KEY, n int)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  EXPECT_EQ(Value("SELECT string_agg(n.nspname, ',') FROM pg_publication_namespace pn JOIN pg_namespace n ON "
                  "n.oid = pn.pnnspid"),
            "public");
  Sql("INSERT INTO items VALUES (1, 1)");
  Sql("CREATE TABLE later (id int PRIMARY KEY, v text)");
  Sql("INSERT INTO later VALUES (1, 'a'), (2, 'b'); INSERT INTO items VALUES (2, 2)");
  Sql("UPDATE later SET v = 'c' WHERE id = 2");
  EXPECT_TRUE(Converge("SELECT id, v FROM later ORDER BY id", "SELECT id, v FROM public.later ORDER BY id",
                       "SELECT id, v FROM public.later ORDER BY id"));
  EXPECT_TRUE(Converge("SELECT id, n FROM items ORDER BY id", "SELECT id, n FROM public.items ORDER BY id",
                       "SELECT id, n FROM public.items ORDER BY id"));
  ASSERT_TRUE(WaitForState("p", "running", std::chrono::seconds(30)));
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("table \"public\".\"later\" is new to the pipeline"), std::string::npos) << log;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSourceNewTablesTest, WithoutSchemaPublishingTheTableIsAddedAndItsEarlierRowsNamed) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, n int)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  Sql("CREATE TABLE later (id int PRIMARY KEY, v text)");
  Sql("INSERT INTO later VALUES (1, 'a'), (2, 'b')");
  ASSERT_TRUE(WaitUntil([&] { return sluice_->FullLog().find("added to publication") != std::string::npos; },
                        std::chrono::seconds(60)))
      << sluice_->FullLog();
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("table \"public\".\"later\" is new to the pipeline (created since it started)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("copy them with `sluice snapshot -c"), std::string::npos) << log;
  Sql("INSERT INTO later VALUES (3, 'c'); UPDATE later SET v = 'B' WHERE id = 2");
  EXPECT_TRUE(Converge("SELECT id, v FROM later WHERE id = 3", "SELECT id, v FROM public.later WHERE id = 3",
                       "SELECT id, v FROM public.later WHERE id = 3"));
  ASSERT_TRUE(WaitForState("p", "running", std::chrono::seconds(30)));
  Status copied = RunCommand({SLUICE_BINARY, "snapshot", "-c", config_, "--pipeline", "p", "--progress", "plain"},
                             (dir_ / "snapshot.log").string());
  ASSERT_TRUE(copied.ok()) << copied.message();
  EXPECT_TRUE(Converge("SELECT id, v FROM later ORDER BY id", "SELECT id, v FROM public.later ORDER BY id",
                       "SELECT id, v FROM public.later ORDER BY id"));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSourceNewTablesTest, WithSnapshotInitialTheRowsWrittenBeforeItWasPublishedAreCopied) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, n int)");
  WritePipeline("      - match: \"public.*\"\n", "    snapshot: initial\n");
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", std::chrono::seconds(30)));
  Sql("CREATE TABLE later (id int PRIMARY KEY, v text); CREATE TABLE keyless (v text); "
      "ALTER TABLE keyless REPLICA IDENTITY FULL");
  Sql("INSERT INTO later VALUES (1, 'a'), (2, 'b'); INSERT INTO keyless VALUES ('k')");
  const char* kLater[] = {"SELECT id, v FROM later ORDER BY id", "SELECT id, v FROM public.later ORDER BY id",
                          "SELECT id, v FROM public.later ORDER BY id"};
  EXPECT_TRUE(Converge(kLater[0], kLater[1], kLater[2]));
  Sql("INSERT INTO later VALUES (3, 'c'); UPDATE later SET v = 'B' WHERE id = 2; DELETE FROM later WHERE id = 1");
  EXPECT_TRUE(Converge(kLater[0], kLater[1], kLater[2]));
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("new table(s) copied"), std::string::npos) << log;
  EXPECT_EQ(log.find("were never streamed (snapshot: never)"), std::string::npos) << log;
  EXPECT_NE(log.find("keyless added to publication"), std::string::npos) << log;  // named, not copied
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  // Copied once: the next start has nothing left to copy.
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "running", std::chrono::seconds(30)));
  Sql("INSERT INTO later VALUES (4, 'd')");
  EXPECT_TRUE(Converge(kLater[0], kLater[1], kLater[2]));
  EXPECT_EQ(sluice_->FullLog().find("copying the rows"), std::string::npos) << sluice_->FullLog();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The rules changed between two starts (a widened `where:`, a table added
// to an explicit list): the rows they now select were never streamed. A
// MySQL source's pipeline copied them; a PostgreSQL source's did not (the
// rows stayed missing on the targets). Now they are copied alongside the
// stream and the copied tables compared with their targets afterwards.
TEST_F(PgSourceNewTablesTest, TablesTheChangedRulesNewlySelectAreCopied) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, n int); CREATE TABLE other (id int PRIMARY KEY, v text); "
      "INSERT INTO items SELECT g, g FROM generate_series(1, 6) g; INSERT INTO other VALUES (1, 'a'), (2, 'b')");
  WritePipeline("      - match: \"public.items\"\n        where: \"n <= 2\"\n", "    snapshot: initial\n");
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  const char* kItems[] = {"SELECT id, n FROM items ORDER BY id", "SELECT id, n FROM public.items ORDER BY id",
                          "SELECT id, n FROM public.items ORDER BY id"};
  EXPECT_TRUE(Converge("SELECT id, n FROM items WHERE n <= 2 ORDER BY id", kItems[1], kItems[2]));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  WritePipeline("      - match: \"public.items\"\n      - match: \"public.other\"\n", "    snapshot: initial\n");
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  Sql("UPDATE items SET n = 10 WHERE id = 5; INSERT INTO other VALUES (3, 'c')");
  EXPECT_TRUE(Converge(kItems[0], kItems[1], kItems[2]));
  EXPECT_TRUE(Converge("SELECT id, v FROM other ORDER BY id", "SELECT id, v FROM public.other ORDER BY id",
                       "SELECT id, v FROM public.other ORDER BY id"));
  ASSERT_TRUE(WaitUntil([&] { return sluice_->FullLog().find("compared with their targets") != std::string::npos; },
                        std::chrono::seconds(60)));
  EXPECT_NE(sluice_->FullLog().find("new table(s) compared with their targets after the copy: consistent"),
            std::string::npos)
      << sluice_->FullLog();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

// A table without a primary key or replica identity in a publication makes
// PostgreSQL refuse every UPDATE and DELETE of it: sluice's publication
// broke the application's writes. Now the pipeline refuses the table,
// saying how to give it an identity, and the source's writes go on.
TEST_F(PgSourceNewTablesTest, ATableWithoutReplicaIdentityIsRefusedRatherThanBreakingTheSourcesWrites) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, n int); CREATE TABLE audit (txn int, msg text); "
      "INSERT INTO audit VALUES (1, 'a')");
  WritePipeline();
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(30)));
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("table \"public\".\"audit\" has no primary key and no replica identity"), std::string::npos)
      << log;
  EXPECT_NE(log.find("ALTER TABLE \"public\".\"audit\" REPLICA IDENTITY FULL;"), std::string::npos) << log;
  Sql("UPDATE audit SET msg = 'b' WHERE txn = 1; DELETE FROM audit WHERE txn = 1");  // still works
  EXPECT_EQ(sluice_->Stop(), 1 << 8) << sluice_->Log();  // exit status 1: a pipeline had failed

  // As told: the whole old row identifies it, and it is carried.
  Sql("ALTER TABLE audit REPLICA IDENTITY FULL");
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "running", std::chrono::seconds(30))) << sluice_->FullLog();
  Sql("INSERT INTO audit VALUES (2, 'x'), (3, 'y'); UPDATE audit SET msg = 'z' WHERE txn = 2; "
      "DELETE FROM audit WHERE txn = 3");
  const char* kAudit = "SELECT txn, msg FROM public.audit ORDER BY txn";
  EXPECT_TRUE(Converge("SELECT txn, msg FROM audit ORDER BY txn", kAudit, kAudit));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The first start creates the slot only once the publication exists: a
// change made in between is decoded by pgoutput against the publication as
// of that change, and before, its absence failed the stream for good
// ("publication ... does not exist").
TEST_F(PgSourceNewTablesTest, AChangeRightAfterTheSlotIsCreatedIsCarried) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, n int)");
  WritePipeline();
  const std::string go = (dir_ / "go").string();
  ::setenv("SLUICE_SYNC_POINTS", ("pg.start.slot=wait:" + go).c_str(), 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(WaitUntil([&] { return sluice_->FullLog().find("waiting for") != std::string::npos; },
                        std::chrono::seconds(30)))
      << sluice_->FullLog();
  Sql("INSERT INTO items VALUES (1, 1)");
  std::ofstream(go).put('\n');
  const char* kItems = "SELECT id, n FROM public.items ORDER BY id";
  EXPECT_TRUE(Converge("SELECT id, n FROM items ORDER BY id", kItems, kItems));
  EXPECT_EQ(sluice_->FullLog().find("does not exist"), std::string::npos) << sluice_->FullLog();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A publication dropped while the pipeline was stopped, a change made, and
// the publication made again at the next start: pgoutput cannot decode that
// change. The error says how to get out (before: only PostgreSQL's words).
TEST_F(PgSourceNewTablesTest, AChangeMadeWhileThePublicationWasGoneStopsSayingHowToRecover) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, n int)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  Sql("INSERT INTO items VALUES (1, 1)");
  const char* kItems = "SELECT id, n FROM public.items ORDER BY id";
  ASSERT_TRUE(Converge("SELECT id, n FROM items ORDER BY id", kItems, kItems));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  Sql("DROP PUBLICATION sluice_sluice_p; INSERT INTO items VALUES (2, 2)");
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(60))) << sluice_->FullLog();
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("SELECT pg_drop_replication_slot('sluice_p')"), std::string::npos) << log;
  EXPECT_EQ(sluice_->Stop(), 1 << 8) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
