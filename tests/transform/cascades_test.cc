// Cascades: which foreign key actions a pipeline's rules let the targets
// redo (renamed tables and columns, a subset, a script), the chains a
// cascade delete carries on to, and the kCascade changes a parent row's
// delete or key update makes (none for NULL keys, unchanged keys, inserts,
// or statements the source ran with foreign_key_checks=0).

#include <gtest/gtest.h>

#include "transform/cascades.h"

namespace sluice::transform {
namespace {

ForeignKey Key(std::string table, std::string name, std::vector<std::string> columns, std::string parent,
               std::vector<std::string> parent_columns, std::string on_delete, std::string on_update = "RESTRICT") {
  return ForeignKey{"shop",
                    std::move(table),
                    std::move(name),
                    std::move(columns),
                    "shop",
                    std::move(parent),
                    std::move(parent_columns),
                    std::move(on_delete),
                    std::move(on_update)};
}

TableSchemaPtr Customers() {
  auto s = std::make_shared<TableSchema>();
  s->db = "shop";
  s->table = "customers";
  s->names_known = true;
  s->columns.resize(3);
  s->columns[0].name = "id";
  s->columns[1].name = "Code";  // names compare without case
  s->columns[2].name = "name";
  s->primary_key = {0};
  return s;
}

std::shared_ptr<ChangeEvent> Event(Op op, std::vector<Value> before, std::vector<Value> after = {}) {
  auto ev = std::make_shared<ChangeEvent>();
  ev->table = Customers();
  ev->op = op;
  ev->before = {std::move(before), op != Op::kInsert};
  ev->after = {std::move(after), op != Op::kDelete};
  ev->pos.file = "binlog.000001";
  ev->pos.txn_offset = 400;
  ev->pos.index = 3;
  return ev;
}

Value T(std::string_view s) { return Value::Str(ValueKind::kText, s); }

struct Rules {
  std::vector<MappingRule> rules;
  const MappingRule* operator()(std::string_view db, std::string_view table) const {
    for (const MappingRule& r : rules) {
      if (r.match == std::string(db) + "." + std::string(table) || r.match == "shop.*") return &r;
    }
    return nullptr;
  }
};

Rules EveryShopTable() {
  Rules rules;
  MappingRule all;
  all.match = "shop.*";
  rules.rules.push_back(all);
  return rules;
}

TEST(CascadesTest, KeysOfSelectedChildTablesAreFollowedUnderTheirTargetNames) {
  Rules rules;
  MappingRule carts;
  carts.match = "shop.carts";
  carts.to = "mart.${table}_copy";
  carts.rename_columns = {{"customer", "buyer"}};
  rules.rules.push_back(carts);
  MappingRule reviews;
  reviews.match = "shop.reviews";
  reviews.columns = {"id", "text"};  // leaves the key column out
  rules.rules.push_back(reviews);
  const std::vector<ForeignKey> keys = {
      Key("carts", "fk_carts", {"customer"}, "customers", {"id"}, "CASCADE", "CASCADE"),
      Key("reviews", "fk_reviews", {"customer"}, "customers", {"id"}, "SET NULL"),
      Key("orders", "fk_orders", {"customer"}, "customers", {"id"}, "RESTRICT"),  // no action
      Key("other", "fk_other", {"customer"}, "customers", {"id"}, "CASCADE"),     // not selected
  };
  std::vector<std::string> notes;
  auto plan = Cascades::Plan(keys, std::ref(rules), notes);
  ASSERT_EQ(plan->followed().size(), 1u);
  EXPECT_EQ(plan->followed()[0], "shop.carts.fk_carts (ON DELETE CASCADE, ON UPDATE CASCADE) on mart.carts_copy");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("foreign key shop.reviews.fk_reviews (ON DELETE SET NULL): the rule of shop.reviews leaves "
                          "out its column `customer`"),
            std::string::npos)
      << notes[0];

  // A delete of the parent (no rule selects it): one change for the child.
  std::vector<SinkChange> out;
  plan->Append(Event(Op::kDelete, {Value::Int(7), T("c7"), T("seven")}), out);
  ASSERT_EQ(out.size(), 1u);
  const SinkChange& c = out[0];
  EXPECT_EQ(c.kind, SinkChange::Kind::kCascade);
  EXPECT_EQ(c.op, Op::kDelete);
  EXPECT_EQ(c.table->db, "mart");
  EXPECT_EQ(c.table->table, "carts_copy");
  EXPECT_EQ(c.table->columns, std::vector<std::string>{"buyer"});
  EXPECT_EQ(c.table->source, "shop.carts");
  EXPECT_EQ(c.table->source_index, std::vector<uint32_t>{0});
  EXPECT_EQ(c.table->cascade->fk, "shop.carts.fk_carts");
  ASSERT_EQ(c.values.size(), 1u);
  EXPECT_EQ(c.values[0].i, 7);
  EXPECT_EQ(c.pos.index, 3u);

  // An update of the referenced column: old values, then new.
  out.clear();
  plan->Append(Event(Op::kUpdate, {Value::Int(7), T("c7"), T("seven")}, {Value::Int(70), T("c7"), T("seven")}), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Op::kUpdate);
  ASSERT_EQ(out[0].values.size(), 2u);
  EXPECT_EQ(out[0].values[0].i, 7);
  EXPECT_EQ(out[0].values[1].i, 70);

  // Nothing for: an update keeping the key, an insert, a NULL key, a
  // statement run with foreign_key_checks=0.
  out.clear();
  plan->Append(Event(Op::kUpdate, {Value::Int(7), T("c7"), T("seven")}, {Value::Int(7), T("c7"), T("SEVEN")}), out);
  plan->Append(Event(Op::kInsert, {}, {Value::Int(8), T("c8"), T("eight")}), out);
  plan->Append(Event(Op::kDelete, {Value::Null(), T("c8"), T("eight")}), out);
  auto unchecked = Event(Op::kDelete, {Value::Int(9), T("c9"), T("nine")});
  unchecked->no_foreign_key_checks = true;
  plan->Append(unchecked, out);
  EXPECT_TRUE(out.empty());
}

TEST(CascadesTest, CascadeDeletesCarryOnToTheKeysReferencingTheirRows) {
  Rules rules = EveryShopTable();
  const std::vector<ForeignKey> keys = {
      Key("carts", "fk_carts", {"customer"}, "customers", {"code"}, "CASCADE"),
      Key("items", "fk_items", {"cart"}, "carts", {"id"}, "CASCADE"),
      Key("notes", "fk_notes", {"cart"}, "carts", {"id"}, "SET NULL"),
      Key("categories", "fk_parent", {"parent"}, "categories", {"id"}, "CASCADE"),  // a tree
      Key("prices", "fk_prices", {"item_cart", "item_n"}, "items", {"cart", "n"}, "RESTRICT", "CASCADE"),
  };
  std::vector<std::string> notes;
  auto plan = Cascades::Plan(keys, std::ref(rules), notes);
  EXPECT_EQ(plan->followed().size(), 5u);
  std::vector<SinkChange> out;
  plan->Append(Event(Op::kDelete, {Value::Int(7), T("c7"), T("seven")}), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].values[0].s, "c7");  // the referenced column, found without case
  const CascadeEdge& carts = *out[0].table->cascade;
  ASSERT_EQ(carts.next.size(), 2u);
  EXPECT_EQ(carts.next[0]->fk, "shop.items.fk_items");
  EXPECT_EQ(carts.next[0]->parent_columns, std::vector<std::string>{"id"});
  EXPECT_EQ(carts.next[1]->fk, "shop.notes.fk_notes");
  EXPECT_EQ(carts.next[1]->on_delete, FkAction::kSetNull);
  // items' deletes do not reach prices (RESTRICT on delete), nor the
  // SET NULL of notes anything further.
  EXPECT_TRUE(carts.next[0]->next.empty());
  // ON UPDATE CASCADE of prices is not carried past a cascade that changes
  // the items' key: here none does, so no note.
  EXPECT_TRUE(notes.empty()) << notes[0];
}

TEST(CascadesTest, KeyChangesACascadeMakesAreNotCarriedFurtherAndSaySo) {
  Rules rules = EveryShopTable();
  const std::vector<ForeignKey> keys = {
      Key("carts", "fk_carts", {"customer"}, "customers", {"id"}, "RESTRICT", "CASCADE"),
      Key("slips", "fk_slips", {"customer"}, "carts", {"customer"}, "RESTRICT", "CASCADE"),
  };
  std::vector<std::string> notes;
  auto plan = Cascades::Plan(keys, std::ref(rules), notes);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("foreign key shop.slips.fk_slips (ON UPDATE CASCADE): the key values shop.carts.fk_carts "
                          "changes on the targets are not carried on to shop.slips"),
            std::string::npos)
      << notes[0];
}

TEST(CascadesTest, AScriptedChildIsNotFollowed) {
  Rules rules;
  MappingRule carts;
  carts.match = "shop.carts";
  carts.lua =
      std::make_shared<lua::LuaScript>(lua::LuaScript{"c.lua", "function transform(op, row, old) return row end"});
  rules.rules.push_back(carts);
  std::vector<std::string> notes;
  auto plan =
      Cascades::Plan({Key("carts", "fk_carts", {"customer"}, "customers", {"id"}, "CASCADE")}, std::ref(rules), notes);
  EXPECT_TRUE(plan->empty());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("runs a Lua script"), std::string::npos) << notes[0];
}

}  // namespace
}  // namespace sluice::transform
