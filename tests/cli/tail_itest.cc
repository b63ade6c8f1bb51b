// `sluice tail` against real MariaDB servers: output, authentication and TLS errors.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/run_command.h"
#include "format/flink_json_reader.h"
#include "harness/mariadb_server.h"
#include "harness/process.h"

namespace sluice::testing {
namespace {

std::unique_ptr<MariadbServer> Start(MariadbServerOptions o = {}) {
  auto s = MariadbServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

// A source whose binlog_row_image is not FULL: tail prints what there is,
// and says once that a pipeline would stop at the first partial row.
TEST(TailServerTest, ASourceWithoutFullRowImagesIsNamedAtTheStart) {
  auto s = Start();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Execute("SET GLOBAL binlog_row_image = 'MINIMAL'").ok());
  ASSERT_TRUE(s->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, status VARCHAR(10)); "
                         "INSERT INTO shop.orders VALUES (7, 'new')")
                  .ok());
  auto r = RunSluice(fmt::format("tail --start earliest --limit 1 --source {}", ShellQuote(s->Url())), 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CountLines(r.out), 1) << r.out;
  EXPECT_NE(r.err.find("binlog_row_image is MINIMAL"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("SET GLOBAL binlog_row_image = 'FULL'"), std::string::npos) << r.err;
}

TEST(TailServerTest, PrintsCommittedChangesFromEarliest) {
  auto s = Start();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, status VARCHAR(10), "
                         "amount DECIMAL(10,2)); INSERT INTO shop.orders VALUES (7, 'new', 19.90); "
                         "UPDATE shop.orders SET status = 'paid' WHERE id = 7; DELETE FROM shop.orders WHERE id = 7")
                  .ok());
  auto r = RunSluice(fmt::format("tail --start earliest --limit 3 --source {}", ShellQuote(s->Url())), 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(CountLines(r.out), 3) << r.out;
  std::istringstream lines(r.out);
  std::string l1, l2, l3;
  std::getline(lines, l1);
  std::getline(lines, l2);
  std::getline(lines, l3);
  auto upd = nlohmann::json::parse(l2);
  EXPECT_EQ(upd["op"], "update");
  EXPECT_EQ(upd["pk"], nlohmann::json::array({"id"}));
  EXPECT_EQ(upd["before"], nlohmann::json::parse(R"({"id":7,"status":"new","amount":"19.90"})"));
  EXPECT_EQ(upd["after"], nlohmann::json::parse(R"({"id":7,"status":"paid","amount":"19.90"})"));
  EXPECT_EQ(upd["gtid"], "0-1-4");
  EXPECT_EQ(nlohmann::json::parse(l3)["op"], "delete");
}

// Transactions committed back to back arrive with more behind them, so
// tail hands its rows to the rendering thread at a later commit (or a full
// batch, or the source's heartbeat) instead of at each one: none may stay
// behind once the stream is quiet, and a change made later still shows.
TEST(TailServerTest, RowsHeldForALaterCommitAllComeOutWhenTheStreamGoesQuiet) {
  auto s = Start();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20))").ok());
  std::string many;
  for (int i = 1; i <= 1500; ++i) many += fmt::format("INSERT INTO shop.t VALUES ({}, 'row {}');", i, i);
  ASSERT_TRUE(s->Execute(many).ok());
  const std::string out = (std::filesystem::temp_directory_path() /
                           ("sluice-tail-quiet-" + std::to_string(::getpid()) + ".out"))
                              .string();
  std::filesystem::remove(out);
  auto pid = SpawnProcess({SLUICE_BINARY, "tail", "--start", "earliest", "--source", s->Url()}, out);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  auto inserts = [&] {
    std::string text = ReadWhole(out);
    int n = 0;
    for (size_t at = text.find("\"op\":\"insert\""); at != std::string::npos; at = text.find("\"op\":\"insert\"", at + 1)) ++n;
    return n;
  };
  auto wait_for = [&](int want) {
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         inserts() < want && std::chrono::steady_clock::now() < until;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return inserts();
  };
  EXPECT_EQ(wait_for(1500), 1500) << TailOfFile(out);
  ASSERT_TRUE(s->Execute("INSERT INTO shop.t VALUES (5000, 'live')").ok());
  EXPECT_EQ(wait_for(1501), 1501) << TailOfFile(out);
  (void)StopProcess(*pid, SIGTERM, std::chrono::seconds(5));
  std::string text = ReadWhole(out);
  EXPECT_NE(text.find("\"after\":{\"id\":5000,\"v\":\"live\"}"), std::string::npos) << TailOfFile(out);
  std::filesystem::remove(out);
}

TEST(TailServerTest, WrongPasswordIsAOneLineError) {
  auto s = Start();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->CreateUser("repl", "right").ok());
  auto r = RunSluice(fmt::format("tail --source 'mysql://repl:wrong@127.0.0.1:{}'", s->port()), 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("Access denied"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wrong"), std::string::npos) << r.err;
}

TEST(TailServerTest, TlsRequiredRefusesAPlaintextServer) {
  MariadbServerOptions o;
  o.skip_ssl = true;
  auto s = Start(o);
  ASSERT_TRUE(s);
  auto r = RunSluice(fmt::format("tail --source 'mysql://root@127.0.0.1:{}?tls=required'", s->port()), 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("TLS"), std::string::npos) << r.err;
}

TEST(TailServerTest, TlsVerifiesTheServerCertificate) {
  MariadbServerOptions o;
  o.tls = true;
  auto s = Start(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Execute("CREATE DATABASE x; CREATE TABLE x.t (id INT PRIMARY KEY); INSERT INTO x.t VALUES (1)").ok());
  auto ok = RunSluice(fmt::format("tail --start earliest --limit 1 --source 'mysql://root@127.0.0.1:{}?tls=required&ca={}'",
                                  s->port(), s->ca_path()),
                      60);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(CountLines(ok.out), 1);
  // 127.0.0.2 is not in the certificate's names: verification must fail.
  auto bad = RunSluice(fmt::format("tail --start earliest --limit 1 --source 'mysql://root@127.0.0.2:{}?tls=required&ca={}'",
                                   s->port(), s->ca_path()),
                       60);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(CountLines(bad.err), 1) << bad.err;
  EXPECT_TRUE(bad.out.empty());
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

using format::testing::FlinkColumn;
using format::testing::FlinkType;
using format::testing::RowKind;

// Rows of many types from a real server, printed by `tail --format X` and
// read back as Flink's canal-json / maxwell-json / debezium-json would.
TEST(TailServerTest, FormatsCarryEveryTypeAsFlinkReadsIt) {
  auto s = Start();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Execute(
                   "SET time_zone = '+00:00'; CREATE DATABASE shop; CREATE TABLE shop.t (id INT UNSIGNED PRIMARY KEY, "
                   "big BIGINT UNSIGNED, price DECIMAL(12,4), made DATETIME(3), seen TIMESTAMP(0) NULL, day DATE, "
                   "dur TIME, size ENUM('s','m','l'), tags SET('a','b','c'), doc JSON, raw VARBINARY(8), flag BIT(1), "
                   "ratio FLOAT, note VARCHAR(20)); "
                   "INSERT INTO shop.t VALUES (1, 18446744073709551615, -12345678.9012, '2024-01-31 12:34:56.789', "
                   "'2024-02-01 00:00:01', '2024-02-29', '12:34:56', 'm', 'a,c', '{\"k\": [1, 2]}', x'00ff1041', "
                   "b'1', 3.14, 'caf\xC3\xA9'); UPDATE shop.t SET note = 'x' WHERE id = 1")
                  .ok());
  struct Want {
    std::string format;
    std::vector<FlinkColumn> schema;
    std::map<std::string, std::string> row;
  };
  using F = FlinkType;
  const std::map<std::string, std::string> common = {
      {"id", "1"},       {"big", "18446744073709551615"}, {"price", "-12345678.9012"}, {"made", "2024-01-31 12:34:56.789"},
      {"seen", "2024-02-01 00:00:01"}, {"day", "2024-02-29"}, {"dur", "12:34:56"}, {"raw", "00ff1041"},
      {"ratio", "3.14"}, {"note", "caf\xC3\xA9"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    auto m = common;
    for (auto& [k, v] : extra) m[k] = v;
    return m;
  };
  std::vector<FlinkColumn> base = {{"id", F::kBigInt},   {"big", F::kDecimal, 20, 0}, {"price", F::kDecimal, 12, 4},
                                   {"made", F::kTimestamp}, {"day", F::kDate},           {"dur", F::kTime},
                                   {"ratio", F::kFloat},  {"note", F::kString}};
  auto schema = [&](std::vector<FlinkColumn> extra) {
    auto s2 = base;
    s2.insert(s2.end(), extra.begin(), extra.end());
    return s2;
  };
  const std::vector<Want> wants = {
      {"canal",
       schema({{"seen", F::kTimestamp}, {"size", F::kInt}, {"tags", F::kBigInt}, {"doc", F::kString},
               {"raw", F::kLatin1Bytes}, {"flag", F::kBigInt}}),
       with({{"size", "2"}, {"tags", "5"}, {"doc", R"({"k": [1, 2]})"}, {"flag", "1"}})},
      {"maxwell",
       schema({{"seen", F::kTimestamp}, {"size", F::kString}, {"tags", F::kArrayOfString}, {"doc", F::kString},
               {"raw", F::kBytes}, {"flag", F::kBoolean}}),
       with({{"size", "m"}, {"tags", "a,c"}, {"doc", R"({"k":[1,2]})"}, {"flag", "true"}})},
      {"debezium",
       schema({{"seen", F::kTimestampLtz}, {"size", F::kString}, {"tags", F::kString}, {"doc", F::kString},
               {"raw", F::kBytes}, {"flag", F::kBoolean}}),
       with({{"size", "m"}, {"tags", "a,c"}, {"doc", R"({"k": [1, 2]})"}, {"flag", "true"}})},
  };
  for (const Want& w : wants) {
    auto r = RunSluice(
        fmt::format("tail --start earliest --limit 2 --format {} --source {}", w.format, ShellQuote(s->Url())), 60);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(CountLines(r.out), 2) << r.out;
    std::istringstream lines(r.out);
    std::string insert, update;
    std::getline(lines, insert);
    std::getline(lines, update);
    std::vector<format::testing::FlinkRow> rows;
    try {
      if (w.format == "canal") rows = format::testing::ReadCanal(insert, w.schema);
      if (w.format == "maxwell") rows = format::testing::ReadMaxwell(insert, w.schema);
      if (w.format == "debezium") rows = format::testing::ReadDebezium(insert, w.schema, false);
    } catch (const std::exception& e) {
      FAIL() << w.format << ": " << e.what() << "\n" << insert;
    }
    ASSERT_EQ(rows.size(), 1u) << insert;
    EXPECT_EQ(rows[0].kind, RowKind::kInsert);
    for (const auto& c : w.schema) {
      ASSERT_TRUE(rows[0].values[c.name].has_value()) << w.format << " " << c.name << "\n" << insert;
      EXPECT_EQ(*rows[0].values[c.name], w.row.at(c.name)) << w.format << " " << c.name << "\n" << insert;
    }
    std::vector<format::testing::FlinkRow> upd;
    if (w.format == "canal") upd = format::testing::ReadCanal(update, w.schema);
    if (w.format == "maxwell") upd = format::testing::ReadMaxwell(update, w.schema);
    if (w.format == "debezium") upd = format::testing::ReadDebezium(update, w.schema, false);
    ASSERT_EQ(upd.size(), 2u) << update;
    EXPECT_EQ(*upd[0].values["note"], "caf\xC3\xA9") << update;
    EXPECT_EQ(*upd[1].values["note"], "x") << update;
    EXPECT_EQ(*upd[0].values["price"], "-12345678.9012") << update;
  }
}

}  // namespace
}  // namespace sluice::testing
