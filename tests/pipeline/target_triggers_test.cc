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
  EXPECT_TRUE(e.sets_new.empty());
  e = AnalyzeTrigger(Trigger("AFTER", "BEGIN\n  -- INSERT INTO shop.orders\n  UPDATE `report`.`Totals` SET n = n + 1;"
                                      "  REPLACE INTO audit (txn, msg) VALUES (1, 'insert into shop.orders');\n"
                                      "  IF NEW.id > 5 THEN DELETE FROM shop.elsewhere; END IF;\nEND"),
                     kFilled);
  EXPECT_EQ(e.writes, (std::vector<std::string>{"report.totals", "shop.audit"}));
}

TEST(TargetTriggersTest, TablesThePipelineDoesNotFillAreNoConcern) {
  auto e = AnalyzeTrigger(Trigger("AFTER", "INSERT INTO local_log SELECT NEW.id, NOW()"), kFilled);
  EXPECT_TRUE(e.writes.empty());
  EXPECT_TRUE(e.sets_new.empty());
}

TEST(TargetTriggersTest, ABeforeTriggerSettingNewNamesTheColumns) {
  using V = std::vector<std::string>;
  EXPECT_EQ(AnalyzeTrigger(Trigger("BEFORE", "SET NEW.note = UPPER(NEW.note)"), kFilled).sets_new, V{"note"});
  EXPECT_EQ(AnalyzeTrigger(Trigger("BEFORE", "BEGIN SET @x = 1, NEW.`Amount` = 0, NEW.loaded_at = NOW(); END"),
                           kFilled)
                .sets_new,
            (V{"amount", "loaded_at"}));
  EXPECT_TRUE(AnalyzeTrigger(Trigger("BEFORE", "BEGIN SET @x = NEW.amount; END"), kFilled).sets_new.empty());
  EXPECT_TRUE(AnalyzeTrigger(Trigger("AFTER", "SET @x = NEW.amount"), kFilled).sets_new.empty());
}

}  // namespace
}  // namespace sluice::pipeline
