// The inversion of flashback (jobs/flashback/undo.h) over hand-made
// transactions: statement kinds, order, multi-row grouping, exact literals
// and the final state of each touched row.

#include "jobs/flashback/undo.h"

#include <gtest/gtest.h>

#include "jobs/flashback/range.h"

namespace sluice::jobs::flashback {
namespace {

TableSchemaPtr Schema(bool keyed) {
  auto s = std::make_shared<TableSchema>();
  s->db = "shop";
  s->table = "t";
  s->names_known = true;
  for (const char* n : {"id", "name", "amount"}) {
    ColumnMeta c;
    c.name = n;
    s->columns.push_back(c);
  }
  if (keyed) s->primary_key = {0};
  return s;
}

std::vector<Value> Row(int64_t id, std::string_view name, std::string_view amount) {
  return {Value::Int(id), name.empty() ? Value::Null() : Value::Str(ValueKind::kText, name),
          Value::Str(ValueKind::kDecimal, amount)};
}

std::shared_ptr<const ChangeEvent> Change(const TableSchemaPtr& t, Op op, const std::vector<Value>* before,
                                          const std::vector<Value>* after, uint64_t index) {
  RowChange rc;
  rc.op = op;
  rc.table = t.get();
  rc.table_ptr = t;
  rc.before = before;
  rc.after = after;
  auto e = std::make_shared<ChangeEvent>();
  CopyRowChange(rc, t, *e);
  e->pos = StreamPos{"binlog.000001", 100, index};
  return e;
}

std::vector<std::string> Render(const std::vector<UndoStep>& steps, size_t max_bytes = 1 << 20,
                                const TableFactsMap& facts = {}) {
  std::vector<std::string> out;
  Status st = RenderUndo(
      steps, facts, [&](const std::string& s) { out.push_back(s); return Status::Ok(); }, max_bytes);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

// The undo SQL of one transaction made of `rows`.
std::vector<std::string> UndoSql(std::vector<std::shared_ptr<const ChangeEvent>> rows,
                                 const TableFactsMap& facts = {}) {
  SourceTransaction txn;
  txn.rows = std::move(rows);
  TargetTables tables;
  return Render(InvertTransaction(txn, tables), 1 << 20, facts);
}

TEST(FlashbackUndoTest, EachOpIsInvertedNewestFirst) {
  auto t = Schema(true);
  auto a = Row(1, "a", "1.50"), a2 = Row(1, "it's", "-0.01"), b = Row(2, "", "7.00");
  SourceTransaction txn;
  txn.rows.push_back(Change(t, Op::kInsert, nullptr, &a, 1));
  txn.rows.push_back(Change(t, Op::kUpdate, &a, &a2, 2));
  txn.rows.push_back(Change(t, Op::kDelete, &b, nullptr, 3));
  TargetTables tables;
  auto steps = InvertTransaction(txn, tables);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].kind, UndoStep::Kind::kInsert);
  EXPECT_EQ(steps[1].kind, UndoStep::Kind::kUpdate);
  EXPECT_EQ(steps[2].kind, UndoStep::Kind::kDeleteByKey);
  auto sql = Render(steps);
  ASSERT_EQ(sql.size(), 3u);
  EXPECT_EQ(sql[0], "INSERT INTO `shop`.`t` (`id`,`name`,`amount`) VALUES (2,NULL,7.00)");
  EXPECT_EQ(sql[1], "UPDATE `shop`.`t` SET `id`=1,`name`='a',`amount`=1.50 WHERE `id`=1");
  EXPECT_EQ(sql[2], "DELETE FROM `shop`.`t` WHERE `id` IN (1)");
}

TEST(FlashbackUndoTest, GeneratedColumnsAreLeftOut) {
  auto t = Schema(true);
  auto a = Row(1, "a", "1.50"), a2 = Row(1, "b", "1.50");
  auto sql = UndoSql({Change(t, Op::kDelete, &a, nullptr, 1), Change(t, Op::kUpdate, &a, &a2, 2)},
                     {{"shop.t", {.generated = {false, true, false}}}});
  ASSERT_EQ(sql.size(), 2u);
  EXPECT_EQ(sql[0], "UPDATE `shop`.`t` SET `id`=1,`amount`=1.50 WHERE `id`=1");
  EXPECT_EQ(sql[1], "INSERT INTO `shop`.`t` (`id`,`amount`) VALUES (1,1.50)");
}

TEST(FlashbackUndoTest, UpdatesKeepingTheirKeyBatchAsUpsertsWhereAllowed) {
  auto t = Schema(true);
  auto a = Row(1, "a", "1.00"), a2 = Row(1, "b", "1.00"), b = Row(2, "x", "2.00"), b2 = Row(2, "y", "2.00"),
       moved = Row(3, "y", "2.00");
  std::vector<std::shared_ptr<const ChangeEvent>> rows = {
      Change(t, Op::kUpdate, &b2, &moved, 1), Change(t, Op::kUpdate, &a, &a2, 2), Change(t, Op::kUpdate, &b, &b2, 3)};
  auto sql = UndoSql(rows, {{"shop.t", {.upsert_updates = true}}});
  ASSERT_EQ(sql.size(), 2u);
  EXPECT_EQ(sql[0],
            "INSERT INTO `shop`.`t` (`id`,`name`,`amount`) VALUES (2,'x',2.00),(1,'a',1.00) ON DUPLICATE KEY UPDATE "
            "`id`=VALUES(`id`),`name`=VALUES(`name`),`amount`=VALUES(`amount`)");
  EXPECT_EQ(sql[1], "UPDATE `shop`.`t` SET `id`=2,`name`='y',`amount`=2.00 WHERE `id`=3");  // the key moved
  EXPECT_EQ(UndoSql(rows).size(), 3u);  // not allowed: one UPDATE each
}

TEST(FlashbackUndoTest, AnUpdateThatMovedTheKeyIsFoundByItsNewKey) {
  auto t = Schema(true);
  auto before = Row(1, "a", "1.00"), after = Row(9, "a", "1.00");
  auto sql = UndoSql({Change(t, Op::kUpdate, &before, &after, 1)});
  ASSERT_EQ(sql.size(), 1u);
  EXPECT_EQ(sql[0], "UPDATE `shop`.`t` SET `id`=1,`name`='a',`amount`=1.00 WHERE `id`=9");
}

TEST(FlashbackUndoTest, RunsOfDeletesBecomeMultiRowInsertsInSlices) {
  auto t = Schema(true);
  std::vector<std::vector<Value>> rows;
  for (int i = 0; i < 10; ++i) rows.push_back(Row(i, "x", "0.00"));
  SourceTransaction txn;
  for (int i = 0; i < 10; ++i) txn.rows.push_back(Change(t, Op::kDelete, &rows[i], nullptr, i + 1));
  TargetTables tables;
  auto steps = InvertTransaction(txn, tables);
  auto one = Render(steps);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].rfind("INSERT INTO `shop`.`t` (`id`,`name`,`amount`) VALUES (9,'x',0.00),(8,", 0), 0u) << one[0];
  EXPECT_NE(one[0].find(",(0,'x',0.00)"), std::string::npos);
  // A small statement size: several statements, every row in one of them, order kept.
  auto sliced = Render(steps, 40);
  EXPECT_GT(sliced.size(), 1u);
  std::string all;
  for (auto& s : sliced) all += s;
  for (int i = 9; i > 0; --i) {
    EXPECT_LT(all.find(fmt::format("({},'x'", i)), all.find(fmt::format("({},'x'", i - 1)));
  }
}

TEST(FlashbackUndoTest, ATransactionIsRenderedInSlicesNewestFirst) {
  auto t = Schema(true);
  std::vector<std::vector<Value>> rows;
  for (int i = 0; i < 10; ++i) rows.push_back(Row(i, "x", "0.00"));
  SourceTransaction txn;
  for (int i = 0; i < 10; ++i) txn.rows.push_back(Change(t, Op::kInsert, nullptr, &rows[i], i + 1));
  TargetTables tables;
  std::vector<std::string> sql;
  ASSERT_TRUE(RenderTransactionUndo(
                  txn, tables, {}, [&](const std::string& s) { sql.push_back(s); return Status::Ok(); }, 4)
                  .ok());
  const std::vector<std::string> want = {"DELETE FROM `shop`.`t` WHERE `id` IN (9,8,7,6)",
                                         "DELETE FROM `shop`.`t` WHERE `id` IN (5,4,3,2)",
                                         "DELETE FROM `shop`.`t` WHERE `id` IN (1,0)"};
  EXPECT_EQ(sql, want);
}

TEST(FlashbackUndoTest, KeylessTablesMatchWholeRows) {
  auto t = Schema(false);
  auto a = Row(1, "A", "1.00"), a2 = Row(1, "b", "1.00");
  auto sql = UndoSql({Change(t, Op::kInsert, nullptr, &a, 1), Change(t, Op::kUpdate, &a, &a2, 2)});
  ASSERT_EQ(sql.size(), 2u);
  EXPECT_EQ(sql[0],
            "UPDATE `shop`.`t` SET `id`=1,`name`='A',`amount`=1.00 WHERE `id`<=>1 AND `name`<=>'b' COLLATE "
            "utf8mb4_bin AND CHAR_LENGTH(`name`)=1 AND `amount`<=>1.00 LIMIT 1");
  EXPECT_EQ(sql[1],
            "DELETE FROM `shop`.`t` WHERE `id`<=>1 AND `name`<=>'A' COLLATE utf8mb4_bin AND CHAR_LENGTH(`name`)=1 AND "
            "`amount`<=>1.00 LIMIT 1");
}

TEST(FlashbackUndoTest, ValuesRoundTripAsExactLiterals) {
  auto s = std::make_shared<TableSchema>();
  s->db = "d";
  s->table = "types";
  s->names_known = true;
  std::vector<Value> row = {Value::UInt(18446744073709551615ull), Value::Str(ValueKind::kBytes, std::string_view("\0\xff'", 3)),
                            Value::Str(ValueKind::kDateTime, "2024-01-31 12:34:56.789"), Value::Bit(5),
                            Value::Str(ValueKind::kText, "a\\b\n"), Value::Double(0.1), Value::Null(),
                            Value::Str(ValueKind::kJson, "{\"k\": \"it's\"}")};
  for (size_t i = 0; i < row.size(); ++i) {
    ColumnMeta c;
    c.name = "c" + std::to_string(i);
    s->columns.push_back(c);
  }
  s->primary_key = {0};
  auto sql = UndoSql({Change(s, Op::kDelete, &row, nullptr, 1)});
  ASSERT_EQ(sql.size(), 1u);
  EXPECT_NE(sql[0].find("VALUES (18446744073709551615,x'00ff27','2024-01-31 12:34:56.789',5,'a\\\\b\\n',0.1e0,NULL,"
                        "'{\"k\": \"it\\'s\"}')"),
            std::string::npos)
      << sql[0];
}

TEST(FlashbackUndoTest, FinalRowsFollowTheLastChangeOfEachKey) {
  auto t = Schema(true);
  auto r1 = Row(1, "a", "1.00"), r1b = Row(1, "b", "1.00"), r2 = Row(2, "x", "2.00"), r3 = Row(3, "y", "3.00"),
       r4 = Row(4, "y", "3.00");
  SourceTransaction t1, t2;
  t1.gtid = "0-1-5";
  t1.file = "binlog.000001";
  t1.offset = 100;
  t1.rows.push_back(Change(t, Op::kUpdate, &r1, &r1b, 1));  // 1: a -> b
  t1.rows.push_back(Change(t, Op::kDelete, &r2, nullptr, 2));  // 2: gone
  t2.rows.push_back(Change(t, Op::kInsert, nullptr, &r2, 1));  // 2: back
  t2.rows.push_back(Change(t, Op::kUpdate, &r3, &r4, 2));     // 3 -> 4: 3 gone, 4 there
  TargetTables tables;
  const std::vector<SourceTransaction> txns = {t1, t2};  // FinalRow::txn points into it
  auto fin = FinalRows(txns, tables);
  ASSERT_EQ(fin.size(), 4u);
  EXPECT_TRUE(fin[0].present);
  EXPECT_EQ(fin[0].Row().values[1].s, "b");
  EXPECT_EQ(fin[0].Where(), "update in 0-1-5 @ binlog.000001:100");
  EXPECT_TRUE(fin[1].present);  // deleted, then inserted again
  EXPECT_FALSE(fin[2].present);  // key 3 moved away
  EXPECT_EQ(fin[2].Row().values[0].i, 3);
  EXPECT_TRUE(fin[3].present);
  EXPECT_EQ(fin[3].Row().values[0].i, 4);
}

TEST(FlashbackUndoTest, FinalRowsOfKeylessTablesCountNetAdditions) {
  auto t = Schema(false);
  auto a = Row(1, "a", "1.00"), b = Row(2, "b", "1.00");
  SourceTransaction txn;
  txn.rows.push_back(Change(t, Op::kInsert, nullptr, &a, 1));
  txn.rows.push_back(Change(t, Op::kInsert, nullptr, &a, 2));
  txn.rows.push_back(Change(t, Op::kDelete, &b, nullptr, 3));
  TargetTables tables;
  const std::vector<SourceTransaction> txns = {txn};
  auto fin = FinalRows(txns, tables);
  ASSERT_EQ(fin.size(), 1u);  // b's removal cannot be checked: only rows the range added
  EXPECT_EQ(fin[0].count, 2);
  EXPECT_EQ(fin[0].Row().values[1].s, "a");
}

TEST(FlashbackRangeTest, StopAndUntilParse) {
  auto pos = RangeEnd::ParseStop("binlog.000002:1234");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->stop_pos->file, "binlog.000002");
  EXPECT_EQ(pos->stop_pos->offset, 1234u);
  auto g = RangeEnd::ParseStop("0-1-42");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->stop_mariadb->seq, 42u);
  EXPECT_FALSE(RangeEnd::ParseStop("0-1-42,1-1-3").ok());
  EXPECT_FALSE(RangeEnd::ParseStop("latest").ok());
  auto u = ParseUtcTime("2026-12-04 18:05:00");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*u, 1796407500);
  EXPECT_EQ(*ParseUtcTime("2026-12-04T18:05:00Z"), 1796407500);
  EXPECT_FALSE(ParseUtcTime("2026-13-04 18:05:00").ok());
  EXPECT_FALSE(ParseUtcTime("yesterday").ok());
}

}  // namespace
}  // namespace sluice::jobs::flashback
