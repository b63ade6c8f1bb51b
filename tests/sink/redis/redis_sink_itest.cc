// The Redis target through `sluice run`, from a real MariaDB into a real
// redis-server: every mode, every type's text, NULLs, deletes, key changes
// and escaping, renames, DDL, rejected commands.
#include <nlohmann/json.hpp>

#include "core/change_event.h"

#include "sink/redis/redis_fixture.h"

namespace sluice::testing {
namespace {

using Json = nlohmann::json;

constexpr const char* kTypesSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.types (
  id INT PRIMARY KEY, ti TINYINT, ub BIGINT UNSIGNED, de DECIMAL(12,2), fl FLOAT, db DOUBLE,
  vc VARCHAR(40), lat VARCHAR(20) CHARACTER SET latin1, vb VARBINARY(8), bl BLOB,
  d DATE, dt DATETIME(3), ts TIMESTAMP(6) NULL, tm TIME, y YEAR, b BIT(8),
  e ENUM('small','large'), s SET('a','b','c'), j JSON);
)sql";

constexpr const char* kTypesRow =
    "SET time_zone = '+00:00'; INSERT INTO shop.types VALUES (1, -5, 18446744073709551615, 19.90, 1.5, 2.25, "
    "'a:b \"q\" \xe2\x9c\x93', 'caf\xc3\xa9', 0x00FF10, 'blob', '2024-01-31', '2024-01-31 12:34:56.789', "
    "'2024-01-31 12:34:56.123456', '-838:59:59', 2024, b'101', 'large', 'a,c', '{\"k\": [1, 2]}')";

const RedisMap kTypesHash = {
    {"id", "1"},
    {"ti", "-5"},
    {"ub", "18446744073709551615"},
    {"de", "19.90"},
    {"fl", "1.5"},
    {"db", "2.25"},
    {"vc", "a:b \"q\" \xe2\x9c\x93"},
    {"lat", "caf\xc3\xa9"},  // latin1 on the source, UTF-8 in Redis
    {"vb", "AP8Q"},          // base64
    {"bl", "YmxvYg=="},
    {"d", "2024-01-31"},
    {"dt", "2024-01-31 12:34:56.789"},
    {"ts", "2024-01-31 12:34:56.123456"},  // UTC
    {"tm", "-838:59:59"},
    {"y", "2024"},
    {"b", "5"},
    {"e", "large"},
    {"s", "a,c"},
    {"j", "{\"k\": [1, 2]}"},
};

TEST_F(RedisTargetTest, HashModeWritesEveryTypeAsItsJsonTextAndDropsNullFields) {
  ASSERT_NO_FATAL_FAILURE(Start(kTypesSchema));
  ASSERT_TRUE(src_->Execute(kTypesRow).ok());
  EXPECT_TRUE(HashBecomes("shop:types:1", kTypesHash));

  // Updated to NULL: the fields go; the others stay.
  ASSERT_TRUE(src_->Execute("UPDATE shop.types SET vc = NULL, j = NULL, ts = NULL, de = 0.5 WHERE id = 1").ok());
  RedisMap updated = kTypesHash;
  updated.erase("vc");
  updated.erase("j");
  updated.erase("ts");
  updated["de"] = "0.50";
  EXPECT_TRUE(HashBecomes("shop:types:1", updated));

  // Inserted with NULLs: only the non-NULL fields exist.
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.types (id, vc) VALUES (2, '')").ok());
  EXPECT_TRUE(HashBecomes("shop:types:2", {{"id", "2"}, {"vc", ""}}));

  ASSERT_TRUE(src_->Execute("DELETE FROM shop.types WHERE id = 1").ok());
  EXPECT_TRUE(HashBecomes("shop:types:1", {}));
  EXPECT_EQ(Keys("shop:*"), std::vector<std::string>{"shop:types:2"});

  // The position is kept in Redis.
  RedisMap cp = Hash("_sluice:checkpoint:p:dst");
  EXPECT_TRUE(cp["position"].starts_with("binlog.")) << cp["position"];
  EXPECT_TRUE(cp["resume_position"].starts_with("binlog.")) << cp["resume_position"];
}

TEST_F(RedisTargetTest, KeyValuesAreJoinedEscapedAndFollowKeyChanges) {
  ASSERT_NO_FATAL_FAILURE(Start(R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.kv (a VARCHAR(20), b INT, v VARCHAR(20), PRIMARY KEY (a, b));
)sql"));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.kv VALUES ('x:y', 1, 'one'), ('back\\\\slash', 2, 'two')").ok());
  EXPECT_TRUE(HashBecomes("shop:kv:x\\:y:1", {{"a", "x:y"}, {"b", "1"}, {"v", "one"}}));
  EXPECT_TRUE(HashBecomes("shop:kv:back\\\\slash:2", {{"a", "back\\slash"}, {"b", "2"}, {"v", "two"}}));

  // A key change: the row moves to its new key.
  ASSERT_TRUE(src_->Execute("UPDATE shop.kv SET a = 'z', v = 'moved' WHERE b = 1").ok());
  EXPECT_TRUE(HashBecomes("shop:kv:z:1", {{"a", "z"}, {"b", "1"}, {"v", "moved"}}));
  EXPECT_TRUE(HashBecomes("shop:kv:x\\:y:1", {}));
  // Both changes of one transaction, the old key freed and taken again.
  ASSERT_TRUE(src_->Execute("BEGIN; UPDATE shop.kv SET b = 3 WHERE b = 2; "
                            "INSERT INTO shop.kv VALUES ('back\\\\slash', 2, 'again'); COMMIT")
                  .ok());
  EXPECT_TRUE(HashBecomes("shop:kv:back\\\\slash:3", {{"a", "back\\slash"}, {"b", "3"}, {"v", "two"}}));
  EXPECT_TRUE(HashBecomes("shop:kv:back\\\\slash:2", {{"a", "back\\slash"}, {"b", "2"}, {"v", "again"}}));
  EXPECT_EQ(Keys("shop:kv:*").size(), 3u);
}

TEST_F(RedisTargetTest, StringModeSetsTheRowJsonUnderTheRenamedNames) {
  RedisTargetOptions o;
  o.mode = "string";
  o.key = "${pipeline}/${db}/${table}/${pk}";
  o.tables =
      "      - match: \"shop.orders\"\n"
      "        to: \"app.${table}_v1\"\n"
      "        rename_columns: {note: comment}\n";
  ASSERT_NO_FATAL_FAILURE(Start(R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, amount DECIMAL(8,2) NOT NULL, note VARCHAR(40), bin VARBINARY(4));
)sql",
                                o));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (7, 19.9, NULL, 0x01)").ok());
  auto value = [&](const std::string& key) -> Json {
    auto r = RedisCommand({"GET", key});
    if (!r.ok() || r->type != sink::redis::RedisReply::Type::kString) return nullptr;
    return Json::parse(r->str, nullptr, false);
  };
  Json want = Json::parse(R"({"id":7,"amount":"19.90","comment":null,"bin":"AQ=="})");
  Json got;
  EXPECT_TRUE(WaitUntil([&] { return (got = value("p/app/orders_v1/7")) == want; }, std::chrono::seconds(60)))
      << got.dump() << "\n" << sluice_->Log();
  auto raw = RedisCommand({"GET", "p/app/orders_v1/7"});
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->str, R"({"id":7,"amount":"19.90","comment":null,"bin":"AQ=="})");  // section 4, column order

  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET note = 'paid' WHERE id = 7").ok());
  want["comment"] = "paid";
  EXPECT_TRUE(WaitUntil([&] { return (got = value("p/app/orders_v1/7")) == want; }, std::chrono::seconds(60)))
      << got.dump();
  ASSERT_TRUE(src_->Execute("DELETE FROM shop.orders WHERE id = 7").ok());
  EXPECT_TRUE(WaitUntil([&] { return Keys("p/*").empty(); }, std::chrono::seconds(60))) << sluice_->Log();
}

// XRANGE of a stream as one object per entry (its fields).
std::vector<Json> StreamEntries(RedisTargetTest& t, sink::redis::RedisConnection& c, const std::string& key) {
  (void)t;
  std::vector<Json> out;
  auto r = c.Command({"XRANGE", key, "-", "+"});
  if (!r.ok() || r->is_error()) return out;
  for (const auto& entry : r->elements) {
    Json fields = Json::object();
    const auto& kv = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) fields[kv[i].str] = kv[i + 1].str;
    out.push_back(std::move(fields));
  }
  return out;
}

TEST_F(RedisTargetTest, StreamModeAppendsEveryChangeOnceAcrossCleanRestarts) {
  RedisTargetOptions o;
  o.mode = "stream";
  ASSERT_NO_FATAL_FAILURE(Start(R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40));
CREATE TABLE shop.audit (msg VARCHAR(40));
)sql",
                                o));
  ASSERT_TRUE(src_->Execute("BEGIN; INSERT INTO shop.orders VALUES (1, 'new'); INSERT INTO shop.audit VALUES ('a'); "
                            "COMMIT; UPDATE shop.orders SET note = NULL WHERE id = 1; DELETE FROM shop.orders")
                  .ok());
  std::vector<Json> entries;
  auto conn = Redis();
  ASSERT_TRUE(conn);
  ASSERT_TRUE(WaitUntil([&] { return (entries = StreamEntries(*this, *conn, "shop:orders")).size() >= 3; },
                        std::chrono::seconds(60)))
      << sluice_->Log();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0]["op"], "insert");
  EXPECT_EQ(entries[0]["before"], "null");
  EXPECT_EQ(entries[0]["after"], R"({"id":1,"note":"new"})");
  EXPECT_EQ(entries[0]["key"], R"({"id":1})");
  EXPECT_EQ(entries[0]["db"], "shop");
  EXPECT_EQ(entries[0]["table"], "orders");
  EXPECT_EQ(entries[1]["op"], "update");
  EXPECT_EQ(entries[1]["before"], R"({"id":1,"note":"new"})");
  EXPECT_EQ(entries[1]["after"], R"({"id":1,"note":null})");
  EXPECT_EQ(entries[2]["op"], "delete");
  EXPECT_EQ(entries[2]["after"], "null");
  EXPECT_TRUE(entries[2]["pos"].get<std::string>().starts_with("binlog.")) << entries[2].dump();
  StreamPos p0, p1;
  ASSERT_TRUE(StreamPos::Parse(entries[0]["pos"].get<std::string>(), &p0));
  ASSERT_TRUE(StreamPos::Parse(entries[1]["pos"].get<std::string>(), &p1));
  EXPECT_LT(p0, p1);  // unique per change, in source order: what a consumer dedupes replays by
  // A table without a key has a stream too.
  auto audit = StreamEntries(*this, *conn, "shop:audit");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0]["after"], R"({"msg":"a"})");

  // A clean restart resumes after the recorded position: nothing twice.
  EXPECT_EQ(sluice_->Stop(), 0);
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (2, 'after restart')").ok());
  ASSERT_TRUE(WaitUntil([&] { return (entries = StreamEntries(*this, *conn, "shop:orders")).size() >= 4; },
                        std::chrono::seconds(60)))
      << sluice_->Log();
  // A replay would have appended its duplicates before the new entry.
  ASSERT_EQ(entries.size(), 4u) << sluice_->Log();
  EXPECT_EQ(entries[3]["after"], R"({"id":2,"note":"after restart"})");
  EXPECT_EQ(StreamEntries(*this, *conn, "shop:audit").size(), 1u);

  // TRUNCATE carries no row events: the stream gets a "ddl" entry saying so.
  ASSERT_TRUE(src_->Execute("TRUNCATE TABLE shop.audit").ok());
  ASSERT_TRUE(WaitUntil([&] { return (audit = StreamEntries(*this, *conn, "shop:audit")).size() >= 2; },
                        std::chrono::seconds(60)))
      << sluice_->Log();
  EXPECT_EQ(audit[1]["op"], "ddl");
  EXPECT_EQ(audit[1]["ddl"], "TRUNCATE TABLE shop.audit");
  EXPECT_EQ(audit[1]["table"], "audit");
}

// A target renamed in the configuration takes over its old name's
// checkpoint: a stream gets no entry twice (a replay from `start: earliest`
// would append them all again) and none is missed.
TEST_F(RedisTargetTest, ATargetRenamedInTheConfigurationGoesOnWhereItStopped) {
  RedisTargetOptions o;
  o.mode = "stream";
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40))",
                                o));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (1, 'a'), (2, 'b')").ok());
  auto conn = Redis();
  ASSERT_TRUE(conn);
  ASSERT_TRUE(WaitUntil([&] { return StreamEntries(*this, *conn, "shop:orders").size() >= 2; },
                        std::chrono::seconds(60)))
      << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0);
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (3, 'while stopped')").ok());
  ASSERT_NO_FATAL_FAILURE(RenameTargetInConfig("dst", "cache"));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (4, 'after')").ok());
  std::vector<Json> entries;
  ASSERT_TRUE(WaitUntil([&] { return (entries = StreamEntries(*this, *conn, "shop:orders")).size() >= 4; },
                        std::chrono::seconds(60)))
      << sluice_->Log();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // what a replay would add after them
  entries = StreamEntries(*this, *conn, "shop:orders");
  ASSERT_EQ(entries.size(), 4u) << sluice_->Log();
  EXPECT_EQ(entries[2]["after"], R"({"id":3,"note":"while stopped"})");
  EXPECT_EQ(entries[3]["after"], R"({"id":4,"note":"after"})");
  EXPECT_EQ(Keys("_sluice:checkpoint:*"), std::vector<std::string>{"_sluice:checkpoint:p:cache"});
  EXPECT_NE(sluice_->Log().find("took over the checkpoint of target dst"), std::string::npos) << sluice_->Log();
}

TEST_F(RedisTargetTest, TruncateAndDropTableDeleteTheTableKeys) {
  ASSERT_NO_FATAL_FAILURE(Start(R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.a (id INT PRIMARY KEY, v INT);
CREATE TABLE shop.b (id INT PRIMARY KEY, v INT);
)sql"));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.a VALUES (1, 1), (2, 2); INSERT INTO shop.b VALUES (1, 1)").ok());
  ASSERT_TRUE(WaitUntil([&] { return Keys("shop:*").size() == 3; }, std::chrono::seconds(60))) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("TRUNCATE TABLE shop.a; INSERT INTO shop.a VALUES (3, 3)").ok());
  EXPECT_TRUE(WaitUntil([&] { return Keys("shop:*") == std::vector<std::string>{"shop:a:3", "shop:b:1"}; },
                        std::chrono::seconds(60)))
      << sluice_->Log();
  ASSERT_TRUE(src_->Execute("DROP TABLE shop.b").ok());
  EXPECT_TRUE(WaitUntil([&] { return Keys("shop:*") == std::vector<std::string>{"shop:a:3"}; },
                        std::chrono::seconds(60)))
      << sluice_->Log();
  EXPECT_EQ(Hash("_sluice:checkpoint:p:dst").size(), 3u);  // never deleted with a table's keys
}

// An ordinary `ALTER TABLE ... ADD COLUMN ... DEFAULT`: the source's rows
// already there read the default (no row events say so); their hashes get
// it too, in the text the stream gives each type (TIMESTAMP in UTC
// whatever the source's time zone, BINARY padded). A default the source
// evaluated at the ALTER is named in a warning instead.
TEST_F(RedisTargetTest, ColumnsAddedWithADefaultReachTheHashesAlreadyThere) {
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT);"));
  ASSERT_TRUE(src_->Execute("SET GLOBAL time_zone = '+08:00'; INSERT INTO shop.t VALUES (1, 1), (2, 2)").ok());
  ASSERT_TRUE(HashBecomes("shop:t:1", {{"id", "1"}, {"v", "1"}}));
  ASSERT_TRUE(src_->Execute("SET time_zone = '+08:00'; ALTER TABLE shop.t ADD COLUMN n INT NOT NULL DEFAULT 7, "
                            "ADD COLUMN label VARCHAR(10) DEFAULT 'it''s', ADD COLUMN de DECIMAL(6,2) NOT NULL "
                            "DEFAULT 1.5, ADD COLUMN at TIMESTAMP NOT NULL DEFAULT '2024-01-01 08:00:00', ADD COLUMN "
                            "bin BINARY(3) NOT NULL DEFAULT 'a', ADD COLUMN maybe INT NULL, ADD COLUMN e ENUM('x', "
                            "'y') NOT NULL, ADD COLUMN made TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP; "
                            "INSERT INTO shop.t (id, v, n, maybe) VALUES (3, 3, 9, 4)")
                  .ok());
  const RedisMap filled = {{"id", "1"},   {"v", "1"},     {"n", "7"}, {"label", "it's"}, {"de", "1.50"},
                           {"at", "2024-01-01 00:00:00"}, {"bin", "YQAA"}, {"e", "x"}};
  EXPECT_TRUE(HashBecomes("shop:t:1", filled));
  RedisMap second = filled;
  second["id"] = "2";
  second["v"] = "2";
  EXPECT_TRUE(HashBecomes("shop:t:2", second));
  // The row inserted after the ALTER holds its own values, not overwritten
  // (applied after the hashes already there were filled: waited for).
  RedisMap third;
  EXPECT_TRUE(WaitUntil([&] { return (third = Hash("shop:t:3")).contains("made"); }, std::chrono::seconds(60)));
  EXPECT_EQ(third["n"], "9");
  EXPECT_EQ(third["maybe"], "4");
  EXPECT_TRUE(third.contains("made"));
  std::string log = sluice_->Log();
  EXPECT_NE(log.find("column `made` added to `shop.t`: its default is an expression"), std::string::npos) << log;
}

TEST_F(RedisTargetTest, ACommandRedisRejectsStopsThePipelineNamingTableKeyAndPosition) {
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, note TEXT);"));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (5, 'x'), (6, 'y')").ok());
  ASSERT_TRUE(HashBecomes("shop:orders:6", {{"id", "6"}, {"note", "y"}}));
  // Another writer puts a string where the row's hash is.
  ASSERT_TRUE(RedisCommand({"SET", "shop:orders:5", "not a hash"}).ok());
  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET note = 'z' WHERE id = 5").ok());
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(60)));
  std::string error = ErrorText(PipelineStatus("p"));
  for (const char* part : {"pipeline p", "target dst", "`shop`.`orders`", "shop:orders:5", "@ binlog.", "WRONGTYPE"}) {
    EXPECT_NE(error.find(part), std::string::npos) << part << " not in: " << error;
  }
  // The position stays before the rejected transaction: a restart meets it again.
  RedisMap cp = Hash("_sluice:checkpoint:p:dst");
  EXPECT_FALSE(cp["position"].empty());
  ASSERT_TRUE(RedisCommand({"DEL", "shop:orders:5"}).ok());
  sluice_->Kill();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(HashBecomes("shop:orders:5", {{"id", "5"}, {"note", "z"}}));
}

TEST_F(RedisTargetTest, PasswordInTheUrlAuthenticatesAndIsNeverLogged) {
  RedisTargetOptions o;
  o.password = "s3cret-pw";
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY);", o));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.t VALUES (1)").ok());
  EXPECT_TRUE(HashBecomes("shop:t:1", {{"id", "1"}}));
  EXPECT_EQ(sluice_->FullLog().find("s3cret-pw"), std::string::npos);
}

TEST_F(RedisTargetTest, WrongPasswordFailsTheTargetNamingIt) {
  RedisTargetOptions o;
  o.password = "s3cret-pw";
  o.url_password = "wrong-pw";
  ASSERT_NO_FATAL_FAILURE(Start("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY);", o));
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(60)));
  std::string error = ErrorText(PipelineStatus("p"));
  EXPECT_NE(error.find("AUTH"), std::string::npos) << error;
  EXPECT_NE(error.find("redis 127.0.0.1:" + std::to_string(redis_->port())), std::string::npos) << error;
  EXPECT_EQ(sluice_->FullLog().find("wrong-pw"), std::string::npos);
}

}  // namespace
}  // namespace sluice::testing
