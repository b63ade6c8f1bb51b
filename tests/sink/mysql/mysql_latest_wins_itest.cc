// latest_wins on a MySQL/MariaDB target (design §13, MysqlLoader::LatestWins):
// a conflict is counted once, when the transaction that decided it commits.
// A batch whose COMMIT fails (its connections killed just before it) is
// retried and decides again; the count must not double.

#include <gtest/gtest.h>

#include <atomic>

#include "core/sync_point.h"
#include "core/url.h"
#include "harness/mariadb_server.h"
#include "sink/fence_fixture.h"
#include "sink/mysql/mysql_loader.h"

namespace sluice::sink::mysql {
namespace {

using sluice::testing::MariadbServer;

TargetTablePtr VersionedTable() {
  auto schema = std::make_shared<TableSchema>();
  schema->db = "shop";
  schema->table = "t";
  for (const char* name : {"id", "v", "ver"}) {
    ColumnMeta c;
    c.name = name;
    c.type = fence_test::kMysqlTypeLong;
    schema->columns.push_back(c);
  }
  schema->primary_key = {0};
  auto t = std::make_shared<TargetTable>();
  t->db = "shop";
  t->table = "t";
  t->columns = {"id", "v", "ver"};
  t->key = {0};
  t->source = "shop.t";
  t->name_hash = TableNameHash(*t);
  t->source_schema = schema;
  t->source_index = {0, 1, 2};
  return t;
}

SinkChange Update(const TargetTablePtr& t, uint64_t txn, int id, int v, int ver) {
  SinkChange c;
  c.kind = SinkChange::Kind::kUpsert;
  c.op = Op::kUpdate;
  c.table = t;
  c.values = {Value::Int(id), Value::Int(v), Value::Int(ver)};
  c.pos = StreamPos{"binlog.000001", 1000 + 100 * txn, 1};
  return c;
}

class MysqlLatestWinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MariadbServer::Start({.server_id = 2});
    ASSERT_TRUE(s.ok()) << s.status().message();
    dst_ = std::move(s).value();
    ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT, ver BIGINT); "
                              "INSERT INTO shop.t VALUES (1, 100, 50), (2, 200, 50)")
                    .ok());
  }
  void TearDown() override { SetSyncPointAction("mysql.partition.before_commit", nullptr); }

  std::unique_ptr<MariadbServer> dst_;
};

TEST_F(MysqlLatestWinsTest, ConflictOfARetriedBatchCountsOnce) {
  auto url = Url::Parse(dst_->Url());
  ASSERT_TRUE(url.ok());
  auto co = sluice::mysql::ConnectOptions::FromUrl(*url);
  ASSERT_TRUE(co.ok());
  LoaderOptions o;
  o.pipeline = "p";
  o.target = "dst";
  o.connect = *co;
  o.parallel = 1;
  o.conflict_column = "ver";
  auto loader = MysqlLoader::Open(o);
  ASSERT_TRUE(loader.ok()) << loader.status().message();

  // The first COMMIT is preceded by killing every session of the loader:
  // the batch (its conflict decided) is rolled back, then retried.
  std::atomic<int> passes{0};
  SetSyncPointAction("mysql.partition.before_commit", [&] {
    if (passes++ != 0) return;
    auto ids = dst_->Query(
        "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND user = 'root' "
        "AND command <> 'Daemon'");
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    for (const auto& row : *ids) (void)dst_->Execute("KILL " + row[0].value_or("0"));
  });
  auto t = VersionedTable();
  // id 1: older than the target's row (kept, a conflict); id 2: newer (applied).
  std::vector<SinkChange> batch = {Update(t, 1, 1, 111, 40), Update(t, 1, 2, 222, 60)};
  Status st = fence_test::ApplyLikeThePipeline(**loader, batch, fence_test::EndOf(1));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GE(passes.load(), 2) << "the batch was not retried";
  auto rows = dst_->Query("SELECT id, v, ver FROM shop.t ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0][1].value_or(""), "100");
  EXPECT_EQ((*rows)[1][1].value_or(""), "222");
  auto conflicts = (*loader)->conflicts();
  EXPECT_EQ(conflicts.size(), 1u);
  EXPECT_EQ((conflicts[{"shop.t", "target_kept"}]), 1u);

  // Another conflict, no failure: counted.
  ASSERT_TRUE((*loader)->ApplyBatch({Update(t, 2, 1, 112, 41)}, fence_test::EndOf(2)).ok());
  EXPECT_EQ(((*loader)->conflicts()[{"shop.t", "target_kept"}]), 2u);
}

}  // namespace
}  // namespace sluice::sink::mysql
