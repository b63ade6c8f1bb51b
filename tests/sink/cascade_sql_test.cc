// cascade_sql: the statements that redo a foreign key action on an SQL
// target (here in MySQL's dialect), byte for byte: a delete carried down a chain level by level
// (stopping where no row is left), SET NULL, ON UPDATE CASCADE with the new
// values, composite keys and quoting.

#include <gtest/gtest.h>

#include "sink/cascade_sql.h"
#include "sink/mysql/sql_builder.h"

namespace sluice::sink {
namespace {

struct Plan {
  CascadeEdge carts, items, notes;
  TableSchemaPtr parent;
  Plan() {
    carts = {"shop.carts.fk", "mart", "carts", {"customer"}, {"id"}, FkAction::kCascade, FkAction::kCascade, {}};
    items = {"shop.items.fk", "mart", "items", {"cart"}, {"id"}, FkAction::kCascade, FkAction::kNone, {}};
    notes = {"shop.notes.fk", "mart", "no`tes", {"cart"}, {"id"}, FkAction::kSetNull, FkAction::kNone, {}};
    carts.next = {&items, &notes};
    auto s = std::make_shared<TableSchema>();
    s->db = "shop";
    s->table = "customers";
    s->columns.resize(2);
    s->columns[0].name = "id";
    s->columns[0].type = 3;  // LONG
    s->columns[1].name = "code";
    s->columns[1].type = 15;  // VARCHAR
    parent = s;
  }
  SinkChange Change(const CascadeEdge& e, Op op, std::vector<Value> values) {
    auto t = std::make_shared<TargetTable>();
    t->db = e.child_db;
    t->table = e.child_table;
    t->columns = e.child_columns;
    t->source_schema = parent;
    t->source_index = {0};
    t->cascade = std::shared_ptr<const CascadeEdge>(std::shared_ptr<void>(), &e);
    SinkChange c;
    c.kind = SinkChange::Kind::kCascade;
    c.op = op;
    c.table = t;
    c.values = std::move(values);
    return c;
  }
};

// RedoCascade through SQL statements in MySQL's dialect.
Status Redo(const SinkChange& ch, const std::function<Result<bool>(const std::string&)>& exists,
            const std::function<Status(const std::string&)>& run) {
  SqlCascadeTarget target(mysql::kMysqlDialect, exists, run);
  return RedoCascade(target, ch);
}

TEST(CascadeSqlTest, ADeleteGoesDownTheChainWhereRowsAreThere) {
  Plan p;
  std::vector<std::string> asked, ran;
  auto exists = [&](const std::string& sql) -> Result<bool> {
    asked.push_back(sql);
    return true;
  };
  auto run = [&](const std::string& sql) {
    ran.push_back(sql);
    return Status::Ok();
  };
  ASSERT_TRUE(Redo(p.Change(p.carts, Op::kDelete, {Value::Int(7)}), exists, run).ok());
  ASSERT_EQ(asked, std::vector<std::string>{"SELECT 1 FROM `mart`.`carts` WHERE `customer` = 7 LIMIT 1"});
  // MySQL: the rows below the first level through a join on the level
  // above (no semi-join for a single-table DELETE/UPDATE ... IN (subquery)).
  const std::string carts_rows = " JOIN (SELECT `id` FROM `mart`.`carts` WHERE `customer` = 7) AS sluice_rows ON ";
  ASSERT_EQ(ran.size(), 3u);
  EXPECT_EQ(ran[0], "DELETE /*+ NO_MERGE(sluice_rows) */ `mart`.`items` FROM `mart`.`items`" + carts_rows +
                        "`mart`.`items`.`cart` = sluice_rows.`id`");
  EXPECT_EQ(ran[1], "UPDATE /*+ NO_MERGE(sluice_rows) */ `mart`.`no``tes`" + carts_rows +
                        "`mart`.`no``tes`.`cart` = sluice_rows.`id` SET `mart`.`no``tes`.`cart` = NULL");
  EXPECT_EQ(ran[2], "DELETE FROM `mart`.`carts` WHERE `customer` = 7");

  // Targets that plan IN (subquery) well (PostgreSQL): the same rows by IN.
  SqlDialect in_form = mysql::kMysqlDialect;
  in_form.join_parents = false;
  ran.clear();
  SqlCascadeTarget target(in_form, exists, run);
  ASSERT_TRUE(RedoCascade(target, p.Change(p.carts, Op::kDelete, {Value::Int(7)})).ok());
  const std::string in_carts =
      " IN (SELECT /*+ NO_MERGE(sluice_rows) */ * FROM (SELECT `id` FROM `mart`.`carts` "
      "WHERE `customer` = 7) AS sluice_rows)";
  ASSERT_EQ(ran.size(), 3u);
  EXPECT_EQ(ran[0], "DELETE FROM `mart`.`items` WHERE `cart`" + in_carts);
  EXPECT_EQ(ran[1], "UPDATE `mart`.`no``tes` SET `cart` = NULL WHERE `cart`" + in_carts);
}

TEST(CascadeSqlTest, NoRowsNoDescent) {
  Plan p;
  std::vector<std::string> ran;
  auto none = [](const std::string&) -> Result<bool> { return false; };
  auto run = [&](const std::string& sql) {
    ran.push_back(sql);
    return Status::Ok();
  };
  ASSERT_TRUE(Redo(p.Change(p.carts, Op::kDelete, {Value::Int(7)}), none, run).ok());
  EXPECT_TRUE(ran.empty());
  // Without keys below it, no question is asked: the delete runs.
  ASSERT_TRUE(Redo(p.Change(p.items, Op::kDelete, {Value::Int(3)}), none, run).ok());
  EXPECT_EQ(ran, std::vector<std::string>{"DELETE FROM `mart`.`items` WHERE `cart` = 3"});
}

TEST(CascadeSqlTest, ATreeStopsAtTheServersDepth) {
  Plan p;
  CascadeEdge tree{"shop.cat.fk", "shop", "cat", {"parent"}, {"id"}, FkAction::kCascade, FkAction::kNone, {}};
  tree.next = {&tree};
  int asked = 0;
  std::vector<std::string> ran;
  auto exists = [&](const std::string&) -> Result<bool> {
    ++asked;
    return true;
  };
  auto run = [&](const std::string& sql) {
    ran.push_back(sql);
    return Status::Ok();
  };
  ASSERT_TRUE(Redo(p.Change(tree, Op::kDelete, {Value::Int(1)}), exists, run).ok());
  EXPECT_EQ(asked, kMaxCascadeDepth - 1);
  ASSERT_EQ(ran.size(), static_cast<size_t>(kMaxCascadeDepth));
  EXPECT_EQ(ran.back(), "DELETE FROM `shop`.`cat` WHERE `parent` = 1");
}

TEST(CascadeSqlTest, UpdatesSetTheNewValuesOrNull) {
  Plan p;
  std::vector<std::string> ran;
  auto never = [](const std::string&) -> Result<bool> { return Status::Invalid("not asked"); };
  auto run = [&](const std::string& sql) {
    ran.push_back(sql);
    return Status::Ok();
  };
  ASSERT_TRUE(Redo(p.Change(p.carts, Op::kUpdate, {Value::Int(7), Value::Int(70)}), never, run).ok());
  p.carts.on_update = FkAction::kSetNull;
  ASSERT_TRUE(Redo(p.Change(p.carts, Op::kUpdate, {Value::Int(7), Value::Int(70)}), never, run).ok());
  p.carts.on_update = FkAction::kNone;  // ON DELETE only: an update changes nothing
  ASSERT_TRUE(Redo(p.Change(p.carts, Op::kUpdate, {Value::Int(7), Value::Int(70)}), never, run).ok());
  EXPECT_EQ(ran, (std::vector<std::string>{"UPDATE `mart`.`carts` SET `customer` = 70 WHERE `customer` = 7",
                                           "UPDATE `mart`.`carts` SET `customer` = NULL WHERE `customer` = 7"}));
}

TEST(CascadeSqlTest, CompositeKeysMatchEveryColumn) {
  Plan p;
  CascadeEdge prices{"shop.prices.fk",   "shop",          "prices", {"item_cart", "item_n"}, {"cart", "n"},
                     FkAction::kCascade, FkAction::kNone, {}};
  auto c = p.Change(prices, Op::kDelete, {Value::Int(4), Value::Str(ValueKind::kText, "it's")});
  auto t = std::const_pointer_cast<TargetTable>(c.table);
  t->source_index = {0, 1};
  std::vector<std::string> ran;
  auto run = [&](const std::string& sql) {
    ran.push_back(sql);
    return Status::Ok();
  };
  ASSERT_TRUE(Redo(
                  c, [](const std::string&) -> Result<bool> { return true; }, run)
                  .ok());
  EXPECT_EQ(ran, std::vector<std::string>{"DELETE FROM `shop`.`prices` WHERE `item_cart` = 4 AND `item_n` = 'it\\'s'"});
}

}  // namespace
}  // namespace sluice::sink
