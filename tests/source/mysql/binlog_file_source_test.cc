// Replays the real binlog files in ../shared/fixtures/binlog (MySQL 5.1 to
// 8.0.31) through the file source. Expected counts and values are read off
// `mariadb-binlog -v --base64-output=decode-rows` of the same files.

#include "source/mysql/binlog_file_source.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "source/mysql/recording_handler.h"

namespace sluice::mysql {
namespace {

std::string Fixture(const std::string& name) { return std::string(SLUICE_FIXTURES_DIR) + "/binlog/" + name; }

struct Replay {
  Status status;
  testing::RecordingHandler h;
};

std::unique_ptr<Replay> ReplayFile(const std::string& path, uint64_t start = 0) {
  auto r = std::make_unique<Replay>();
  BinlogFileSource::Options o;
  o.path = path;
  o.start_offset = start;
  o.follow_rotate = false;
  BinlogFileSource src(o);
  std::atomic<bool> stop{false};
  r->status = src.Run(r->h, stop);
  return r;
}

// A file that ends inside a transaction (a binlog still being written) leaves
// that one open: `open_at_end`.
void ExpectClean(const Replay& r, int open_at_end = 0) {
  EXPECT_EQ(r.status.code(), StatusCode::kEndOfStream) << r.status.message();
  EXPECT_EQ(r.h.rows_outside_txn, 0);
  EXPECT_EQ(r.h.nested_begins, 0);
  EXPECT_EQ(r.h.begins, r.h.commits + open_at_end);
}

nlohmann::json Row(const Replay& r, size_t i) { return nlohmann::json::parse(r.h.rows.at(i)); }

TEST(BinlogFixtureTest, Mysql51RowsV1) {
  auto r = ReplayFile(Fixture("canal-mysql-bin.000001"));
  ExpectClean(*r);
  ASSERT_EQ(r->h.rows.size(), 95u);
  auto first = Row(*r, 0);
  EXPECT_EQ(first["op"], "insert");
  EXPECT_EQ(first["db"], "erosa");
  EXPECT_EQ(first["table"], "testFile");
  EXPECT_EQ(first["after"]["@1"], 1);
  EXPECT_EQ(first["after"]["@2"], "D:\\fileresolver\\testFile.jpg");
  EXPECT_EQ(first["pos"], "canal-mysql-bin.000001:226");
  EXPECT_TRUE(first["gtid"].is_null());
  EXPECT_TRUE(first["before"].is_null());
}

TEST(BinlogFixtureTest, Mysql57Crc32ChecksumsVerified) {
  auto r = ReplayFile(Fixture("mbcj-mysql-bin.checksum-crc32"));
  ExpectClean(*r);
  ASSERT_EQ(r->h.rows.size(), 63u);
  auto first = Row(*r, 0);
  EXPECT_EQ(first["db"], "simu_file_dev");
  EXPECT_EQ(first["table"], "folder");
  EXPECT_EQ(first["after"]["@1"], 12300113);
  EXPECT_EQ(first["after"]["@2"], "test2");
  EXPECT_EQ(first["after"]["@3"], "/");
  EXPECT_EQ(first["after"]["@12"], 12200009);
  EXPECT_EQ(first["pos"], "mbcj-mysql-bin.checksum-crc32:384");
}

TEST(BinlogFixtureTest, ChecksumMismatchIsRejected) {
  std::ifstream in(Fixture("mbcj-mysql-bin.checksum-crc32"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 400u);
  bytes[400] ^= 0x01;  // inside the first WRITE_ROWS event (384..486)
  auto path = std::filesystem::temp_directory_path() / "sluice-corrupt-crc.bin";
  std::ofstream(path, std::ios::binary) << bytes;
  auto r = ReplayFile(path.string());
  EXPECT_EQ(r->status.code(), StatusCode::kCorruption);
  EXPECT_NE(r->status.message().find("checksum mismatch"), std::string::npos) << r->status.message();
  EXPECT_NE(r->status.message().find(":384"), std::string::npos) << r->status.message();
  std::filesystem::remove(path);
}

TEST(BinlogFixtureTest, TruncatedFileIsRejected) {
  std::ifstream in(Fixture("mbcj-mysql-bin.checksum-crc32"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto path = std::filesystem::temp_directory_path() / "sluice-truncated.bin";
  std::ofstream(path, std::ios::binary) << bytes.substr(0, 450);
  auto r = ReplayFile(path.string());
  EXPECT_EQ(r->status.code(), StatusCode::kCorruption);
  EXPECT_NE(r->status.message().find("truncated"), std::string::npos) << r->status.message();
  std::filesystem::remove(path);
}

TEST(BinlogFixtureTest, Mysql57ChecksumNone) {
  auto r = ReplayFile(Fixture("mbcj-mysql-bin.checksum-none"));
  ExpectClean(*r);
  EXPECT_EQ(r->h.rows.size(), 36u);
}

TEST(BinlogFixtureTest, Mysql57GtidModeRowsCarryGtids) {
  auto r = ReplayFile(Fixture("mbcr-mysql-bin.000080"));
  ExpectClean(*r);
  ASSERT_EQ(r->h.rows.size(), 7u);
  auto first = Row(*r, 0);
  EXPECT_EQ(first["op"], "delete");
  EXPECT_EQ(first["db"], "a");
  EXPECT_EQ(first["table"], "b");
  EXPECT_EQ(first["before"]["@1"], 12);
  EXPECT_EQ(first["pos"], "mbcr-mysql-bin.000080:369");
  ASSERT_TRUE(first["gtid"].is_string());
  std::string gtid = first["gtid"];
  EXPECT_EQ(gtid.size(), 36u + 1 + gtid.substr(37).size());
  EXPECT_EQ(gtid[36], ':');
  // Commit positions are transaction boundaries: the first ends after its XID at 445.
  ASSERT_FALSE(r->h.commit_positions.empty());
  EXPECT_EQ(r->h.commit_positions[0], "mbcr-mysql-bin.000080:445");
  // The GTID state accumulates the executed set.
  EXPECT_NE(r->h.gtid_states.back().find(gtid.substr(0, 36)), std::string::npos);
}

TEST(BinlogFixtureTest, Mysql57DdlHeavy) {
  auto r2 = ReplayFile(Fixture("canal-tsdb-mysql-bin.000002"));
  ExpectClean(*r2);
  EXPECT_EQ(r2->h.rows.size(), 1u);
  EXPECT_GE(r2->h.ddl.size(), 10u);
  auto r3 = ReplayFile(Fixture("canal-tsdb-mysql-bin.000003"));
  ExpectClean(*r3);
  EXPECT_EQ(r3->h.rows.size(), 21u);
}

// The session each statement ran in, from the Query events' status
// variables (as `mariadb-binlog` prints them: SET @@session.sql_mode=
// 1436549152, character_set_client=33, collation_connection=33,
// collation_server=8; time_zone='SYSTEM' where the statement read one).
TEST(BinlogFixtureTest, DdlCarriesTheSessionItRanIn) {
  auto r = ReplayFile(Fixture("canal-tsdb-mysql-bin.000002"));
  ExpectClean(*r);
  ASSERT_EQ(r->h.ddl.size(), r->h.ddl_sessions.size());
  ASSERT_EQ(r->h.ddl.at(0), "create database local");
  const DdlSession& s = r->h.ddl_sessions.at(0);
  EXPECT_EQ(s.sql_mode.value_or("(none)"),
            "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION");
  EXPECT_EQ(s.charset_client, 33);
  EXPECT_EQ(s.collation_connection, 33);
  EXPECT_EQ(s.collation_server, 8);
  EXPECT_EQ(s.time_zone, "");
  bool system_zone = false;
  for (size_t i = 0; i < r->h.ddl.size(); ++i) {
    EXPECT_TRUE(r->h.ddl_sessions[i].sql_mode.has_value()) << r->h.ddl[i];
    system_zone |= r->h.ddl_sessions[i].time_zone == "SYSTEM";
  }
  EXPECT_TRUE(system_zone);
}

TEST(BinlogFixtureTest, AuroraPaddingEventIsSkipped) {
  auto r = ReplayFile(Fixture("mbcj-mysql-bin.aurora-padding"));
  ExpectClean(*r, 1);  // the file ends after a BEGIN
  EXPECT_EQ(r->h.rows.size(), 0u);
}

TEST(BinlogFixtureTest, Mysql55SakilaGzipAllTypes) {
  // The file source reads gzip-compressed binlogs directly.
  auto r = ReplayFile(Fixture("mbcj-mysql-bin.sakila.gz"));
  ExpectClean(*r);
  EXPECT_EQ(r->h.rows.size(), 47273u);
  for (const auto& line : r->h.rows) {
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
  }
}

TEST(BinlogFixtureTest, Mysql8TransactionPayloadZstd) {
  auto r = ReplayFile(Fixture("mbcr-mysql-bin.000057"));
  ExpectClean(*r);
  EXPECT_GT(r->h.rows.size(), 0u);
  for (size_t i = 0; i < r->h.rows.size(); ++i) {
    auto row = Row(*r, i);
    EXPECT_TRUE(row["gtid"].is_string()) << r->h.rows[i];
  }
  auto c = ReplayFile(Fixture("mbcj-mysql-bin.compressed"));
  ExpectClean(*c);
  EXPECT_GT(c->h.rows.size(), 0u);
}

TEST(BinlogFixtureTest, DamagedFileIsRejectedClearly) {
  auto r = ReplayFile(Fixture("canal-tsdb-mysql-bin.000001"));
  EXPECT_EQ(r->status.code(), StatusCode::kCorruption);
  EXPECT_NE(r->status.message().find("is not a binlog file"), std::string::npos) << r->status.message();
  EXPECT_NE(r->status.message().find("canal-tsdb-mysql-bin.000001"), std::string::npos);
}

TEST(BinlogFixtureTest, NonBinlogIsRejectedClearly) {
  auto r = ReplayFile(Fixture("mbcr-non-binlog"));
  EXPECT_EQ(r->status.code(), StatusCode::kCorruption);
  EXPECT_NE(r->status.message().find("is not a binlog file"), std::string::npos) << r->status.message();
}

TEST(BinlogFixtureTest, MissingFileIsAnIoError) {
  auto r = ReplayFile("/nonexistent/binlog.000001");
  EXPECT_EQ(r->status.code(), StatusCode::kIoError);
  EXPECT_NE(r->status.message().find("/nonexistent/binlog.000001"), std::string::npos);
}

TEST(BinlogFixtureTest, StartAtTransactionBoundary) {
  auto all = ReplayFile(Fixture("mbcr-mysql-bin.000080"));
  auto tail = ReplayFile(Fixture("mbcr-mysql-bin.000080"), 445);
  ExpectClean(*tail);
  ASSERT_EQ(tail->h.rows.size(), all->h.rows.size() - 2);
  EXPECT_EQ(tail->h.rows[0], all->h.rows[2]);
}

}  // namespace
}  // namespace sluice::mysql
