// SchemaHistory: which recorded table shape holds at a binlog position, which
// DDL statements end it, and what survives a restart through the store.

#include "source/mysql/schema_history.h"

#include <gtest/gtest.h>

namespace sluice::mysql {
namespace {

// A statement sluice does not classify: it may have changed any table.
constexpr const char* kUnclassified = "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'h')";

BinlogFilePos At(uint64_t file, uint64_t offset) { return {fmt::format("binlog.{:06}", file), offset}; }

InformationSchemaTable Shape(std::vector<std::string> names) {
  InformationSchemaTable t;
  t.exists = true;
  for (auto& n : names) {
    InformationSchemaColumn c;
    c.name = std::move(n);
    c.data_type = "varchar";
    c.column_type = "varchar(10)";
    c.charset = "utf8mb4";
    c.collation = 45;
    t.columns.push_back(std::move(c));
  }
  t.primary_key = {0};
  return t;
}

std::vector<std::string> Names(const InformationSchemaTable* t) {
  std::vector<std::string> out;
  if (t == nullptr) return {"(unknown)"};
  for (const auto& c : t->columns) out.push_back(c.name);
  return out;
}

using Names_ = std::vector<std::string>;

TEST(SchemaHistoryTest, AShapeHoldsFromWhereItWasReadUntilADdlStatementTouchesItsTable) {
  SchemaHistory h;
  h.SetServer("1");
  h.Record("app", "t", At(3, 400), Shape({"id", "a"}));
  EXPECT_EQ(Names(h.At("app", "t", At(3, 300))), Names_{"(unknown)"});  // before it was read
  EXPECT_EQ(Names(h.At("app", "t", At(3, 400))), (Names_{"id", "a"}));
  h.OnDdl("ALTER TABLE u ADD COLUMN x INT", "app", {}, At(3, 900));  // another table
  EXPECT_EQ(Names(h.At("app", "t", At(4, 100))), (Names_{"id", "a"}));
  h.OnDdl("alter table `APP`.`T` add column b int", "other", {}, At(5, 200));  // lower_case_table_names
  EXPECT_EQ(Names(h.At("app", "t", At(5, 100))), (Names_{"id", "a"}));
  EXPECT_EQ(Names(h.At("app", "t", At(5, 300))), Names_{"(unknown)"});
  h.Record("app", "t", At(5, 300), Shape({"id", "a", "b"}));
  EXPECT_EQ(Names(h.At("app", "t", At(5, 250))), Names_{"(unknown)"});
  EXPECT_EQ(Names(h.At("app", "t", At(5, 300))), (Names_{"id", "a", "b"}));
  EXPECT_EQ(Names(h.At("app", "t", At(4, 999))), (Names_{"id", "a"}));  // a restart from an older position
}

TEST(SchemaHistoryTest, RenamesDroppedDatabasesAndUnclassifiedStatementsEndShapes) {
  SchemaHistory h;
  h.SetServer("1");
  h.Record("app", "a", At(1, 100), Shape({"id"}));
  h.Record("app", "b", At(1, 100), Shape({"id"}));
  h.Record("other", "c", At(1, 100), Shape({"id"}));
  h.OnDdl("RENAME TABLE a TO a_old, b_new TO b", "app", {}, At(1, 200));
  EXPECT_EQ(Names(h.At("app", "a", At(1, 300))), Names_{"(unknown)"});
  EXPECT_EQ(Names(h.At("app", "b", At(1, 300))), Names_{"(unknown)"});
  EXPECT_EQ(Names(h.At("other", "c", At(1, 300))), Names_{"id"});
  h.Record("app", "a", At(1, 300), Shape({"id"}));
  h.OnDdl("DROP DATABASE other", "", {}, At(1, 400));
  EXPECT_EQ(Names(h.At("other", "c", At(1, 500))), Names_{"(unknown)"});
  EXPECT_EQ(Names(h.At("app", "a", At(1, 500))), Names_{"id"});
  h.OnDdl("TRUNCATE TABLE app.a", "", {}, At(1, 600));  // no shape changes
  EXPECT_EQ(Names(h.At("app", "a", At(1, 700))), Names_{"id"});
  h.OnDdl("GRANT SELECT ON app.* TO someone", "", {}, At(1, 750));  // changes no table
  EXPECT_EQ(Names(h.At("app", "a", At(1, 760))), Names_{"id"});
  h.OnDdl("CREATE SEQUENCE app.s", "", {}, At(1, 770));  // a sequence: that name only
  EXPECT_EQ(Names(h.At("app", "a", At(1, 780))), Names_{"id"});
  h.OnDdl(kUnclassified, "", {}, At(1, 800));  // not classified: every table
  EXPECT_EQ(Names(h.At("app", "a", At(1, 900))), Names_{"(unknown)"});
  EXPECT_EQ(Names(h.At("app", "a", At(1, 700))), Names_{"id"});
}

TEST(SchemaHistoryTest, StatementsAboutTablesNotCapturedAreNotKept) {
  SchemaHistory h;
  h.SetServer("1");
  h.SetSelection([](std::string_view db, std::string_view) { return db == "app"; });
  h.Record("other", "seen", At(1, 100), Shape({"id"}));  // recorded before the selection changed
  h.OnDdl("ALTER TABLE other.x ADD c INT", "", {}, At(1, 200));
  h.OnDdl("ALTER TABLE other.seen ADD c INT", "", {}, At(1, 300));
  h.OnDdl("CREATE TABLE app.t (id INT)", "", {}, At(1, 400));
  std::vector<std::string> keys;
  for (const auto& [key, value] : h.TakeChanged()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"schema_history/[\"app\",\"t\"]",
                                            "schema_history/[\"other\",\"seen\"]"}));
  EXPECT_EQ(h.At("other", "seen", At(1, 350)), nullptr);
}

TEST(SchemaHistoryTest, PositionsOrderByTheFilesNumberAndAnotherBaseNameStartsOver) {
  SchemaHistory h;
  h.SetServer("1");
  h.Record("app", "t", {"binlog.999999", 500}, Shape({"id"}));
  EXPECT_EQ(Names(h.At("app", "t", {"binlog.1000000", 4})), Names_{"id"});
  EXPECT_EQ(Names(h.At("app", "t", {"other-bin.000001", 900})), Names_{"(unknown)"});
  h.Record("app", "u", {"other-bin.000001", 100}, Shape({"k"}));
  EXPECT_EQ(Names(h.At("app", "t", {"binlog.1000000", 4})), Names_{"(unknown)"});
  EXPECT_EQ(Names(h.At("app", "u", {"other-bin.000001", 200})), Names_{"k"});
}

TEST(SchemaHistoryTest, WhatWasSavedIsLoadedForTheSameServerOnly) {
  SchemaHistory h;
  h.SetServer("7");
  InformationSchemaTable shape = Shape({"id", "doc"});
  shape.columns[1].is_json = true;
  shape.columns[1].nullable = false;
  shape.unique_key = {1};
  shape.system_versioned = true;
  h.Record("app", "t", At(2, 100), shape);
  h.OnDdl("ALTER TABLE app.t DROP COLUMN doc", "", {}, At(2, 500));
  h.OnDdl(kUnclassified, "app", {}, At(2, 600));
  auto saved = h.TakeChanged();
  EXPECT_EQ(saved.size(), 2u);  // the table's, all tables'
  EXPECT_TRUE(h.TakeChanged().empty());

  SchemaHistory again;
  again.SetServer("7");
  for (const auto& [key, value] : saved) again.Load(key, value);
  const InformationSchemaTable* t = again.At("app", "t", At(2, 300));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Names(t), (Names_{"id", "doc"}));
  EXPECT_TRUE(t->columns[1].is_json);
  EXPECT_FALSE(t->columns[1].nullable);
  EXPECT_EQ(t->columns[1].collation, 45u);
  EXPECT_EQ(t->unique_key, std::vector<uint32_t>{1});
  EXPECT_TRUE(t->system_versioned);
  EXPECT_EQ(again.At("app", "t", At(2, 550)), nullptr);

  SchemaHistory elsewhere;
  elsewhere.SetServer("8");
  for (const auto& [key, value] : saved) elsewhere.Load(key, value);
  EXPECT_EQ(elsewhere.At("app", "t", At(2, 300)), nullptr);
  elsewhere.Load(saved[0].first, "{not json");  // skipped
  EXPECT_EQ(elsewhere.At("app", "t", At(2, 300)), nullptr);
}

TEST(SchemaHistoryTest, StatementsBeyondWhatIsKeptMakeOlderShapesUnknown) {
  SchemaHistory h;
  h.SetServer("1");
  h.Record("app", "t", At(1, 100), Shape({"id"}));
  for (size_t i = 0; i < SchemaHistory::kKeep; ++i) h.OnDdl(kUnclassified, "app", {}, At(2, 100 + i));
  EXPECT_EQ(Names(h.At("app", "t", At(1, 200))), Names_{"id"});
  h.OnDdl(kUnclassified, "app", {}, At(3, 100));  // the first statement is dropped
  EXPECT_EQ(Names(h.At("app", "t", At(1, 200))), Names_{"(unknown)"});
}

InformationSchemaTable Typed(std::vector<std::pair<std::string, std::string>> columns) {
  InformationSchemaTable t;
  t.exists = true;
  for (auto& [name, type] : columns) {
    InformationSchemaColumn c;
    c.name = name;
    c.data_type = type;
    c.column_type = type;
    t.columns.push_back(std::move(c));
  }
  t.primary_key = {0};
  return t;
}

std::string Described(const std::optional<InformationSchemaTable>& t) {
  if (!t) return "(unknown)";
  std::string out;
  for (const auto& c : t->columns) out += c.name + " " + c.column_type + ", ";
  out += "key";
  for (uint32_t k : t->primary_key) out += " " + t->columns.at(k).name;
  return out;
}

TEST(SchemaHistoryTest, AShapeBetweenTwoAltersIsMadeFromTheOneBeforeAndTheFirstAlter) {
  SchemaHistory h;
  h.SetServer("1");
  h.Record("app", "t", At(1, 100), Typed({{"id", "int"}, {"a", "varchar(10)"}, {"gone", "int"}}));
  h.OnDdl("ALTER TABLE t ADD COLUMN n bigint AFTER id, DROP gone, ALGORITHM=INSTANT", "app", {}, At(1, 200));
  h.OnDdl("ALTER TABLE t DROP COLUMN a, MODIFY n int", "app", {}, At(1, 400));
  // information_schema after both: a gone. (Columns changed again, like n,
  // take the description they have now: the TABLE_MAP check catches a
  // type that differs.)
  InformationSchemaTable now = Typed({{"id", "int"}, {"n", "bigint"}});
  EXPECT_EQ(Described(h.Derive("app", "t", At(1, 300), now)), "id int, n bigint, a varchar(10), key id");
  EXPECT_EQ(Described(h.Derive("app", "t", At(1, 500), now)), "id int, n bigint, key id");

  // Renames, CHANGE with FIRST, a renamed key column.
  h.OnDdl("ALTER TABLE t RENAME COLUMN id TO ident, CHANGE n m bigint FIRST", "app", {}, At(2, 100));
  now = Typed({{"m", "bigint"}, {"ident", "int"}});
  EXPECT_EQ(Described(h.Derive("app", "t", At(2, 200), now)), "m bigint, ident int, key ident");
}

TEST(SchemaHistoryTest, ATableCreatedInTheStreamStartsFromItsCreateTable) {
  SchemaHistory h;
  h.SetServer("1");
  h.OnDdl("CREATE TABLE app.t (id int PRIMARY KEY, a text)", "", {}, At(1, 100));
  h.OnDdl("ALTER TABLE app.t ADD b int FIRST", "", {}, At(1, 300));
  InformationSchemaTable now = Typed({{"b", "int"}, {"id", "int"}, {"a", "text"}});
  now.primary_key = {1};
  EXPECT_EQ(Described(h.Derive("app", "t", At(1, 200), now)), "id int, a text, key id");
}

TEST(SchemaHistoryTest, NothingIsMadeAcrossStatementsWhoseChangesAreUnknown) {
  SchemaHistory h;
  h.SetServer("1");
  InformationSchemaTable now = Typed({{"id", "int"}, {"a", "int"}, {"b", "int"}});
  h.Record("app", "t", At(1, 100), Typed({{"id", "int"}}));
  h.OnDdl("ALTER TABLE app.t ADD a int", "", {}, At(1, 200));
  EXPECT_NE(h.Derive("app", "t", At(1, 250), now), std::nullopt);
  h.OnDdl(kUnclassified, "app", {}, At(1, 260));
  EXPECT_EQ(h.Derive("app", "t", At(1, 270), now), std::nullopt);  // touched every table
  EXPECT_NE(h.Derive("app", "t", At(1, 250), now), std::nullopt);

  h.Record("app", "u", At(2, 100), Typed({{"id", "int"}, {"a", "int"}}));
  h.OnDdl("ALTER TABLE app.u ADD PRIMARY KEY (a)", "", {}, At(2, 200));
  EXPECT_EQ(h.Derive("app", "u", At(2, 300), now), std::nullopt);
  h.Record("app", "v", At(2, 100), Typed({{"id", "int"}, {"a", "int"}}));
  h.OnDdl("ALTER TABLE app.v DROP COLUMN id", "", {}, At(2, 200));  // the key column
  EXPECT_EQ(h.Derive("app", "v", At(2, 300), now), std::nullopt);
  h.Record("app", "w", At(2, 100), Typed({{"id", "int"}}));
  h.OnDdl("ALTER TABLE app.w ADD a int AFTER nothing", "", {}, At(2, 200));
  EXPECT_EQ(h.Derive("app", "w", At(2, 300), now), std::nullopt);
}

}  // namespace
}  // namespace sluice::mysql
