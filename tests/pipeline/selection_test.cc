// selection.h: which tables a changed configuration newly selects.

#include "pipeline/selection.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

TableRule Rule(std::string match, std::string where = "") {
  TableRule r;
  r.match = std::move(match);
  r.where = std::move(where);
  return r;
}

std::vector<std::string> Names(const std::vector<SourceTable>& tables) {
  std::vector<std::string> out;
  for (const SourceTable& t : tables) out.push_back(t.name());
  return out;
}

TEST(SelectionTest, TheRecordReadsBackAsTheRulesItDescribes) {
  TableRule r = Rule("shop.orders", "amount > 10");
  r.to = "${db}_copy.${table}";
  r.columns = {"id", "amount"};
  r.rename_columns = {{"amount", "total"}};
  TableRule regex = Rule("shop\\.o.*");
  regex.is_regex = true;
  auto back = ParseSelection(DescribeSelection({r, regex}));
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ(DescribeSelection(*back), DescribeSelection({r, regex}));
  EXPECT_TRUE((*back)[1].is_regex);
  EXPECT_TRUE(MatchesTableRule((*back)[1], "shop", "orders"));
}

TEST(SelectionTest, ARecordThatDoesNotParseIsAnErrorNamingIt) {
  for (const char* bad : {"", "{}", "[{\"match\": 1}]", "[{\"match\": \"a.b\"}]"}) {
    auto r = ParseSelection(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("recorded table selection"), std::string::npos);
  }
}

TEST(SelectionTest, TablesNoRuleSelectedOrWhoseRuleCarriesOtherRowsAreNew) {
  TableRule all = Rule("shop.*");
  TableRule orders_filtered = Rule("shop.orders", "amount > 10");
  TableRule orders = Rule("shop.orders");
  TableRule audit = Rule("shop.audit");
  auto table = [](const char* name, const TableRule& rule) {
    return SourceTable{"shop", name, &rule};
  };
  // orders only before; now shop.*: audit and customers are new.
  std::vector<SourceTable> now = {table("audit", all), table("customers", all), table("orders", all)};
  EXPECT_EQ(Names(NewlySelected(now, {orders})), (std::vector<std::string>{"shop.audit", "shop.customers"}));
  // The same rules: nothing new; another rule carrying the same: nothing new.
  EXPECT_TRUE(NewlySelected(now, {all}).empty());
  EXPECT_TRUE(NewlySelected({table("orders", orders)}, {audit, all}).empty());
  // A filter widened (or changed): its table is new.
  EXPECT_EQ(Names(NewlySelected({table("orders", orders)}, {orders_filtered})),
            (std::vector<std::string>{"shop.orders"}));
  // The first matching rule is the one that carried the table.
  EXPECT_EQ(Names(NewlySelected({table("orders", all)}, {orders_filtered, all})),
            (std::vector<std::string>{"shop.orders"}));
  // A table no longer selected is no concern.
  EXPECT_TRUE(NewlySelected({}, {all}).empty());
}

}  // namespace
}  // namespace sluice::pipeline
