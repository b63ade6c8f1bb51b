// A MySQL source whose sessions write binlog_row_image=MINIMAL: an insert
// has only the columns its statement set, an update the key before and the
// set columns after, a delete the key. MySQL targets apply them (the
// target's defaults, the values the target has, a key moved in place);
// targets that need whole rows stop the pipeline naming the setting.

#include <gtest/gtest.h>

#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kMinimal = "SET SESSION binlog_row_image = 'MINIMAL'; ";

TEST_F(SyncTest, MinimalRowImagesReachAMysqlTargetExactly) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; "
                           "CREATE TABLE shop.t (id INT AUTO_INCREMENT PRIMARY KEY, a INT, b VARCHAR(10) DEFAULT 'x', "
                           "c TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), d TEXT, e DECIMAL(8,2) NOT NULL "
                           "DEFAULT 1.50); "
                           "CREATE TABLE shop.u (code VARCHAR(10) NOT NULL, v INT, w INT DEFAULT 7, "
                           "UNIQUE KEY (code)); "
                           "CREATE TABLE shop.k (a INT, b VARCHAR(5) DEFAULT 'q', c INT)")
                  .ok());
  std::string cfg = OneToOneConfig(dir_.string(), *src, *dst);
  cfg.replace(cfg.find("size: 100"), 9, "size: 5000");  // large batches: merged keys, bulk statements
  WriteConfig(cfg);
  StartSluice();
  // Inserts that leave columns to their defaults, one by one and in bulk.
  ASSERT_TRUE(src->Execute(std::string(kMinimal) +
                           "INSERT INTO shop.t (a) VALUES (1); INSERT INTO shop.t (id, a, d) VALUES (10, 2, 'text'); "
                           "INSERT INTO shop.t (a, b) SELECT seq, IF(seq % 3, NULL, 'y') FROM shop.seq_1_to_3000; "
                           "INSERT INTO shop.u (code) VALUES ('a'), ('b'), ('c'); "
                           "INSERT INTO shop.k (a) VALUES (1), (2), (2)")
                  .ok());
  // Updates in place of a few columns; a delete and an insert of one key in
  // one transaction; a key moved, one moved onto a key freed in the same
  // transaction, many moved by one statement; keyless and unique-key rows.
  ASSERT_TRUE(src->Execute(std::string(kMinimal) +
                           "UPDATE shop.t SET a = a * 10 WHERE id % 7 = 0; UPDATE shop.t SET d = 'dd', e = 9.25 "
                           "WHERE id % 5 = 0; DELETE FROM shop.t WHERE id % 11 = 0; "
                           "BEGIN; DELETE FROM shop.t WHERE id = 1; INSERT INTO shop.t (id, a) VALUES (1, 9); "
                           "UPDATE shop.t SET d = 'again' WHERE id = 1; COMMIT; "
                           "UPDATE shop.t SET id = 100000 WHERE id = 10; "
                           "BEGIN; UPDATE shop.t SET id = 5000, b = 'moved' WHERE id = 12; "
                           "INSERT INTO shop.t (id, a) VALUES (12, 12); UPDATE shop.t SET id = 90000 WHERE id = 5000; "
                           "COMMIT; "
                           "UPDATE shop.t SET id = id + 200000, a = 0 WHERE id BETWEEN 20 AND 60; "
                           "UPDATE shop.u SET v = 5 WHERE code = 'b'; UPDATE shop.u SET code = 'z' WHERE code = 'a'; "
                           "DELETE FROM shop.u WHERE code = 'c'; "
                           "UPDATE shop.k SET c = 3 WHERE a = 1; DELETE FROM shop.k WHERE a = 2 LIMIT 1")
                  .ok());
  for (const char* table : {"t", "u", "k"}) {
    const std::string q = fmt::format("SELECT * FROM shop.{} ORDER BY 1, 2, 3", table);
    EXPECT_TRUE(Converges(*src, q, *dst, q)) << table;
  }
  auto moved = dst->QueryValue("SELECT CONCAT_WS(',', a, b, e) FROM shop.t WHERE id = 90000");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, "2,moved,1.50") << "the row moved twice from 12 kept its columns and took the one set";
  EXPECT_EQ(sluice_->Log().find("error"), std::string::npos) << sluice_->Log();
}

TEST_F(SyncTest, MinimalRowImagesStopAPipelineWithATargetThatNeedsWholeRows) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(
      src->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, a INT, b INT DEFAULT 4)").ok());
  WriteConfig(WithFileTarget(OneToOneConfig(dir_.string(), *src, *dst), (dir_ / "changes.jsonl").string()));
  StartSluice();
  ASSERT_TRUE(src->Execute(std::string(kMinimal) + "INSERT INTO shop.t (id, a) VALUES (1, 1)").ok());
  EXPECT_TRUE(LogShows("pipeline copy: table `shop`.`t`: the row image lacks columns the target needs; set "
                       "binlog_row_image=FULL on the source"));
  auto rows = dst->QueryValue("SELECT COUNT(*) FROM shop.t");
  EXPECT_TRUE(!rows.ok() || *rows == "0") << "nothing applied where a target cannot follow";
}

}  // namespace
}  // namespace sluice::testing
