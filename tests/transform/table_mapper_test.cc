// TableMapper's errors for a rule that names a column the source table does
// not have (most often dropped or renamed by a DDL the pipeline just read):
// the rule, the table, what it has now and how to go on.

#include <gtest/gtest.h>

#include "transform/table_mapper.h"

namespace sluice::transform {
namespace {

TableSchemaPtr OrdersWithout(const std::string& dropped) {
  auto s = std::make_shared<TableSchema>();
  s->db = "shop";
  s->table = "orders";
  s->names_known = true;
  for (const char* name : {"id", "status", "amount"}) {
    if (name == dropped) continue;
    ColumnMeta c;
    c.name = name;
    s->columns.push_back(c);
  }
  s->primary_key = {0};
  return s;
}

Result<const TableMapping*> MapWith(MappingRule r, const TableSchemaPtr& schema, std::unique_ptr<TableMapper>& mapper) {
  r.match = "shop.orders";
  r.origin = "sluice.yaml:13:9";
  std::vector<MappingRule> rules;
  rules.push_back(std::move(r));
  auto m = TableMapper::Create(std::move(rules));
  if (!m.ok()) return m.status();
  mapper = std::move(m).value();
  return mapper->Map(schema);
}

TEST(TableMapperTest, AWhereOverAColumnTheTableLacksNamesItsColumnsAndTheWayOn) {
  MappingRule r;
  r.where = "status = 'paid'";
  std::unique_ptr<TableMapper> mapper;
  ASSERT_TRUE(MapWith(r, OrdersWithout(""), mapper).ok());
  auto mapped = MapWith(r, OrdersWithout("status"), mapper);
  ASSERT_FALSE(mapped.ok());
  const std::string& msg = mapped.status().message();
  EXPECT_NE(msg.find("table `shop`.`orders` (rule at sluice.yaml:13:9): where: unknown column `status`"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("The source table's columns are now: id, amount. If a DDL dropped or renamed it, change the "
                     "rule and reload (SIGHUP)"),
            std::string::npos)
      << msg;
}

TEST(TableMapperTest, AColumnsSubsetOverAColumnTheTableLacksNamesItsColumns) {
  MappingRule r;
  r.columns = {"id", "status"};
  std::unique_ptr<TableMapper> mapper;
  auto mapped = MapWith(r, OrdersWithout("status"), mapper);
  ASSERT_FALSE(mapped.ok());
  EXPECT_NE(mapped.status().message().find(
                "columns: no column `status` in the source table. The source table's columns are now: id, amount."),
            std::string::npos)
      << mapped.status().message();
}

}  // namespace
}  // namespace sluice::transform
