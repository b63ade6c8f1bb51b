// `transform: {lua: FILE}` through `sluice run` between two real MariaDB
// servers (design §13): a script that masks an e-mail, derives a column,
// drops a column and drops some rows; inserts, updates and deletes land on
// the target as the script made them. A missing or broken script is a
// config error at file:line:key; a script failing at run time stops the
// pipeline naming FILE:LINE, table and key, or with on_error: skip leaves
// that row out and keeps going.

#include <fmt/format.h>

#include "cli/run_command.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kMaskScript = R"(-- mask the e-mail, derive its domain, drop the internal note,
-- and leave test accounts out
function transform(op, row, old)
  local r = row or old
  if r.email ~= sluice.null and string.find(r.email, "@test%.invalid$") then
    return nil
  end
  if r.email ~= sluice.null then
    local user, domain = string.match(r.email, "^(.-)@(.*)$")
    r.email = string.sub(user, 1, 1) .. "***@" .. domain
    r.email_domain = domain
  else
    r.email_domain = sluice.null
  end
  r.note = nil
  return r
end
)";

class LuaTransformTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.users (id INT PRIMARY KEY, "
                              "email VARCHAR(100), note VARCHAR(100), balance DECIMAL(12,2))")
                    .ok());
    ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.users (id INT PRIMARY KEY, "
                              "email VARCHAR(100), balance DECIMAL(12,2), email_domain VARCHAR(100))")
                    .ok());
    start_ = BinlogEnd(*src_);
    std::filesystem::create_directories(dir_ / "rules");
  }
  std::string Config(const std::string& script, const std::string& extra = "") {
    return fmt::format(R"(store: {dir}/sluice.db
sources:
  main: {{url: "{src}", server_id: 5353, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: lua
    source: main
    targets: [dst]
    start: "{start}"
{extra}    tables:
      - match: "shop.users"
        transform: {{lua: {script}}}
    batch: {{size: 100, timeout_ms: 50}}
)",
                       fmt::arg("dir", dir_.string()), fmt::arg("src", src_->Url()), fmt::arg("dst", dst_->Url()),
                       fmt::arg("start", start_), fmt::arg("script", script), fmt::arg("extra", extra));
  }
  void WriteScript(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  ::testing::AssertionResult TargetShows(const std::string& want) {
    std::string got;
    bool ok = WaitUntil(
        [&] {
          auto rows = dst_->Query("SELECT id, email, balance, email_domain FROM shop.users ORDER BY id");
          if (!rows.ok()) return false;
          got = RowsToText(*rows);
          return got == want;
        },
        std::chrono::seconds(60));
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "target rows:\n" << got << "want:\n" << want << "log:\n"
                                         << (sluice_ ? sluice_->Log() : "");
  }

  std::unique_ptr<MariadbServer> src_, dst_;
  std::string start_;
};

TEST_F(LuaTransformTest, MasksDerivesDropsAndFollowsUpdatesAndDeletes) {
  WriteScript("rules/users.lua", kMaskScript);
  WriteConfig(Config("rules/users.lua"));
  StartSluice();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.users VALUES (1, 'alice@example.com', 'vip', 10.50), "
                            "(2, 'bob@test.invalid', 'test', 0), (3, NULL, 'no mail', 99999.99), "
                            "(4, 'carol@example.org', 'x', 1.00)")
                  .ok());
  ASSERT_TRUE(TargetShows("1|a***@example.com|10.50|example.com\n"
                          "3|NULL|99999.99|NULL\n"
                          "4|c***@example.org|1.00|example.org\n"));
  ASSERT_TRUE(src_->Execute("UPDATE shop.users SET email = 'alicia@corp.net', balance = 11.25 WHERE id = 1; "
                            "UPDATE shop.users SET email = 'carol@test.invalid' WHERE id = 4; "
                            "DELETE FROM shop.users WHERE id = 3")
                  .ok());
  // id 4 became a test account: the script returns nil for its update, so
  // the row leaves the target (where: meaning).
  ASSERT_TRUE(TargetShows("1|a***@corp.net|11.25|corp.net\n"));
  EXPECT_EQ(sluice_->Stop(), 0);
}

TEST_F(LuaTransformTest, MissingOrBrokenScriptIsAConfigErrorAtFileLineKey) {
  std::string yaml = Config("rules/none.lua");
  WriteConfig(yaml);
  auto r = RunSluice("run -c " + config_, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("sluice.yaml:13:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pipelines[0].tables[0].transform.lua: cannot read Lua script"), std::string::npos) << r.err;

  WriteScript("rules/broken.lua", "function transform(op, row, old)\n  return {\nend\n");
  WriteConfig(Config("rules/broken.lua"));
  r = RunSluice("run -c " + config_, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("pipelines[0].tables[0].transform.lua: rules/broken.lua:3:"), std::string::npos) << r.err;
}

constexpr const char* kFailingScript = R"(function transform(op, row, old)
  if row.id == 2 then
    error("cannot handle row " .. row.id)
  end
  row.note = nil
  return row
end
)";

TEST_F(LuaTransformTest, ScriptErrorStopsThePipelineNamingLineTableAndKey) {
  WriteScript("rules/fail.lua", kFailingScript);
  WriteConfig(Config("rules/fail.lua"));
  StartSluice();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.users VALUES (1, 'a@x', '', 1), (2, 'b@x', '', 2)").ok());
  std::string status;
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::string log = sluice_->FullLog();
        return log.find("rules/fail.lua:3: cannot handle row 2") != std::string::npos;
      },
      std::chrono::seconds(60)))
      << sluice_->Log();
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("table `shop`.`users`, key id=2, at "), std::string::npos) << log;
}

TEST_F(LuaTransformTest, OnErrorSkipLeavesTheFailingRowOutAndGoesOn) {
  WriteScript("rules/fail.lua", kFailingScript);
  WriteConfig(Config("rules/fail.lua", "    on_error: skip\n    skip_log: " + (dir_ / "skipped.jsonl").string() + "\n"));
  StartSluice();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.users VALUES (1, 'a@x', '', 1), (2, 'b@x', '', 2), (3, 'c@x', '', 3)")
                  .ok());
  ASSERT_TRUE(TargetShows("1|a@x|1.00|NULL\n3|c@x|3.00|NULL\n"));
  std::ifstream in(dir_ / "skipped.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto rec = nlohmann::json::parse(line);
  EXPECT_EQ(rec["pipeline"], "lua");
  EXPECT_EQ(rec["table"], "shop.users");
  EXPECT_NE(rec["error"].get<std::string>().find("rules/fail.lua:3:"), std::string::npos) << line;
  EXPECT_EQ(sluice_->Stop(), 0);
}

// Snapshots run the script too (design §13): a target fed by `snapshot:
// initial` and then the stream ends exactly like one fed by the stream
// alone from before the first row (masked, derived, the column dropped,
// test accounts left out). Small chunks, so the script runs in several
// chunks and workers. `sluice check` refuses the scripted table clearly
// instead of comparing (or repairing) it against raw source rows.
TEST_F(LuaTransformTest, SnapshotAndStreamGiveTheTargetStreamingAlone) {
  auto ref = StartServer(3);
  ASSERT_TRUE(ref);
  ASSERT_TRUE(ref->Execute("CREATE DATABASE shop; CREATE TABLE shop.users (id INT PRIMARY KEY, "
                           "email VARCHAR(100), balance DECIMAL(12,2), email_domain VARCHAR(100))")
                  .ok());
  WriteScript("rules/users.lua", kMaskScript);
  // Rows before: inserts, test accounts, NULL e-mails, updates, deletes.
  std::string rows;
  for (int i = 1; i <= 120; ++i) {
    std::string email = i % 7 == 0   ? "NULL"
                        : i % 5 == 0 ? fmt::format("'u{}@test.invalid'", i)
                                     : fmt::format("'user{}@example{}.com'", i, i % 3);
    rows += fmt::format("{}({}, {}, 'n{}', {}.{:02d})", rows.empty() ? "" : ", ", i, email, i, i, i % 100);
  }
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.users VALUES " + rows).ok());
  ASSERT_TRUE(src_->Execute("UPDATE shop.users SET email = 'moved@corp.net' WHERE id IN (3, 10); "
                            "UPDATE shop.users SET email = 'gone@test.invalid' WHERE id = 4; "
                            "DELETE FROM shop.users WHERE id BETWEEN 20 AND 25")
                  .ok());
  WriteConfig(fmt::format(R"(store: {dir}/sluice.db
sources:
  main: {{url: "{src}", server_id: 5353, heartbeat_ms: 200}}
  again: {{url: "{src}", server_id: 5354, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
  ref: {{url: "{ref}"}}
pipelines:
  - name: lua
    source: main
    targets: [dst]
    snapshot: initial
    chunk_rows: 16
    parallel: 2
    tables:
      - match: "shop.users"
        transform: {{lua: rules/users.lua}}
    batch: {{size: 100, timeout_ms: 50}}
  - name: streamed
    source: again
    targets: [ref]
    start: "{start}"
    tables:
      - match: "shop.users"
        transform: {{lua: rules/users.lua}}
    batch: {{size: 100, timeout_ms: 50}}
)",
                          fmt::arg("dir", dir_.string()), fmt::arg("src", src_->Url()), fmt::arg("dst", dst_->Url()),
                          fmt::arg("ref", ref->Url()), fmt::arg("start", start_)));
  StartSluice();
  // Changes after the snapshot's start: the stream carries them to both.
  ASSERT_TRUE(src_->Execute("UPDATE shop.users SET email = 'back@example.com' WHERE id = 5; "
                            "UPDATE shop.users SET email = 'late@test.invalid' WHERE id = 6; "
                            "INSERT INTO shop.users VALUES (500, 'new@example.com', 'n', 5.00), "
                            "(501, 'new@test.invalid', 'n', 5.01); DELETE FROM shop.users WHERE id = 1")
                  .ok());
  const std::string all = "SELECT id, email, balance, email_domain FROM shop.users ORDER BY id";
  // Converged: every row of the source's last change is there.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto n = ref->QueryValue("SELECT COUNT(*) FROM shop.users WHERE id = 500");
        return n.ok() && *n == "1";
      },
      std::chrono::seconds(90)))
      << sluice_->Log();
  ASSERT_TRUE(Converges(*ref, all, *dst_, all, std::chrono::seconds(90))) << sluice_->Log();
  auto got = dst_->Query(all);
  ASSERT_TRUE(got.ok());
  std::string text = RowsToText(*got);
  EXPECT_EQ(text.find("test.invalid"), std::string::npos) << text << sluice_->Log();  // dropped by the script
  EXPECT_NE(text.find("5|b***@example.com|5.05|example.com\n"), std::string::npos) << text;
  EXPECT_NE(text.find("7|NULL|7.07|NULL\n"), std::string::npos) << text;
  EXPECT_NE(text.find("2|u***@example2.com|2.02|example2.com\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("\n6|"), std::string::npos) << text;  // became a test account: left the target
  EXPECT_EQ(sluice_->Stop(), 0);

  auto check = RunSluice("check -c " + config_ + " --pipeline lua", 120);
  EXPECT_NE(check.exit_code, 0) << check.out << check.err;
  std::string out = check.out + check.err;
  EXPECT_NE(out.find("transforms rows with the Lua script rules/users.lua"), std::string::npos) << out;
}

// Transactions of hundreds of rows run their scripts on several threads
// (lua_threads: 3): the target gets every row as the script made it, rows
// the script drops stay out, updates after inserts land in order, and with
// on_error: skip the one row whose script fails (in the middle of a
// transaction) is the one in the skip log and the only other row missing.
TEST_F(LuaTransformTest, LongTransactionsOnSeveralThreadsKeepOrderDropsAndTheFailingRow) {
  WriteScript("rules/many.lua", R"(function transform(op, row, old)
  local r = row or old
  if r.id == 301 then error("cannot handle row " .. r.id) end
  if r.id % 10 == 0 then return nil end
  if r.email ~= sluice.null then r.email = string.upper(r.email) end
  r.email_domain = "n" .. r.id
  r.note = nil
  return r
end
)");
  WriteConfig(Config("rules/many.lua", "    lua_threads: 3\n    on_error: skip\n    skip_log: " +
                                           (dir_ / "skipped.jsonl").string() + "\n"));
  StartSluice();
  std::string rows;
  for (int id = 1; id <= 600; ++id) {
    rows += fmt::format("{}({}, 'u{}@x', 'n', {}.{:02d})", rows.empty() ? "" : ", ", id, id, id / 100, id % 100);
  }
  Status inserted = src_->Execute("INSERT INTO shop.users VALUES " + rows +
                                  "; UPDATE shop.users SET email = CONCAT('v', id, '@y'), balance = balance + 1");
  ASSERT_TRUE(inserted.ok()) << inserted.message();
  std::string want;
  for (int id = 1; id <= 600; ++id) {
    if (id % 10 == 0 || id == 301) continue;
    want += fmt::format("{}|V{}@Y|{}.{:02d}|n{}\n", id, id, id / 100 + 1, id % 100, id);
  }
  ASSERT_TRUE(TargetShows(want));
  std::ifstream in(dir_ / "skipped.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u) << "the insert and the update of row 301";
  for (const std::string& line : lines) {
    auto rec = nlohmann::json::parse(line);
    EXPECT_NE(rec["error"].get<std::string>().find("rules/many.lua:3: cannot handle row 301 (table `shop`.`users`, "
                                                   "key id=301, at "),
              std::string::npos)
        << line;
  }
  EXPECT_EQ(sluice_->Stop(), 0);
}

}  // namespace
}  // namespace sluice::testing
