// `sluice check` against a ClickHouse target that `sluice run` filled from
// MariaDB: consistent after a sync for every type family type_map.h maps,
// and planted versions (a newer row, a delete, a key only ClickHouse has)
// found by kind and key.

#include <fmt/format.h>

#include <set>

#include "cli/run_command.h"
#include "harness/clickhouse_server.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.t (
  id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED NOT NULL,
  f FLOAT, d DOUBLE, dec2 DECIMAL(12,2) NOT NULL, dbig DECIMAL(40,10),
  dt DATE, dtm DATETIME NOT NULL, ts TIMESTAMP NULL, dt6 DATETIME(6), tm TIME, y YEAR,
  b BIT(5), e ENUM('a','b'), st SET('x','y'), j JSON, vc VARCHAR(40), txt TEXT, bin VARBINARY(10), n INT NULL);
CREATE TABLE shop.names (name VARCHAR(20) PRIMARY KEY, n INT);
)sql";

constexpr const char* kRows = R"sql(
SET time_zone = '+00:00';
INSERT INTO shop.t VALUES
 (1, -128, 255, -9223372036854775808, 18446744073709551615, 0.1, 0.1, -1234567890.12,
  '-123456789012345678901234567890.0123456789', '1970-01-02', '2105-12-31 23:59:59', '2038-01-19 03:14:07',
  '2024-01-31 12:34:56.789012', '-838:59:59', 1901, b'10101', 'b', 'x,y', '{"k": [1, "two"]}',
  'héllo\ttab\nline', 'text with \\ backslash', X'00FF5C0A', NULL),
 (2, 127, 0, 9223372036854775807, 0, -2.25, 1.5, 0.00, NULL, NULL, '0000-00-00 00:00:00', NULL,
  NULL, '12:00:01', 2155, b'0', NULL, '', NULL, '', NULL, X'', 7),
 (3, 0, 1, 0, 1, 1.5, -0.25, 1.00, '0.0000000001', '2024-02-29', '2024-02-29 00:00:00', '1970-01-01 00:00:01',
  '2000-01-01 00:00:00.000000', '00:00:00', 2000, b'11111', 'a', 'y', '[]', 'x', 'y', X'01', 3),
 (4, 1, 1, 1, 1, 1, 1, 1, 1, '2000-01-01', '2000-01-01 00:00:00', '2000-01-01 00:00:00', '2000-01-01 00:00:00.5',
  '01:00:00', 2000, b'1', 'a', 'x', '{}', 'four', 'four', X'04', 4);
INSERT INTO shop.names VALUES ('a', 1), ('B', 2), ('c', 3), ('_x', 4), ('Z', 5), ('é', 6);
)sql";

constexpr const char* kColumns =
    "id, ti, tu, bi, bu, f, d, dec2, dbig, dt, dtm, ts, dt6, tm, y, b, e, st, j, vc, txt, bin, n";

class ClickhouseCheckTest : public SyncTest {
 protected:
  void Sync() {
    src_ = StartServer(1);
    ASSERT_TRUE(src_);
    auto ch = ClickhouseServer::Start();
    ASSERT_TRUE(ch.ok()) << ch.status().message();
    ch_ = std::move(ch).value();
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    http_port_ = FreePort();
    PipelineOptions o;
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), ch_->Url("default"), o));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    ASSERT_TRUE(src_->Execute(kRows).ok());
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto a = ch_->Query("SELECT count() FROM shop.t FINAL WHERE _sign = 1");
          auto b = ch_->Query("SELECT count() FROM shop.names FINAL WHERE _sign = 1");
          return a.ok() && b.ok() && *a == "4\n" && *b == "6\n";
        },
        std::chrono::seconds(90)))
        << sluice_->Log();
  }

  // A newer version of row `id` of shop.t with `column` set to `expr`.
  void PlantVersion(int id, const std::string& column, const std::string& expr, int sign = 1) {
    std::string select = kColumns;
    if (!column.empty()) {
      std::string from = ", " + column + ",";
      auto at = select.find(from);
      ASSERT_NE(at, std::string::npos) << column;
      select.replace(at, from.size(), ", " + expr + " AS " + column + ",");
    }
    auto r = ch_->Query(fmt::format(
        "INSERT INTO shop.t ({0}, _version, _sign) SELECT {1}, _version + 1, {3} FROM shop.t FINAL WHERE _sign = 1 "
        "AND id = {2}",
        kColumns, select, id, sign));
    ASSERT_TRUE(r.ok()) << r.status().message();
  }

  // Both sides' rows, for a failure's message.
  std::string Rows() {
    auto a = src_->Query(std::string("SELECT ") + kColumns + " FROM shop.t ORDER BY id");
    auto b = ch_->Query(std::string("SELECT ") + kColumns + " FROM shop.t FINAL WHERE _sign = 1 ORDER BY id");
    return "\nsource:\n" + (a.ok() ? RowsToText(*a) : a.status().message()) + "clickhouse:\n" +
           (b.ok() ? *b : b.status().message());
  }

  CommandResult Check(const std::string& extra = "") {
    return RunSluice("check -c " + ShellQuote(config_) + " --pipeline p --format json --chunk-rows 2" + extra, 180);
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

  std::unique_ptr<MariadbServer> src_;
  std::unique_ptr<ClickhouseServer> ch_;
};

TEST_F(ClickhouseCheckTest, ConsistentAfterSyncThenPlantedVersionsFoundAndRepaired) {
  ASSERT_NO_FATAL_FAILURE(Sync());
  auto r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << Rows();
  EXPECT_EQ(Json(r)["consistent"], true) << r.out << r.err;

  EXPECT_EQ(sluice_->Stop(), 0);
  ASSERT_NO_FATAL_FAILURE(PlantVersion(2, "", "", -1));                        // missing: deleted
  ASSERT_NO_FATAL_FAILURE(PlantVersion(1, "dec2", "toDecimal64(-1234567890.13, 2)"));  // Decimal
  ASSERT_NO_FATAL_FAILURE(PlantVersion(3, "dt6", "'2000-01-01 00:00:00.000001'"));     // DATETIME(6) as String
  ASSERT_NO_FATAL_FAILURE(PlantVersion(4, "f", "toFloat32(1.25)"));                    // Float32
  auto extra = ch_->Query(
      "INSERT INTO shop.t (id, bu, dec2, dtm, _version, _sign) VALUES (99, 1, 1, '2001-01-01 00:00:00', 1, 1);"
      "");
  ASSERT_TRUE(extra.ok()) << extra.status().message();
  auto names = ch_->Query("INSERT INTO shop.names (name, n, _version, _sign) VALUES ('b', 2, 1, 1)");
  ASSERT_TRUE(names.ok()) << names.status().message();

  r = Check();
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  auto t = Table(j, "shop.t");
  EXPECT_EQ(Keys(t, "missing"), (std::set<std::string>{R"({"id":2})"})) << t.dump();
  EXPECT_EQ(Keys(t, "extra"), (std::set<std::string>{R"({"id":99})"})) << t.dump();
  EXPECT_EQ(Keys(t, "different"), (std::set<std::string>{R"({"id":1})", R"({"id":3})", R"({"id":4})"})) << t.dump();
  auto n = Table(j, "shop.names");
  EXPECT_EQ(Keys(n, "extra"), (std::set<std::string>{R"({"name":"b"})"})) << n.dump();
  EXPECT_TRUE(n["missing"].empty() && n["different"].empty()) << n.dump();

  // Repair: missing and different rows written, the extra rows deleted.
  r = Check(" --repair");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["repaired"], true) << r.out << r.err;
  EXPECT_EQ(Json(r)["repaired_rows"], 6) << r.out << r.err;  // 1 missing, 3 different, 2 extra
  r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << Rows();
  EXPECT_EQ(Json(r)["consistent"], true) << r.out << r.err;
  auto gone = ch_->Query("SELECT count() FROM shop.t FINAL WHERE _sign = 1 AND id = 99");
  ASSERT_TRUE(gone.ok()) << gone.status().message();
  EXPECT_EQ(*gone, "0\n");

  // A key the repair deleted comes back when the source inserts it: the
  // streamed change's version is above the delete's.
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.t (id, bu, dec2, dtm, n) VALUES (99, 5, 2.5, '2002-02-02', 7)").ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto b = ch_->Query("SELECT n FROM shop.t FINAL WHERE _sign = 1 AND id = 99");
        return b.ok() && *b == "7\n";
      },
      std::chrono::seconds(90)))
      << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
