// target_triggers.h: what a target trigger does to rows sluice writes.

#include "pipeline/target_triggers.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

TriggerInfo Trigger(std::string timing, std::string statement) {
  return {"shop", "t", "shop.orders", std::move(timing), "INSERT", std::move(statement)};
}

const std::set<std::string> kFilled = {"shop.orders", "shop.audit", "report.totals"};

TEST(TargetTriggersTest, WritesIntoFilledTablesAreFound) {
  auto e = AnalyzeTrigger(Trigger("AFTER", "INSERT INTO shop.audit VALUES (NEW.id, 'trigger')"), kFilled);
  EXPECT_EQ(e.writes, (std::vector<std::string>{"shop.audit"}));
  EXPECT_FALSE(e.sets_new);
  e = AnalyzeTrigger(Trigger("AFTER", "BEGIN\n  -- INSERT INTO shop.orders\n  UPDATE `report`.`Totals` SET n = n + 1;"
                                      "  REPLACE INTO audit (txn, msg) VALUES (1, 'insert into shop.orders');\n"
                                      "  IF NEW.id > 5 THEN DELETE FROM shop.elsewhere; END IF;\nEND"),
                     kFilled);
  EXPECT_EQ(e.writes, (std::vector<std::string>{"report.totals", "shop.audit"}));
}

TEST(TargetTriggersTest, TablesThePipelineDoesNotFillAreNoConcern) {
  auto e = AnalyzeTrigger(Trigger("AFTER", "INSERT INTO local_log SELECT NEW.id, NOW()"), kFilled);
  EXPECT_TRUE(e.writes.empty());
  EXPECT_FALSE(e.sets_new);
}

TEST(TargetTriggersTest, ABeforeTriggerSettingNewChangesTheRow) {
  EXPECT_TRUE(AnalyzeTrigger(Trigger("BEFORE", "SET NEW.note = UPPER(NEW.note)"), kFilled).sets_new);
  EXPECT_TRUE(AnalyzeTrigger(Trigger("BEFORE", "BEGIN SET @x = 1, NEW.amount = 0; END"), kFilled).sets_new);
  EXPECT_FALSE(AnalyzeTrigger(Trigger("BEFORE", "BEGIN SET @x = NEW.amount; END"), kFilled).sets_new);
  EXPECT_FALSE(AnalyzeTrigger(Trigger("AFTER", "SET @x = NEW.amount"), kFilled).sets_new);
}

}  // namespace
}  // namespace sluice::pipeline
