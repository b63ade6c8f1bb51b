// `peer:` (design §13): two pipelines in opposite directions between the
// same two servers, naming each other; anything else is refused with the
// file, line, column and key at fault.

#include <gtest/gtest.h>

#include <string>

#include "pipeline/config.h"

namespace sluice::pipeline {
namespace {

constexpr const char* kTwoWay = R"(sources:
  a: {url: "mysql://repl@10.0.0.1:3306"}
  b: {url: "mysql://repl@10.0.0.2:3306"}
targets:
  a: {url: "mysql://app@10.0.0.1:3306"}
  b: {url: "mysql://app@10.0.0.2:3306"}
pipelines:
  - name: a_to_b
    source: a
    targets: [b]
    peer: b_to_a
    tables: ["shop.*"]
  - name: b_to_a
    source: b
    targets: [a]
    peer: a_to_b
    tables: ["shop.*"]
)";

std::string With(std::string yaml, const std::string& from, const std::string& to) {
  auto at = yaml.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) yaml.replace(at, from.size(), to);
  return yaml;
}

TEST(TwoWayConfig, PeersNameEachOther) {
  auto c = ParseConfig(kTwoWay, "sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pipelines[0].peer, "b_to_a");
  EXPECT_EQ(c->pipelines[1].peer, "a_to_b");
  EXPECT_EQ(c->pipelines[0].peer_mark.line, 11);
}

TEST(TwoWayConfig, NoPeerByDefault) {
  auto c = ParseConfig(With(With(kTwoWay, "    peer: b_to_a\n", ""), "    peer: a_to_b\n", ""), "sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pipelines[0].peer, "");
}

TEST(TwoWayConfig, BadPeersNameFileLineAndKey) {
  struct Case {
    std::string yaml, message;
  };
  const Case cases[] = {
      {With(kTwoWay, "peer: b_to_a", "peer: b_to_x"),
       "sluice.yaml:11:11: pipelines[0].peer: unknown pipeline \"b_to_x\" (did you mean \"b_to_a\"?)"},
      {With(kTwoWay, "peer: b_to_a", "peer: a_to_b"),
       "sluice.yaml:11:11: pipelines[0].peer: a pipeline cannot be its own peer"},
      {With(kTwoWay, "    peer: a_to_b\n", ""),
       "sluice.yaml:11:11: pipelines[0].peer: pipeline \"b_to_a\" must name this one back (peer: a_to_b)"},
      {With(kTwoWay, "    source: b\n    targets: [a]", "    source: b\n    targets: [b]"),
       "sluice.yaml:11:11: pipelines[0].peer: pipeline \"b_to_a\" must run the opposite way between the same two "
       "servers: this one goes 10.0.0.1:3306 -> 10.0.0.2:3306, it goes 10.0.0.2:3306 -> 10.0.0.2:3306"},
      {With(kTwoWay, "    targets: [b]", "    targets: [b, a]"),
       "sluice.yaml:11:11: pipelines[0].peer: pipeline \"a_to_b\": two-way sync needs exactly one mysql:// or "
       "mariadb:// target, got [b, a]"},
      {With(kTwoWay, "peer: b_to_a", "peer: [b_to_a]"), ""},
  };
  for (const Case& c : cases) {
    auto r = ParseConfig(c.yaml, "sluice.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    if (!c.message.empty()) {
      EXPECT_EQ(r.status().message(), c.message);
    } else {
      EXPECT_NE(r.status().message().find("sluice.yaml:11:11: pipelines[0].peer:"), std::string::npos)
          << r.status().message();
    }
  }
}

TEST(TwoWayConfig, ConflictPolicy) {
  auto c = ParseConfig(With(kTwoWay, "    peer: b_to_a\n",
                            "    peer: b_to_a\n    conflict: {policy: latest_wins, column: updated_at}\n"),
                       "sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pipelines[0].conflict_column, "updated_at");
  EXPECT_EQ(c->pipelines[1].conflict_column, "");  // source_wins by default
  EXPECT_EQ(TargetSinkOptions(c->pipelines[0], c->targets[1]).conflict_column, "updated_at");
  c = ParseConfig(With(kTwoWay, "    peer: b_to_a\n", "    peer: b_to_a\n    conflict: {policy: source_wins}\n"),
                  "sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pipelines[0].conflict_column, "");

  const std::pair<std::string, std::string> bad[] = {
      {"{policy: latest_wins}",
       "sluice.yaml:12:5: pipelines[0].conflict.column: latest_wins needs the column to compare (e.g. column: "
       "updated_at)"},
      {"{policy: source_wins, column: v}",
       "sluice.yaml:12:37: pipelines[0].conflict.column: only latest_wins compares a column"},
      {"{policy: newest, column: v}", ""},
      {"{policy: latest_wins, colum: v}", ""},
  };
  for (const auto& [value, message] : bad) {
    auto r = ParseConfig(With(kTwoWay, "    peer: b_to_a\n", "    peer: b_to_a\n    conflict: " + value + "\n"),
                         "sluice.yaml");
    ASSERT_FALSE(r.ok()) << value;
    if (!message.empty()) {
      EXPECT_EQ(r.status().message(), message);
    } else {
      EXPECT_NE(r.status().message().find("sluice.yaml:12:"), std::string::npos) << r.status().message();
      EXPECT_NE(r.status().message().find("pipelines[0].conflict"), std::string::npos) << r.status().message();
    }
  }
}

}  // namespace
}  // namespace sluice::pipeline
