// `sluice tail --source postgres://...` against a real PostgreSQL 15 with
// wal_level=logical, as a role with REPLICATION that owns its tables (no
// superuser): the JSON of every common type, TOAST, an idle slot's
// confirmed_flush_lsn, resuming from the slot, and the errors that say what
// to do.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <fstream>
#include <thread>

#include "cli/run_command.h"
#include "harness/postgres_server.h"
#include "harness/process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

class PgTailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = PostgresServer::Start({.logical_replication = true});
    ASSERT_TRUE(pg.ok()) << pg.status().message();
    pg_ = std::move(pg).value();
    ASSERT_TRUE(pg_->CreateUser("repl", "s3cret", /*superuser=*/false).ok());
    ASSERT_TRUE(pg_->Execute("ALTER ROLE repl REPLICATION").ok());
    ASSERT_TRUE(pg_->CreateDatabase("shop", "repl").ok());
    dir_ = std::filesystem::temp_directory_path() / ("sluice-pgtail-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (tail_pid_ > 0) (void)StopProcess(tail_pid_, SIGKILL, 1s);
    std::filesystem::remove_all(dir_);
  }

  // As the owner of the tables (repl), in database shop.
  void Sql(const std::string& sql) { ASSERT_TRUE(pg_->Execute("SET ROLE repl; " + sql, "shop").ok()) << sql; }
  std::string Value(const std::string& sql) {
    auto v = pg_->QueryValue(sql, "shop");
    EXPECT_TRUE(v.ok()) << sql << ": " << v.status().message();
    return v.ok() ? *v : "";
  }
  std::string Url(const std::string& params = "") const {
    return pg_->Url("repl", "s3cret", "shop") + (params.empty() ? "" : "?" + params);
  }

  // `sluice tail` in the background, stdout and stderr into files.
  // `sync_points`: SLUICE_SYNC_POINTS for tail (core/sync_point.h).
  void StartTail(const std::vector<std::string>& args, const std::string& sync_points = "") {
    std::vector<std::string> argv{SLUICE_BINARY, "tail"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string env = sync_points.empty() ? "" : "SLUICE_SYNC_POINTS=" + ShellQuote(sync_points) + " ";
    // exec: the pid is sluice's own, so signals reach it.
    auto pid = SpawnProcess({"sh", "-c", env + "exec " + Joined(argv) + " 2>" + (dir_ / "err").string()},
                            (dir_ / "out").string());
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    tail_pid_ = *pid;
  }
  static std::string Joined(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) s += ShellQuote(a) + " ";
    return s;
  }
  std::string Out() const { return ReadWhole(dir_ / "out"); }
  std::string Err() const { return ReadWhole(dir_ / "err"); }
  // Waits for `sql` (on the admin session) to return "t".
  bool Eventually(const std::string& sql, std::chrono::seconds deadline = 30s) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      auto v = pg_->QueryValue(sql, "shop");
      if (v.ok() && *v == "t") return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  int WaitTail(std::chrono::seconds deadline = 60s) {
    auto st = WaitForExit(tail_pid_, deadline);
    EXPECT_TRUE(st.ok() && st->has_value()) << "tail did not end; stderr: " << Err();
    tail_pid_ = -1;
    return st.ok() && st->has_value() && WIFEXITED(**st) ? WEXITSTATUS(**st) : -1;
  }
  // Waits for tail's output to hold `text`.
  bool OutContains(const std::string& text, std::chrono::seconds deadline = 30s) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (Out().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // The slot exists and sluice is streaming from it.
  bool SlotActive(const std::string& slot) {
    return Eventually("SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name = '" + slot + "' AND active");
  }

  std::unique_ptr<PostgresServer> pg_;
  std::filesystem::path dir_;
  pid_t tail_pid_ = -1;
};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// ts_ms and pos vary from run to run: checked apart, replaced for comparison.
std::string Normalized(const std::string& line, std::string* pos = nullptr) {
  static const std::regex kVarying(R"re("ts_ms":[0-9]+,"gtid":null,"pos":"([0-9A-F]+/[0-9A-F]+)")re");
  std::smatch m;
  if (std::regex_search(line, m, kVarying) && pos) *pos = m[1];
  return std::regex_replace(line, kVarying, "\"ts_ms\":T,\"gtid\":null,\"pos\":P");
}

TEST_F(PgTailTest, EveryCommonTypeAsTheJsonFormatSays) {
  Sql("CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE DOMAIN price AS numeric(10,2) CHECK (VALUE >= 0);"
      "CREATE TABLE all_types (id int PRIMARY KEY, i2 smallint, i8 bigint, num numeric, num2 numeric(12,4),"
      " f4 real, f8 double precision, b boolean, t text, vc varchar(10), ch char(4), by bytea, d date,"
      " tm time(3), ts timestamp, tz timestamptz, iv interval, u uuid, j json, jb jsonb, ai int[], at text[],"
      " m mood, ms mood[], p price, nan numeric, inf double precision)");
  StartTail({"--source", Url("slot=types"), "--limit", "4"});
  ASSERT_TRUE(SlotActive("types")) << Err();
  Sql("INSERT INTO all_types VALUES (1, -32768, 9223372036854775807, 12345678901234567890.123456789012, 1.5,"
      " 1.5, 0.1, true, E'tab\\there \"q\" \\u00e9', 'varchar', 'ab', '\\x00ff10', '2024-01-31', '23:59:59.999',"
      " '2024-01-31 12:34:56.789', '2024-01-31 12:34:56.789+01', '1 year 2 months 3 days 04:05:06',"
      " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"b\": 1, \"a\": [1, 2]}', '{\"b\": 1, \"a\": [1, 2]}',"
      " '{1,NULL,-3}', '{\"a,b\",NULL,plain}', 'happy', '{sad,happy}', 9.5, 'NaN', '-Infinity')");
  Sql("INSERT INTO all_types (id) VALUES (2)");
  Sql("BEGIN; UPDATE all_types SET t = 'changed', id = 3 WHERE id = 2; DELETE FROM all_types WHERE id = 1; COMMIT");
  ASSERT_EQ(WaitTail(), 0) << Err();
  auto lines = Lines(Out());
  ASSERT_EQ(lines.size(), 4u) << Out() << Err();
  std::string pos1, pos2, pos3, pos4;
  EXPECT_EQ(Normalized(lines[0], &pos1),
            R"({"op":"insert","db":"public","table":"all_types","pk":["id"],"before":null,"after":{"id":1,)"
            R"("i2":-32768,"i8":9223372036854775807,"num":"12345678901234567890.123456789012","num2":"1.5000",)"
            R"("f4":1.5,"f8":0.1,"b":true,"t":"tab\there \"q\" é","vc":"varchar","ch":"ab  ","by":"AP8Q",)"
            R"("d":"2024-01-31","tm":"23:59:59.999","ts":"2024-01-31 12:34:56.789","tz":"2024-01-31 11:34:56.789",)"
            R"("iv":"1 year 2 mons 3 days 04:05:06","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",)"
            R"("j":{"b": 1, "a": [1, 2]},"jb":{"a": [1, 2], "b": 1},"ai":[1,null,-3],"at":["a,b",null,"plain"],)"
            R"("m":"happy","ms":["sad","happy"],"p":"9.50","nan":"NaN","inf":"-Infinity"},"ts_ms":T,"gtid":null,"pos":P})");
  EXPECT_EQ(Normalized(lines[1], &pos2),
            R"({"op":"insert","db":"public","table":"all_types","pk":["id"],"before":null,"after":{"id":2,"i2":null,)"
            R"("i8":null,"num":null,"num2":null,"f4":null,"f8":null,"b":null,"t":null,"vc":null,"ch":null,"by":null,)"
            R"("d":null,"tm":null,"ts":null,"tz":null,"iv":null,"u":null,"j":null,"jb":null,"ai":null,"at":null,)"
            R"("m":null,"ms":null,"p":null,"nan":null,"inf":null},"ts_ms":T,"gtid":null,"pos":P})");
  // A key change is one update whose before holds the old key only.
  EXPECT_EQ(Normalized(lines[2], &pos3),
            R"({"op":"update","db":"public","table":"all_types","pk":["id"],"before":{"id":2},"after":{"id":3,)"
            R"("i2":null,"i8":null,"num":null,"num2":null,"f4":null,"f8":null,"b":null,"t":"changed","vc":null,)"
            R"("ch":null,"by":null,"d":null,"tm":null,"ts":null,"tz":null,"iv":null,"u":null,"j":null,"jb":null,)"
            R"("ai":null,"at":null,"m":null,"ms":null,"p":null,"nan":null,"inf":null},"ts_ms":T,"gtid":null,"pos":P})");
  EXPECT_EQ(Normalized(lines[3], &pos4),
            R"({"op":"delete","db":"public","table":"all_types","pk":["id"],"before":{"id":1},"after":null,)"
            R"("ts_ms":T,"gtid":null,"pos":P})");
  // pos is the commit's end LSN: one per transaction, increasing. The slot
  // confirms only transactions tail printed whole: --limit stopped it inside
  // the third (its commit was never handed over), so a later run prints the
  // third again.
  EXPECT_EQ(pos3, pos4);
  EXPECT_EQ(Value("SELECT '" + pos1 + "'::pg_lsn < '" + pos2 + "'::pg_lsn AND '" + pos2 + "'::pg_lsn < '" + pos3 +
                  "'::pg_lsn"),
            "t");
  EXPECT_EQ(Value("SELECT confirmed_flush_lsn < '" + pos3 + "' FROM pg_replication_slots WHERE slot_name = 'types'"),
            "t");
  for (const auto& l : lines) EXPECT_TRUE(nlohmann::json::accept(l)) << l;
  EXPECT_EQ(Err().find("s3cret"), std::string::npos);
}

TEST_F(PgTailTest, ToastUpdateKeepsTheUnchangedValue) {
  Sql("CREATE TABLE docs (id int PRIMARY KEY, body text, n int)");
  // 160 kB of hex digits: far over the TOAST threshold.
  Sql("INSERT INTO docs SELECT 1, string_agg(md5(i::text), ''), 0 FROM generate_series(1, 5000) i");
  std::string body = Value("SELECT body FROM docs WHERE id = 1");
  ASSERT_EQ(body.size(), 160000u);
  // Stored out of line, in the table's TOAST relation.
  ASSERT_EQ(Value("SELECT pg_relation_size(reltoastrelid) > 100000 FROM pg_class WHERE relname = 'docs'"), "t");
  StartTail({"--source", Url("slot=toast"), "--limit", "2"});
  ASSERT_TRUE(SlotActive("toast")) << Err();
  Sql("UPDATE docs SET n = 1 WHERE id = 1");
  Sql("ALTER TABLE docs REPLICA IDENTITY FULL; UPDATE docs SET n = 2 WHERE id = 1");
  ASSERT_EQ(WaitTail(), 0) << Err();
  auto lines = Lines(Out());
  ASSERT_EQ(lines.size(), 2u) << Err();
  // Default identity: the unchanged body is left out of after, never null.
  EXPECT_EQ(Normalized(lines[0]),
            R"({"op":"update","db":"public","table":"docs","pk":["id"],"before":{"id":1},"after":{"id":1,"n":1},)"
            R"("ts_ms":T,"gtid":null,"pos":P})");
  // FULL: the old row carries the value, and after has it.
  auto full = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(full["pk"], nlohmann::json::array({"id"}));
  EXPECT_EQ(full["before"]["n"], 1);
  EXPECT_EQ(full["after"]["n"], 2);
  EXPECT_EQ(full["after"]["body"], body);
  EXPECT_EQ(full["before"]["body"], body);
}

TEST_F(PgTailTest, AnIdleStreamKeepsConfirmedFlushLsnMoving) {
  Sql("CREATE TABLE watched (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY)");
  StartTail({"--source", Url("slot=idle&publication=watched_only"), "--tables", "public.watched"});
  ASSERT_TRUE(SlotActive("idle")) << Err();
  // WAL that publishes nothing to this slot: only a confirmation of the
  // server's WAL end moves the slot past it.
  Sql("INSERT INTO other SELECT generate_series(1, 1000)");
  std::string wal_end = Value("SELECT pg_current_wal_lsn()");
  EXPECT_TRUE(Eventually("SELECT confirmed_flush_lsn >= '" + wal_end + "' FROM pg_replication_slots WHERE "
                         "slot_name = 'idle'"))
      << Value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'idle'") << " < " << wal_end;
  EXPECT_EQ(Out(), "");
  // A fast shutdown of the server is not held up by the stream, and tail
  // reconnects to the same slot afterwards.
  ASSERT_TRUE(pg_->Restart().ok());
  Sql("INSERT INTO watched VALUES (1)");
  EXPECT_TRUE(OutContains("\"after\":{\"id\":1}")) << Err();
  auto stopped = StopProcess(tail_pid_, SIGTERM, 10s);
  tail_pid_ = -1;
  EXPECT_TRUE(stopped.ok() && WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0) << Err();
}

TEST_F(PgTailTest, KillNineOfTailLosesNothingAndKeepsTheOrder) {
  Sql("CREATE TABLE t (id int PRIMARY KEY)");
  StartTail({"--source", Url("slot=k9")});
  ASSERT_TRUE(SlotActive("k9")) << Err();
  for (int i = 1; i <= 50; ++i) Sql(fmt::format("INSERT INTO t VALUES ({})", i));
  ASSERT_TRUE(OutContains("\"after\":{\"id\":20}")) << Err();
  ASSERT_TRUE(StopProcess(tail_pid_, SIGKILL, 1s).ok());
  tail_pid_ = -1;
  std::string first = Out();
  for (int i = 51; i <= 100; ++i) Sql(fmt::format("INSERT INTO t VALUES ({})", i));
  std::filesystem::remove(dir_ / "out");
  StartTail({"--source", Url("slot=k9"), "--start", "earliest"});
  ASSERT_TRUE(OutContains("\"after\":{\"id\":100}")) << Err();
  // What the slot had not confirmed comes again (at least once), in order:
  // the second run continues a prefix of the first without a gap.
  auto ids = [](const std::string& out) {
    std::vector<int> v;
    for (const auto& l : Lines(out)) v.push_back(nlohmann::json::parse(l)["after"]["id"].get<int>());
    return v;
  };
  std::vector<int> a = ids(first), b = ids(Out());
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], static_cast<int>(i) + 1);
  EXPECT_LE(b.front(), a.back() + 1);
  EXPECT_GE(b.front(), 1);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i], b.front() + static_cast<int>(i));
  EXPECT_EQ(b.back(), 100);
}

TEST_F(PgTailTest, ResumesAfterWhatTheSlotConfirmed) {
  Sql("CREATE TABLE t (id int PRIMARY KEY)");
  StartTail({"--source", Url("slot=resume")});
  ASSERT_TRUE(SlotActive("resume")) << Err();
  Sql("INSERT INTO t VALUES (1)");
  ASSERT_TRUE(OutContains("\"id\":1")) << Err();
  auto stopped = StopProcess(tail_pid_, SIGTERM, 10s);
  tail_pid_ = -1;
  ASSERT_TRUE(stopped.ok() && WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0) << Err();
  Sql("INSERT INTO t VALUES (2)");
  auto r = RunSluice("tail --start earliest --limit 1 --source " + ShellQuote(Url("slot=resume")), 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Normalized(r.out),
            R"({"op":"insert","db":"public","table":"t","pk":["id"],"before":null,"after":{"id":2},)"
            R"("ts_ms":T,"gtid":null,"pos":P})" "\n");
}

TEST_F(PgTailTest, ASlotDroppedWhileStreamingIsAnErrorAfterTheReconnect) {
  Sql("CREATE TABLE t (id int PRIMARY KEY)");
  // Held right after the server answered START_REPLICATION (the slot shows
  // active before that: a connection cut then fails the start instead).
  const std::string go = (dir_ / "go").string();
  StartTail({"--source", Url("slot=dropme")}, "pg.stream.started=wait:" + go);
  auto until = std::chrono::steady_clock::now() + 30s;
  while (Err().find("sync point pg.stream.started: waiting for") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_NE(Err().find("sync point pg.stream.started: waiting for"), std::string::npos) << Err();
  ASSERT_TRUE(SlotActive("dropme")) << Err();
  // Keep tail out while its slot goes: its reconnects fail until LOGIN is back.
  ASSERT_TRUE(pg_->Execute("ALTER ROLE repl NOLOGIN").ok());
  ASSERT_TRUE(pg_->Execute("SELECT pg_terminate_backend(active_pid, 10000) FROM pg_replication_slots "
                           "WHERE slot_name = 'dropme'")
                  .ok());
  ASSERT_TRUE(pg_->Execute("SELECT pg_drop_replication_slot('dropme')").ok());
  ASSERT_TRUE(pg_->Execute("ALTER ROLE repl LOGIN").ok());
  std::ofstream(go).put('\n');  // tail goes on: the stream it reads is cut
  EXPECT_EQ(WaitTail(), 1);
  EXPECT_NE(Err().find("replication slot \"dropme\" does not exist (dropped?)"), std::string::npos) << Err();
  EXPECT_EQ(Value("SELECT count(*) FROM pg_replication_slots"), "0");  // not silently created again
}

TEST_F(PgTailTest, ErrorsSayWhatToDo) {
  Sql("CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY); CREATE PUBLICATION only_a FOR TABLE a");
  auto missing = RunSluice("tail --tables 'public.*' --source " + ShellQuote(Url("slot=x&publication=only_a")), 60);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_EQ(CountLines(missing.err), 1) << missing.err;
  EXPECT_NE(missing.err.find("table \"public\".\"b\" matches the tables to read but is not in publication \"only_a\": "
                             "run ALTER PUBLICATION \"only_a\" ADD TABLE \"public\".\"b\""),
            std::string::npos)
      << missing.err;
  auto dropped = RunSluice("tail --start earliest --source " + ShellQuote(Url("slot=gone")), 60);
  EXPECT_NE(dropped.exit_code, 0);
  EXPECT_EQ(CountLines(dropped.err), 1) << dropped.err;
  EXPECT_NE(dropped.err.find("replication slot \"gone\" does not exist (dropped?)"), std::string::npos) << dropped.err;
  EXPECT_NE(dropped.err.find("start with start: latest"), std::string::npos) << dropped.err;
  // A role without REPLICATION.
  ASSERT_TRUE(pg_->CreateUser("plain", "pw", false).ok());
  auto denied = RunSluice("tail --source " + ShellQuote(pg_->Url("plain", "pw", "shop")), 60);
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_EQ(CountLines(denied.err), 1) << denied.err;
  EXPECT_EQ(denied.err.find("pw@"), std::string::npos) << denied.err;
  EXPECT_EQ(missing.err.find("s3cret"), std::string::npos);
}

}  // namespace
}  // namespace sluice::testing
