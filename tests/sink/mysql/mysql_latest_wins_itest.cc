// latest_wins on a MySQL/MariaDB target (design §13, MysqlLoader::LatestWins):
// the contract's rules at their edges (ties, NULL, deletes, an update of a
// missing row), and a conflict is counted once, when the transaction that
// decided it commits: a batch whose COMMIT fails (its connections killed
// just before it) is retried and decides again; the count must not double.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <optional>

#include "core/change_event.h"
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

Value Ver(std::optional<int> ver) { return ver ? Value::Int(*ver) : Value::Null(); }

// Row `ordinal` of source transaction `txn`.
SinkChange Change(const TargetTablePtr& t, SinkChange::Kind kind, Op op, int id, int v, std::optional<int> ver,
                  uint64_t txn, uint64_t ordinal) {
  SinkChange c;
  c.kind = kind;
  c.op = op;
  c.table = t;
  c.values = {Value::Int(id), Value::Int(v), Ver(ver)};
  c.pos = StreamPos{"binlog.000001", 1000 + 100 * txn, ordinal};
  return c;
}

// A delete as the pipeline makes it: its before image (the row it removed
// on the source) rides along in the origin event.
SinkChange Delete(const TargetTablePtr& t, uint64_t txn, int id, int v, std::optional<int> ver, uint64_t ordinal) {
  SinkChange c = Change(t, SinkChange::Kind::kDelete, Op::kDelete, id, v, ver, txn, ordinal);
  auto ev = std::make_shared<ChangeEvent>();
  ev->op = Op::kDelete;
  ev->table = t->source_schema;
  ev->before.present = true;
  ev->before.values = c.values;
  c.origin = ev;
  return c;
}

SinkChange Update(const TargetTablePtr& t, uint64_t txn, int id, int v, int ver) {
  return Change(t, SinkChange::Kind::kUpsert, Op::kUpdate, id, v, ver, txn, 1);
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
  // A loader into dst_, one partition, latest_wins on `ver`.
  Result<std::unique_ptr<MysqlLoader>> OpenLoader() {
    auto url = Url::Parse(dst_->Url());
    if (!url.ok()) return url.status();
    auto co = sluice::mysql::ConnectOptions::FromUrl(*url);
    if (!co.ok()) return co.status();
    LoaderOptions o;
    o.pipeline = "p";
    o.target = "dst";
    o.connect = *co;
    o.parallel = 1;
    o.conflict_column = "ver";
    return MysqlLoader::Open(o);
  }

  std::unique_ptr<MariadbServer> dst_;
};

TEST_F(MysqlLatestWinsTest, ConflictOfARetriedBatchCountsOnce) {
  auto loader = OpenLoader();
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

// Design §13: an update or insert applies when its value is at least the
// target's (a tie applies the incoming row), a delete when its before
// image's value is at least the target's; NULL on a side: the change
// applies; an update of a missing row is inserted (even one that did not
// raise the column).
TEST_F(MysqlLatestWinsTest, TiesAndNullsApplyAndADeleteNeedsItsBeforeImageAtLeastTheTargets) {
  ASSERT_TRUE(dst_->Execute("INSERT INTO shop.t VALUES (3, 300, NULL), (4, 400, 50), (5, 500, 50), (7, 700, 50)").ok());
  auto loader = OpenLoader();
  ASSERT_TRUE(loader.ok()) << loader.status().message();
  auto t = VersionedTable();
  using K = SinkChange::Kind;
  std::vector<SinkChange> batch = {
      Change(t, K::kUpsert, Op::kUpdate, 1, 111, 50, 1, 1),  // tie: applies
      Change(t, K::kUpsert, Op::kUpdate, 2, 222, {}, 1, 2),  // incoming NULL: applies
      Change(t, K::kUpsert, Op::kUpdate, 3, 333, 10, 1, 3),  // target NULL: applies
      Delete(t, 1, 4, 400, 49, 4),                           // before image older: kept
      Delete(t, 1, 5, 500, 50, 5),                           // before image the same: applies
      Change(t, K::kUpsert, Op::kUpdate, 6, 600, 1, 1, 6),   // missing row: inserted
      Change(t, K::kUpsert, Op::kInsert, 7, 777, 49, 1, 7),  // an older insert: kept
  };
  Status st = fence_test::ApplyLikeThePipeline(**loader, batch, fence_test::EndOf(1));
  ASSERT_TRUE(st.ok()) << st.message();
  auto rows = dst_->Query("SELECT id, v, IFNULL(ver, 'NULL') FROM shop.t ORDER BY id");
  ASSERT_TRUE(rows.ok());
  std::string got;
  for (const auto& r : *rows) {
    got += fmt::format("{}|{}|{}\n", r[0].value_or("?"), r[1].value_or("?"), r[2].value_or("?"));
  }
  EXPECT_EQ(got, "1|111|50\n2|222|NULL\n3|333|10\n4|400|50\n6|600|1\n7|700|50\n");
  auto conflicts = (*loader)->conflicts();
  EXPECT_EQ(conflicts.size(), 2u);
  EXPECT_EQ((conflicts[{"shop.t", "target_kept"}]), 2u);
  EXPECT_EQ((conflicts[{"shop.t", "inserted"}]), 1u);
}

}  // namespace
}  // namespace sluice::sink::mysql
