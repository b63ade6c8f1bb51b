#include "pipeline/pg_source.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

TEST(PgSourceNames, DefaultSlotNameIsAValidSlotName) {
  PipelineConfig p;
  p.name = "orders_to_search";
  EXPECT_EQ(DefaultSlotName(p), "sluice_orders_to_search");
  p.name = "Shop.Orders-EU";
  EXPECT_EQ(DefaultSlotName(p), "sluice_shop_orders_eu");
  p.name = std::string(80, 'a');
  EXPECT_EQ(DefaultSlotName(p), "sluice_" + std::string(56, 'a'));  // 63 bytes, PostgreSQL's limit
}

}  // namespace
}  // namespace sluice::pipeline
