// Foreign keys with actions (design §7: nothing dropped silently): the
// server applies ON DELETE / ON UPDATE CASCADE and SET NULL without writing
// the child rows to its binlog, so a pipeline reading such a child table
// says so at start (log and status events), naming the key; keys without
// actions, and tables it does not read, are not mentioned.

#include <fmt/format.h>

#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

TEST_F(FaultTest, ForeignKeysWhoseActionsTheBinlogLacksAreNamedAtStart) {
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    ASSERT_TRUE(src_->Execute(
                        "CREATE TABLE shop.parent (id INT PRIMARY KEY);"
                        "CREATE TABLE shop.cascades (id INT PRIMARY KEY, pid INT, CONSTRAINT fk_cascades FOREIGN KEY "
                        "(pid) REFERENCES shop.parent (id) ON DELETE CASCADE ON UPDATE SET NULL);"
                        "CREATE TABLE shop.restricts (id INT PRIMARY KEY, pid INT, CONSTRAINT fk_restricts FOREIGN KEY "
                        "(pid) REFERENCES shop.parent (id));"
                        "CREATE DATABASE other; CREATE TABLE other.kid (id INT PRIMARY KEY, pid INT, CONSTRAINT "
                        "fk_other FOREIGN KEY (pid) REFERENCES shop.parent (id) ON DELETE CASCADE)")
                    .ok());
  }));
  const std::string log = sluice_->Log();
  EXPECT_NE(log.find("table shop.cascades has foreign key `fk_cascades` to shop.parent with ON DELETE CASCADE, "
                     "ON UPDATE SET NULL"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("fk_restricts"), std::string::npos) << log;
  EXPECT_EQ(log.find("fk_other"), std::string::npos) << log;
  bool shown = false;
  const nlohmann::json status = PipelineStatus("p");
  for (const auto& e : status["events"]) {
    shown |= e.value("what", "") == "warning" && e.value("message", "").find("fk_cascades") != std::string::npos;
  }
  EXPECT_TRUE(shown) << status.dump();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
