// Capture against a real MariaDB: every column type decoded exactly, with
// full and with minimal row metadata, schema drift refused, GTID starts, and
// exactly-once delivery across a killed dump connection.

#include "source/mysql/binlog_stream_source.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <thread>

#include "harness/mariadb_server.h"
#include "source/mysql/recording_handler.h"

namespace sluice::mysql {
namespace {

using nlohmann::json;
using testing::MariadbServer;
using testing::MariadbServerOptions;

std::unique_ptr<MariadbServer> StartServer(const std::string& metadata, std::vector<std::string> extra = {}) {
  MariadbServerOptions o;
  o.binlog_row_metadata = metadata;
  o.extra_args = std::move(extra);
  auto s = MariadbServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::string MasterPos(MariadbServer& s) {
  auto rows = s.Query("SHOW MASTER STATUS");
  EXPECT_TRUE(rows.ok());
  return *(*rows)[0][0] + ":" + *(*rows)[0][1];
}

// Runs a stream source on its own thread until `want_rows` rows arrived (or
// a timeout), then stops it.
class Tail {
 public:
  Tail(MariadbServer& s, const std::string& start, std::vector<std::string> tables = {}) {
    BinlogStreamSource::Options o;
    auto url = Url::Parse(s.Url());
    o.connect = *ConnectOptions::FromUrl(*url);
    o.start = *StartPosition::Parse(start);
    o.server_id = 777;
    o.heartbeat = std::chrono::milliseconds(200);
    o.decoder.tables = TableFilter(std::move(tables));
    source_ = std::make_unique<BinlogStreamSource>(o);
  }
  ~Tail() { (void)Stop(); }
  void Start(testing::RecordingHandler& h) {
    thread_ = std::thread([this, &h] {
      status_ = source_->Run(h, stop_);
      finished_ = true;
    });
  }
  Status RunUntil(testing::RecordingHandler& h, size_t want_rows, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    Start(h);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && !done_early()) {
      {
        std::lock_guard lock(h_mu);
        if (h.rows.size() >= want_rows) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Stop();
  }
  Status Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  bool done_early() const { return finished_; }
  BinlogStreamSource& source() { return *source_; }
  static inline std::mutex h_mu;

 private:
  std::unique_ptr<BinlogStreamSource> source_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::thread thread_;
  Status status_;
};

// Thread-safe wrapper: the source thread writes, the test thread reads sizes.
class LockedRecorder : public testing::RecordingHandler {
 public:
  Status OnRow(const RowChange& row) override {
    std::lock_guard lock(Tail::h_mu);
    return RecordingHandler::OnRow(row);
  }
  size_t size() {
    std::lock_guard lock(Tail::h_mu);
    return rows.size();
  }
};

const char* kAllTypesDdl = R"sql(
CREATE DATABASE IF NOT EXISTS t;
CREATE TABLE t.all_types (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d1 DECIMAL(12,2), d2 DECIMAL(65,30), d3 DECIMAL(5,0),
  f FLOAT, dbl DOUBLE,
  c CHAR(10), vc VARCHAR(255), vc3 VARCHAR(20) CHARACTER SET utf8mb3, vl VARCHAR(20) CHARACTER SET latin1,
  tx TEXT, ltx LONGTEXT CHARACTER SET latin1,
  b BINARY(4), vb VARBINARY(10), bl BLOB,
  dt DATE, dtm DATETIME, dtm3 DATETIME(3), dtm6 DATETIME(6), ts TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL,
  tm TIME, tm2 TIME(2), y YEAR, bt BIT(10),
  e ENUM('small','medium','large'), s SET('a','b','c'), j JSON, g GEOMETRY,
  ay INT, auy INT UNSIGNED  -- numbers after a YEAR: the signedness bits must line up
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
)sql";

const char* kAllTypesInsert = R"sql(
SET time_zone = '+00:00';
INSERT INTO t.all_types VALUES (
  1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
  -9223372036854775808, 18446744073709551615,
  -1234567890.12, 12345678901234567890123456789012345.123456789012345678901234567890, 0,
  1.5, -2.25e100,
  'abc', 'héllo wörld 😀 "q" \\ \n', 'ñandú', 'café', 'line1\nline2\ttab', 'ÀÉÎõü',
  x'010203', x'00ff10', x'deadbeef00',
  '2024-01-31', '2024-01-31 12:34:56', '2024-01-31 12:34:56.789', '1999-12-31 23:59:59.000001',
  '2024-01-31 12:34:56', '2038-01-19 03:14:07.999999',
  '-838:59:59', '12:34:56.78', 2024, b'1010101010',
  'medium', 'a,c', '{"a": [1, 2.5, {"b": null}], "s": "x\\"y"}', ST_GeomFromText('POINT(1 2)'), -5, 4294967295);
INSERT INTO t.all_types (id) VALUES (2);
UPDATE t.all_types SET vc = 'changed', d1 = 0.5, e = 'large', j = '[true,false]' WHERE id = 1;
DELETE FROM t.all_types WHERE id = 2;
)sql";

void ExpectAllTypesRow(const json& a) {
  EXPECT_EQ(a["id"], 1);
  EXPECT_EQ(a["ti"], -128);
  EXPECT_EQ(a["tiu"], 255);
  EXPECT_EQ(a["si"], -32768);
  EXPECT_EQ(a["siu"], 65535);
  EXPECT_EQ(a["mi"], -8388608);
  EXPECT_EQ(a["miu"], 16777215);
  EXPECT_EQ(a["i"], -2147483648ll);
  EXPECT_EQ(a["iu"], 4294967295ll);
  EXPECT_EQ(a["bi"].get<int64_t>(), INT64_MIN);
  EXPECT_EQ(a["biu"].get<uint64_t>(), UINT64_MAX);
  EXPECT_EQ(a["d1"], "-1234567890.12");
  EXPECT_EQ(a["d2"], "12345678901234567890123456789012345.123456789012345678901234567890");
  EXPECT_EQ(a["d3"], "0");
  EXPECT_EQ(a["f"].get<double>(), 1.5);
  EXPECT_EQ(a["dbl"].get<double>(), -2.25e100);
  EXPECT_EQ(a["c"], "abc");
  EXPECT_EQ(a["vc"], "héllo wörld 😀 \"q\" \\ \n");
  EXPECT_EQ(a["vc3"], "ñandú");
  EXPECT_EQ(a["vl"], "café");
  EXPECT_EQ(a["tx"], "line1\nline2\ttab");
  EXPECT_EQ(a["ltx"], "ÀÉÎõü");
  EXPECT_EQ(a["b"], "AQIDAA==");  // BINARY(4) is zero-padded: 01 02 03 00
  EXPECT_EQ(a["vb"], "AP8Q");
  EXPECT_EQ(a["bl"], "3q2+7wA=");
  EXPECT_EQ(a["dt"], "2024-01-31");
  EXPECT_EQ(a["dtm"], "2024-01-31 12:34:56");
  EXPECT_EQ(a["dtm3"], "2024-01-31 12:34:56.789");
  EXPECT_EQ(a["dtm6"], "1999-12-31 23:59:59.000001");
  EXPECT_EQ(a["ts"], "2024-01-31 12:34:56");
  EXPECT_EQ(a["ts6"], "2038-01-19 03:14:07.999999");
  EXPECT_EQ(a["tm"], "-838:59:59");
  EXPECT_EQ(a["tm2"], "12:34:56.78");
  EXPECT_EQ(a["y"], 2024);
  EXPECT_EQ(a["bt"], 682);
  EXPECT_EQ(a["e"], "medium");
  EXPECT_EQ(a["s"], "a,c");
  EXPECT_EQ(a["j"], json::parse(R"({"a": [1, 2.5, {"b": null}], "s": "x\"y"})"));
  EXPECT_EQ(a["g"], "AQEAAAAAAAAAAADwPwAAAAAAAABA");  // WKB of POINT(1 2)
  EXPECT_EQ(a["ay"], -5);
  EXPECT_EQ(a["auy"], 4294967295ll);
}

class AllTypesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AllTypesTest, EveryTypeDecodesExactlyForInsertUpdateDelete) {
  auto server = StartServer(GetParam());
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute(kAllTypesDdl).ok());
  std::string start = MasterPos(*server);
  auto st = server->Execute(kAllTypesInsert);
  ASSERT_TRUE(st.ok()) << st.message();

  LockedRecorder h;
  Tail tail(*server, start);
  Status run = tail.RunUntil(h, 4);
  ASSERT_TRUE(run.ok()) << run.message();
  ASSERT_EQ(h.rows.size(), 4u);

  json ins = json::parse(h.rows[0]);
  EXPECT_EQ(ins["op"], "insert");
  EXPECT_EQ(ins["db"], "t");
  EXPECT_EQ(ins["table"], "all_types");
  EXPECT_EQ(ins["pk"], json::array({"id"}));
  EXPECT_TRUE(ins["before"].is_null());
  EXPECT_TRUE(ins["gtid"].is_string());
  EXPECT_GT(ins["ts_ms"].get<uint64_t>(), 1700000000000ull);
  ExpectAllTypesRow(ins["after"]);

  json nulls = json::parse(h.rows[1]);
  EXPECT_EQ(nulls["after"]["id"], 2);
  for (auto& [k, v] : nulls["after"].items()) {
    if (k != "id") {
      EXPECT_TRUE(v.is_null()) << k;
    }
  }

  json upd = json::parse(h.rows[2]);
  EXPECT_EQ(upd["op"], "update");
  ExpectAllTypesRow(upd["before"]);
  EXPECT_EQ(upd["after"]["vc"], "changed");
  EXPECT_EQ(upd["after"]["d1"], "0.50");
  EXPECT_EQ(upd["after"]["e"], "large");
  EXPECT_EQ(upd["after"]["j"], json::parse("[true,false]"));
  EXPECT_EQ(upd["after"]["biu"].get<uint64_t>(), UINT64_MAX);

  json del = json::parse(h.rows[3]);
  EXPECT_EQ(del["op"], "delete");
  EXPECT_TRUE(del["after"].is_null());
  EXPECT_EQ(del["before"]["id"], 2);
}

INSTANTIATE_TEST_SUITE_P(RowMetadata, AllTypesTest, ::testing::Values("FULL", "MINIMAL"));

TEST(SchemaDriftTest, MinimalMetadataColumnCountDriftStopsWithAdvice) {
  auto server = StartServer("MINIMAL");
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, a VARCHAR(10))").ok());
  std::string start = MasterPos(*server);
  ASSERT_TRUE(server->Execute("INSERT INTO d.t VALUES (1, 'x'); ALTER TABLE d.t ADD COLUMN b INT").ok());
  LockedRecorder h;
  Tail tail(*server, start);
  Status st = tail.RunUntil(h, 1, std::chrono::seconds(10));
  EXPECT_EQ(h.rows.size(), 0u);  // never a scrambled row
  ASSERT_EQ(st.code(), StatusCode::kSchemaMismatch) << st.message();
  EXPECT_NE(st.message().find("`d`.`t`"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("binlog_row_metadata=FULL"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("binlog.000001:"), std::string::npos) << st.message();
}

TEST(SchemaDriftTest, MinimalMetadataTypeDriftStops) {
  auto server = StartServer("MINIMAL");
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, a INT)").ok());
  std::string start = MasterPos(*server);
  ASSERT_TRUE(server->Execute("INSERT INTO d.t VALUES (1, 2); ALTER TABLE d.t MODIFY a VARCHAR(10)").ok());
  LockedRecorder h;
  Tail tail(*server, start);
  Status st = tail.RunUntil(h, 1, std::chrono::seconds(10));
  EXPECT_EQ(h.rows.size(), 0u);
  ASSERT_EQ(st.code(), StatusCode::kSchemaMismatch) << st.message();
  EXPECT_NE(st.message().find("`a`"), std::string::npos) << st.message();
}

TEST(SchemaDriftTest, MinimalMetadataFollowsDdlWhenReadLive) {
  // Read as it happens, the schema is re-read after the DDL and both shapes decode.
  auto server = StartServer("MINIMAL");
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, a VARCHAR(10))").ok());
  LockedRecorder h;
  Tail tail(*server, "latest");
  tail.Start(h);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(server->Execute("INSERT INTO d.t VALUES (1, 'x')").ok());
  for (int i = 0; i < 100 && h.size() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(server->Execute("ALTER TABLE d.t ADD COLUMN b INT; INSERT INTO d.t VALUES (2, 'y', 3)").ok());
  for (int i = 0; i < 100 && h.size() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Status st = tail.Stop();
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(h.rows.size(), 2u);
  EXPECT_EQ(json::parse(h.rows[0])["after"], json::parse(R"({"id":1,"a":"x"})"));
  EXPECT_EQ(json::parse(h.rows[1])["after"], json::parse(R"({"id":2,"a":"y","b":3})"));
  EXPECT_EQ(h.ddl.size(), 1u);
}

TEST(StreamTest, StartFromMariadbGtidAndTableFilter) {
  auto server = StartServer("FULL");
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE a; CREATE TABLE a.x (id INT PRIMARY KEY); "
                              "CREATE TABLE a.y (id INT PRIMARY KEY)").ok());
  ASSERT_TRUE(server->Execute("INSERT INTO a.x VALUES (1); INSERT INTO a.y VALUES (1)").ok());
  auto gtid = server->QueryValue("SELECT @@gtid_binlog_pos");
  ASSERT_TRUE(gtid.ok());
  ASSERT_TRUE(server->Execute("INSERT INTO a.x VALUES (2); INSERT INTO a.y VALUES (2); INSERT INTO a.x VALUES (3)").ok());
  LockedRecorder h;
  Tail tail(*server, *gtid, {"a.x"});
  Status st = tail.RunUntil(h, 2, std::chrono::seconds(20));
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(h.rows.size(), 2u);
  EXPECT_EQ(json::parse(h.rows[0])["after"]["id"], 2);
  EXPECT_EQ(json::parse(h.rows[1])["after"]["id"], 3);
  EXPECT_EQ(json::parse(h.rows[1])["table"], "x");
}

TEST(StreamTest, KilledDumpConnectionResumesWithoutLossOrRepeat) {
  auto server = StartServer("FULL");
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE k; CREATE TABLE k.t (id INT PRIMARY KEY, pad VARCHAR(200))").ok());
  std::string start = MasterPos(*server);
  // One transaction far larger than the socket buffers, so that the kill
  // lands inside it, then small ones after.
  constexpr int kBig = 200000;
  ASSERT_TRUE(server->Execute(fmt::format("USE k; INSERT INTO k.t SELECT seq, REPEAT('p', 200) FROM seq_1_to_{}", kBig)).ok());
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(server->Execute(fmt::format("INSERT INTO k.t VALUES ({}, 'small')", kBig + i)).ok());
  }
  LockedRecorder h;
  Tail tail(*server, start);
  tail.Start(h);
  // Wait until part of the big transaction has arrived, then cut the connection.
  for (int i = 0; i < 400 && h.size() < 1000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(h.size(), 1000u);
  auto kill = server->KillBinlogDumpThreads();
  ASSERT_TRUE(kill.ok()) << kill.message();
  for (int i = 0; i < 1200 && h.size() < kBig + 20; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Rows written after the reconnect arrive too.
  ASSERT_TRUE(server->Execute(fmt::format("INSERT INTO k.t VALUES ({}, 'after')", kBig + 21)).ok());
  for (int i = 0; i < 200 && h.size() < kBig + 21; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Status st = tail.Stop();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GE(tail.source().reconnects(), 1u);
  ASSERT_EQ(h.rows.size(), static_cast<size_t>(kBig + 21));
  for (size_t i = 0; i < h.rows.size(); i += 997) {
    EXPECT_EQ(json::parse(h.rows[i])["after"]["id"], static_cast<int>(i + 1)) << "row " << i;
  }
  EXPECT_EQ(json::parse(h.rows.back())["after"]["pad"], "after");
  EXPECT_EQ(h.begins, h.commits);
}

TEST(StreamTest, PurgedBinlogIsAClearError) {
  auto server = StartServer("FULL");
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE p; FLUSH BINARY LOGS; FLUSH BINARY LOGS").ok());
  // The server purges a log only after InnoDB's binlog checkpoint has moved past it.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(server->Execute("PURGE BINARY LOGS TO 'binlog.000003'").ok());
    auto first = server->QueryValue("SHOW BINARY LOGS");
    ASSERT_TRUE(first.ok());
    if (*first == "binlog.000003") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  LockedRecorder h;
  Tail tail(*server, "binlog.000001:4");
  Status st = tail.RunUntil(h, 1, std::chrono::seconds(10));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("re-snapshot"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("binlog.000001:4"), std::string::npos) << st.message();
}

TEST(StreamTest, MariadbCompressedEventsAndNoChecksums) {
  // log_bin_compress writes QUERY_COMPRESSED and *_ROWS_COMPRESSED_V1 events.
  auto server = StartServer("FULL", {"--log-bin-compress=ON", "--log-bin-compress-min-len=10", "--binlog-checksum=NONE"});
  ASSERT_TRUE(server);
  std::string start = MasterPos(*server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE c; CREATE TABLE c.t (id INT PRIMARY KEY, body TEXT)").ok());
  ASSERT_TRUE(server->Execute("INSERT INTO c.t VALUES (1, REPEAT('compress me ', 100)), (2, 'short'); "
                              "UPDATE c.t SET body = 'changed' WHERE id = 1; DELETE FROM c.t WHERE id = 2")
                  .ok());
  auto types = server->Query("SHOW BINLOG EVENTS");
  ASSERT_TRUE(types.ok());
  bool compressed = false;
  for (const auto& row : *types) compressed |= row[2] && row[2]->find("compressed") != std::string::npos;
  ASSERT_TRUE(compressed) << "the server wrote no compressed events";
  LockedRecorder h;
  Tail tail(*server, start);
  Status st = tail.RunUntil(h, 4, std::chrono::seconds(20));
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(h.rows.size(), 4u);
  std::string body;
  for (int i = 0; i < 100; ++i) body += "compress me ";
  EXPECT_EQ(json::parse(h.rows[0])["after"]["body"], body);
  EXPECT_EQ(json::parse(h.rows[2])["after"]["body"], "changed");
  EXPECT_EQ(json::parse(h.rows[3])["op"], "delete");
  EXPECT_EQ(h.ddl.size(), 2u);
}

TEST(StreamTest, MinimalRowImageOmitsAbsentColumns) {
  auto server = StartServer("FULL", {"--binlog-row-image=MINIMAL"});
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE m; CREATE TABLE m.t (id INT PRIMARY KEY, a INT, b VARCHAR(5))").ok());
  std::string start = MasterPos(*server);
  ASSERT_TRUE(server->Execute("INSERT INTO m.t VALUES (1, 2, 'x'); UPDATE m.t SET a = 3 WHERE id = 1; "
                              "DELETE FROM m.t WHERE id = 1").ok());
  LockedRecorder h;
  Tail tail(*server, start);
  Status st = tail.RunUntil(h, 3, std::chrono::seconds(20));
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(h.rows.size(), 3u);
  json upd = json::parse(h.rows[1]);
  EXPECT_EQ(upd["before"], json::parse(R"({"id":1})"));
  EXPECT_EQ(upd["after"], json::parse(R"({"a":3})"));
  EXPECT_EQ(json::parse(h.rows[2])["before"], json::parse(R"({"id":1})"));
}

TEST(StreamTest, ServerRestartResumesWhereItStopped) {
  auto server = StartServer("FULL");
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE r; CREATE TABLE r.t (id INT PRIMARY KEY)").ok());
  LockedRecorder h;
  Tail tail(*server, "latest");
  tail.Start(h);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(server->Execute(fmt::format("INSERT INTO r.t VALUES ({})", i)).ok());
  for (int i = 0; i < 100 && h.size() < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(server->Restart().ok());
  for (int i = 6; i <= 10; ++i) ASSERT_TRUE(server->Execute(fmt::format("INSERT INTO r.t VALUES ({})", i)).ok());
  for (int i = 0; i < 300 && h.size() < 10; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Status st = tail.Stop();
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(h.rows.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(json::parse(h.rows[i])["after"]["id"], i + 1);
  EXPECT_GE(tail.source().reconnects(), 1u);
}

TEST(StreamTest, StatementFormatIsRefused) {
  auto server = StartServer("FULL", {"--binlog-format=STATEMENT"});
  ASSERT_TRUE(server);
  LockedRecorder h;
  Tail tail(*server, "latest");
  Status st = tail.RunUntil(h, 1, std::chrono::seconds(10));
  ASSERT_EQ(st.code(), StatusCode::kInvalidArgument) << st.message();
  EXPECT_NE(st.message().find("binlog_format is STATEMENT"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace sluice::mysql
