#include "sink/merge.h"

#include <gtest/gtest.h>

namespace sluice::sink {
namespace {

TargetTablePtr Table(std::vector<uint32_t> key) {
  auto t = std::make_shared<TargetTable>();
  t->db = "d";
  t->table = "t";
  t->columns = {"id", "v"};
  t->key = std::move(key);
  return t;
}

SinkChange Change(TargetTablePtr t, SinkChange::Kind kind, int64_t id, std::string_view v, uint64_t index) {
  SinkChange c;
  c.kind = kind;
  c.table = std::move(t);
  c.values = {Value::Int(id), Value::Str(ValueKind::kText, v)};
  c.pos = StreamPos{"binlog.000001", 4, index};
  return c;
}

TEST(MergeTest, LastChangePerKeyWinsInFirstAppearanceOrder) {
  auto t = Table({0});
  using K = SinkChange::Kind;
  std::vector<SinkChange> in;
  in.push_back(Change(t, K::kUpsert, 1, "a", 1));   // insert 1
  in.push_back(Change(t, K::kUpsert, 2, "b", 2));   // insert 2
  in.push_back(Change(t, K::kUpsert, 1, "a2", 3));  // update 1
  in.push_back(Change(t, K::kDelete, 2, "b", 4));   // delete 2
  in.push_back(Change(t, K::kDelete, 3, "c", 5));   // delete 3
  in.push_back(Change(t, K::kUpsert, 3, "c2", 6));  // re-insert 3
  auto out = MergeByKey(std::move(in));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, K::kUpsert);
  EXPECT_EQ(out[0].values[1].s, "a2");
  EXPECT_EQ(out[0].pos.index, 3u);
  EXPECT_EQ(out[1].kind, K::kDelete);
  EXPECT_EQ(out[1].values[0].i, 2);
  EXPECT_EQ(out[2].kind, K::kUpsert);
  EXPECT_EQ(out[2].values[1].s, "c2");
}

// A partial upsert (unchanged TOASTed values) applies after what came
// before it for its key; a later full change replaces them all.
TEST(MergeTest, PartialUpsertsFollowTheirKeysEarlierChanges) {
  auto t = Table({0});
  using K = SinkChange::Kind;
  auto partial = [&](int64_t id, uint64_t index) {
    SinkChange c = Change(t, K::kUpsert, id, "", index);
    c.op = Op::kUpdate;
    c.values[1] = Value::Absent();
    return c;
  };
  std::vector<SinkChange> in;
  in.push_back(Change(t, K::kUpsert, 1, "a", 1));
  in.push_back(partial(1, 2));
  in.push_back(Change(t, K::kUpsert, 2, "b", 3));
  in.push_back(partial(2, 4));
  in.push_back(partial(2, 5));
  in.push_back(Change(t, K::kUpsert, 2, "b2", 6));
  auto out = MergeByKey(std::move(in));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].pos.index, 1u);
  EXPECT_EQ(out[1].pos.index, 2u);
  EXPECT_TRUE(IsPartial(out[1]));
  EXPECT_EQ(out[2].values[1].s, "b2");
  EXPECT_EQ(out[2].pos.index, 6u);
  EXPECT_FALSE(IsPartial(out[2]));
}

// A MINIMAL insert (its absent values the target's defaults) is a whole
// change: it replaces what came before for its key, and what replaces it
// says for itself whether its absent values are defaults.
TEST(MergeTest, AMinimalInsertIsAWholeChange) {
  auto t = Table({0});
  using K = SinkChange::Kind;
  auto minimal = [&](int64_t id, uint64_t index) {
    SinkChange c = Change(t, K::kUpsert, id, "", index);
    c.values[1] = Value::Absent();
    c.absent_means_default = true;
    return c;
  };
  std::vector<SinkChange> in;
  in.push_back(Change(t, K::kUpsert, 1, "a", 1));
  in.push_back(Change(t, K::kDelete, 1, "a", 2));
  in.push_back(minimal(1, 3));
  in.push_back(minimal(2, 4));
  in.push_back(Change(t, K::kUpsert, 2, "b", 5));
  auto out = MergeByKey(std::move(in));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].pos.index, 3u);
  EXPECT_EQ(out[0].kind, K::kUpsert);
  EXPECT_TRUE(out[0].absent_means_default);
  EXPECT_FALSE(IsPartial(out[0]));
  EXPECT_EQ(out[1].pos.index, 5u);
  EXPECT_FALSE(out[1].absent_means_default);
  EXPECT_EQ(out[1].values[1].s, "b");
}

TEST(MergeTest, KeylessChangesAreKeptInOrder) {
  auto t = Table({});
  using K = SinkChange::Kind;
  std::vector<SinkChange> in;
  in.push_back(Change(t, K::kInsert, 1, "a", 1));
  in.push_back(Change(t, K::kInsert, 1, "a", 2));
  in.push_back(Change(t, K::kDeleteExact, 1, "a", 3));
  auto out = MergeByKey(std::move(in));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].kind, K::kDeleteExact);
}

TEST(MergeTest, SignedAndUnsignedKeysAreTheSameKey) {
  auto t = Table({0});
  SinkChange a = Change(t, SinkChange::Kind::kUpsert, 5, "x", 1);
  SinkChange b = Change(t, SinkChange::Kind::kDelete, 5, "x", 2);
  b.values[0] = Value::UInt(5);
  EXPECT_TRUE(SameKey(a, b));
  EXPECT_EQ(KeyHash(a), KeyHash(b));
  SinkChange c = Change(t, SinkChange::Kind::kDelete, 6, "x", 3);
  EXPECT_FALSE(SameKey(a, c));
}

}  // namespace
}  // namespace sluice::sink

namespace sluice::sink {
namespace {

TEST(MergeTest, SchemaVersionsOfOneTableShareKeys) {
  // After a TABLE_MAP change the same table comes with a new TargetTable
  // object; its keys must still merge and partition together.
  auto v1 = Table({0});
  auto v2 = Table({0});
  ASSERT_NE(v1.get(), v2.get());
  SinkChange up = Change(v1, SinkChange::Kind::kUpsert, 9, "a", 1);
  SinkChange del = Change(v2, SinkChange::Kind::kDelete, 9, "a", 2);
  EXPECT_EQ(KeyHash(up), KeyHash(del));
  std::vector<SinkChange> in;
  in.push_back(up);
  in.push_back(del);
  auto out = MergeByKey(std::move(in));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, SinkChange::Kind::kDelete);
}

}  // namespace
}  // namespace sluice::sink
