// `sluice check` against a Redis target that `sluice run` filled from
// MariaDB: consistent after a sync (hash and string modes, every type
// family), planted differences found by kind and key, stream mode refused.

#include <set>

#include "cli/run_command.h"
#include "sink/registry.h"
#include "sink/redis/redis_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.types (
  id INT PRIMARY KEY, ti TINYINT, ub BIGINT UNSIGNED, de DECIMAL(12,2), fl FLOAT, db DOUBLE,
  vc VARCHAR(40), lat VARCHAR(20) CHARACTER SET latin1, vb VARBINARY(8), bl BLOB,
  d DATE, dt DATETIME(3), ts TIMESTAMP(6) NULL, tm TIME, y YEAR, b BIT(8),
  e ENUM('small','large'), s SET('a','b','c'), j JSON);
CREATE TABLE shop.kv (a VARCHAR(20), b INT, v VARCHAR(20), PRIMARY KEY (a, b));
)sql";

constexpr const char* kRows =
    "SET time_zone = '+00:00'; INSERT INTO shop.types VALUES (1, -5, 18446744073709551615, 19.90, 1.5, 2.25, "
    "'a:b \"q\" \xe2\x9c\x93', 'caf\xc3\xa9', 0x00FF10, 'blob', '2024-01-31', '2024-01-31 12:34:56.789', "
    "'2024-01-31 12:34:56.123456', '-838:59:59', 2024, b'101', 'large', 'a,c', '{\"k\": [1, 2], \"a\": 0.5}'), "
    "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
    "(3, 0, 0, 0, 0.1, 1e300, '', '', '', '', '1000-01-01', '1000-01-01 00:00:00', NULL, '00:00:00', 1901, b'0', "
    "'small', '', '[]'), "
    "(4, 1, 1, 1, 1, 1, 'four', 'x', 0x01, 'b', '2000-01-01', '2000-01-01 00:00:00.5', '2000-01-01 00:00:00', "
    "'01:00:00', 2000, b'1', 'small', 'b', '{}'); "
    "INSERT INTO shop.kv VALUES ('x:y', 1, 'one'), ('back\\\\slash', 2, 'two'), ('A', 3, 'three'), ('a*', 4, 'four')";

class RedisCheckTest : public RedisTargetTest {
 protected:
  void Sync(const std::string& mode) {
    RedisTargetOptions o;
    o.mode = mode;
    ASSERT_NO_FATAL_FAILURE(Start(kSchema, o));
    ASSERT_TRUE(src_->Execute(kRows).ok());
    ASSERT_TRUE(WaitUntil([&] { return Keys("shop:types:*").size() == 4 && Keys("shop:kv:*").size() == 4; },
                          std::chrono::seconds(90)))
        << sluice_->Log();
  }
  CommandResult Check(const std::string& more = "") {
    return RunSluice("check -c " + ShellQuote(config_) + " --pipeline p --format json --chunk-rows 2 " + more, 180);
  }
  static nlohmann::json Json(const CommandResult& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "stdout: " << r.out << "\nstderr: " << r.err;
    return j;
  }
  static nlohmann::json Table(const nlohmann::json& j, const std::string& name) {
    for (const auto& t : j["pipelines"][0]["tables"]) {
      if (t["target"] == name) return t;
    }
    ADD_FAILURE() << "no table " << name << " in " << j.dump();
    return nlohmann::json::object();
  }
  static std::set<std::string> Keys(const nlohmann::json& t, const std::string& kind) {
    std::set<std::string> out;
    for (const auto& k : t[kind]) out.insert(k.dump());
    return out;
  }
  using RedisTargetTest::Keys;
};

TEST_F(RedisCheckTest, HashModeConsistentThenPlantedDifferencesFound) {
  ASSERT_NO_FATAL_FAILURE(Sync("hash"));
  auto r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["consistent"], true) << r.out << r.err;

  EXPECT_EQ(sluice_->Stop(), 0);
  for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
           {"DEL", "shop:types:2"},                                  // missing
           {"HSET", "shop:types:9", "id", "9"},                      // extra
           {"HSET", "shop:types:1", "de", "19.91"},                  // decimal
           {"HSET", "shop:types:3", "vb", "AQ=="},                   // binary (base64)
           {"HSET", "shop:types:4", "j", "{\"a\": 1}"},              // JSON
           {"HDEL", "shop:kv:x\\:y:1", "v"},                         // value vs NULL
           {"HSET", "shop:kv:a:3", "a", "a", "b", "3", "v", "x"},   // case of a key: extra (the source has 'A')
       }) {
    auto reply = RedisCommand(cmd);
    ASSERT_TRUE(reply.ok() && !reply->is_error()) << cmd[0] << " " << cmd[1];
  }
  r = Check();
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  auto types = Table(j, "shop.types");
  EXPECT_EQ(Keys(types, "missing"), (std::set<std::string>{R"({"id":2})"})) << types.dump();
  EXPECT_EQ(Keys(types, "extra"), (std::set<std::string>{R"({"id":9})"})) << types.dump();
  EXPECT_EQ(Keys(types, "different"), (std::set<std::string>{R"({"id":1})", R"({"id":3})", R"({"id":4})"}))
      << types.dump();
  auto kv = Table(j, "shop.kv");
  EXPECT_EQ(Keys(kv, "different"), (std::set<std::string>{R"({"a":"x:y","b":1})"})) << kv.dump();
  EXPECT_EQ(Keys(kv, "extra"), (std::set<std::string>{R"({"a":"a","b":3})"})) << kv.dump();
  EXPECT_TRUE(kv["missing"].empty()) << kv.dump();

  // Repairs write through the kind's sink::ChunkTarget; until Redis has one
  // the check says so (turn this into a repair test when it lands).
  if (!sink::SupportsSnapshot("redis")) {
    r = Check("--repair");
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("redis:// targets cannot be repaired yet"), std::string::npos) << r.out << r.err;
  }
}

// A repair writes the source's own JSON text, as the stream does (MariaDB
// keeps a JSON column's text as written); only the comparison normalizes it.
TEST_F(RedisCheckTest, RepairWritesTheSourcesJsonTextNotTheComparedForm) {
  ASSERT_NO_FATAL_FAILURE(Sync("hash"));
  const std::string written = "{\"k\": [1, 2], \"a\": 0.5}";
  EXPECT_EQ(Hash("shop:types:1")["j"], written);
  EXPECT_EQ(sluice_->Stop(), 0);
  for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
           {"DEL", "shop:types:1"},                         // missing
           {"HSET", "shop:types:4", "j", "{\"x\": 1}"},     // different
       }) {
    auto reply = RedisCommand(cmd);
    ASSERT_TRUE(reply.ok() && !reply->is_error()) << cmd[0] << " " << cmd[1];
  }
  auto r = Check("--repair");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Hash("shop:types:1")["j"], written);
  EXPECT_EQ(Hash("shop:types:4")["j"], "{}");
  r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(RedisCheckTest, StringModeConsistentThenAChangedValueFound) {
  ASSERT_NO_FATAL_FAILURE(Sync("string"));
  auto r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["consistent"], true) << r.out << r.err;
  EXPECT_EQ(sluice_->Stop(), 0);
  auto reply = RedisCommand({"SET", "shop:kv:A:3", R"({"a":"A","b":3,"v":"changed"})"});
  ASSERT_TRUE(reply.ok() && !reply->is_error());
  r = Check();
  auto j = Json(r);
  EXPECT_EQ(Keys(Table(j, "shop.kv"), "different"), (std::set<std::string>{R"({"a":"A","b":3})"})) << r.out;
  EXPECT_TRUE(Table(j, "shop.types")["different"].empty()) << r.out;
}

TEST_F(RedisCheckTest, StreamModeIsRefusedAsALog) {
  RedisTargetOptions o;
  o.mode = "stream";
  o.tables = "      - match: \"shop.kv\"\n";
  ASSERT_NO_FATAL_FAILURE(StartServers(kSchema, o));
  auto r = Check();
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("a stream is a log of changes"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace sluice::testing
