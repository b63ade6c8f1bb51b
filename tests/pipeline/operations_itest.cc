// Operating `sluice run` (issue 9): one process per store, a health check and
// an exit status that tell the truth about failed pipelines, positions that
// must be transaction boundaries, a /metrics page that promtool accepts,
// SIGHUP, and the demo and its servers stopping with their owner.

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>

#include "cli/run_command.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

// The repository's root (tests/data, which need not exist, is two levels below it).
const std::string kSourceDir = std::filesystem::path(SLUICE_TEST_DATA_DIR).parent_path().parent_path().string();

// The exit status of a wait status, -1 when the process died on a signal.
int ExitCode(int wait_status) { return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1; }

// Sends a raw HTTP request and returns the whole answer (the request asks the
// server to close).
std::string RawHttp(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!::send(fd, request.data(), request.size(), 0);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

// Pids of live processes whose command line contains `needle`.
std::vector<pid_t> ProcessesMatching(const std::string& needle, const std::string& also = "") {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::string cmd = ReadWhole(e.path() / "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) != std::string::npos && (also.empty() || cmd.find(also) != std::string::npos)) {
      out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return out;
}

class OperationsTest : public FaultTest {
 protected:
  // Starts `sluice ARGS...` with its output in `log`.
  pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::string> argv{SLUICE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    auto pid = SpawnProcess(argv, log);
    EXPECT_TRUE(pid.ok()) << pid.status().message();
    return pid.ok() ? *pid : -1;
  }
};

// Item 10: two `sluice run` on one store. The second is refused, naming the
// store and the first one's pid; a kill -9 of the first frees the store.
TEST_F(OperationsTest, OneRunPerStore) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ConvergesExactly(5));

  // The same store under another HTTP port, so that only the store is shared.
  std::string second_config = (dir_ / "second.yaml").string();
  std::ofstream(second_config) << FaultConfig(dir_, FreePort(), src_->Url(), dst_->Url());
  std::string log = (dir_ / "second.log").string();
  pid_t second = Spawn({"run", "-c", second_config}, log);
  auto status = WaitForExit(second, seconds(20));
  ASSERT_TRUE(status.ok() && status->has_value()) << "a second sluice run on the same store keeps running:\n"
                                                  << TailOfFile(log);
  EXPECT_EQ(ExitCode(**status), 1);
  std::string err = TailOfFile(log);
  EXPECT_NE(err.find("store " + (dir_ / "sluice.db").string() + " is in use by another sluice process"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("(pid "), std::string::npos) << err;

  // check and snapshot never write the store and run beside `run`.
  CommandResult check = RunSluice("check -c " + ShellQuote(config_) + " --wait-seconds 20");
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  // kill -9 leaves no stale lock: the kernel released it.
  sluice_->Kill();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 6, 5).ok());
  EXPECT_TRUE(ConvergesExactly(10));
  EXPECT_EQ(ExitCode(sluice_->Stop()), 0) << sluice_->Log();
}

// /healthz and the exit status when every pipeline has failed (a target
// rejects a row under on_error: stop).
TEST_F(OperationsTest, EveryPipelineFailedIs503AndExitStatus1) {
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    // The target's note column is too narrow for the source's values.
    ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT "
                              "NULL, note VARCHAR(2)); CREATE TABLE shop.audit (txn INT NOT NULL, msg VARCHAR(40));")
                    .ok());
  }));
  ASSERT_TRUE(Transactions(*src_, 1, 3).ok());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30)));

  HttpReply health = HttpGet(http_port_, "/healthz");
  EXPECT_EQ(health.status, 503) << health.body << health.error;
  EXPECT_NE(health.body.find("pipeline p failed:"), std::string::npos) << health.body;
  EXPECT_NE(health.body.find("note"), std::string::npos) << health.body;

  int ws = sluice_->Stop();
  EXPECT_EQ(ExitCode(ws), 1) << DescribeWaitStatus(ws) << "\n" << sluice_->Log();
  EXPECT_NE(sluice_->FullLog().find("exiting with status 1: 1 pipeline(s) had failed"), std::string::npos)
      << sluice_->Log();
}

// A pipeline whose capture failed for good (a start position in a binlog
// file the source does not have): its targets apply nothing more, so they
// must not say "running"; /healthz is 503.
TEST_F(OperationsTest, FailedCaptureLeavesNoTargetRunning) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  http_port_ = FreePort();
  PipelineOptions o;
  o.start = "binlog.999999:4";
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), o));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30)));
  Json st = PipelineStatus("p");
  ASSERT_TRUE(st.is_object());
  for (const Json& t : st["targets"]) {
    EXPECT_NE(t.value("state", ""), "running") << "pipeline failed but a target says running: " << st.dump();
  }
  EXPECT_EQ(HttpGet(http_port_, "/healthz").status, 503);
  EXPECT_EQ(ExitCode(sluice_->Stop()), 1) << sluice_->Log();
}

// A store that cannot say whether a pipeline was stopped through the API is
// an error at start, not "not stopped".
TEST_F(OperationsTest, StoreReadErrorIsNotReadAsNotStopped) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  // A store whose settings table is a view over a table that is gone: it
  // opens, and every read of a setting fails.
  std::string store = (dir_ / "sluice.db").string();
  ASSERT_EQ(std::system(("python3 -c \"import sqlite3; c = sqlite3.connect('" + store +
                         "'); c.execute('CREATE TABLE base (pipeline TEXT, key TEXT, value TEXT)'); "
                         "c.execute('CREATE VIEW settings AS SELECT pipeline, key, value FROM base'); "
                         "c.execute('DROP TABLE base'); c.commit()\"")
                            .c_str()),
            0);
  http_port_ = FreePort();
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url()));
  CommandResult r = RunSluice("run -c " + ShellQuote(config_), 30);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("pipeline p: reading whether it was stopped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no such table"), std::string::npos) << r.err;
}

// POST .../stop without a body; POST .../position only at a transaction
// boundary that exists on the source; a failed pipeline says so.
TEST_F(OperationsTest, StopWithoutBodyAndPositionsAtBoundaries) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ConvergesExactly(5));

  // What `curl -X POST URL` sends.
  std::string answer =
      RawHttp(http_port_, "POST /api/pipelines/p/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer;
  ASSERT_TRUE(WaitForState("p", "stopped", seconds(10)));

  auto events = src_->Query("SHOW BINLOG EVENTS IN 'binlog.000001'");
  ASSERT_TRUE(events.ok()) << events.status().message();
  std::string inside, boundary;
  for (const auto& e : *events) {
    std::string type = e[2].value_or("");
    if (type == "Table_map" && inside.empty()) inside = e[1].value_or("");
    if (type == "Gtid") boundary = e[1].value_or("");  // the last transaction's start
  }
  ASSERT_FALSE(inside.empty());
  ASSERT_FALSE(boundary.empty());

  auto position = [&](const std::string& pos) {
    return HttpPost(http_port_, "/api/pipelines/p/position", "{\"position\": \"" + pos + "\"}");
  };
  HttpReply r = position("binlog.000001:" + inside);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("not a transaction boundary"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("Table_map"), std::string::npos) << r.body;

  r = position("binlog.000001:4294967300");  // 2^32 + 4: would wrap to 4 in a 32-bit field
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("beyond the end of binlog.000001"), std::string::npos) << r.body;

  r = position("binlog.000001:99999999999999999999");  // beyond 64 bits
  EXPECT_EQ(r.status, 400) << r.body;

  r = position("binlog.000007:4");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("has no binlog file \\\"binlog.000007\\\""), std::string::npos) << r.body;

  // A transaction's start is accepted, and the pipeline replays from there:
  // the last transaction again, which changes nothing (idempotent).
  r = position("binlog.000001:" + boundary);
  EXPECT_EQ(r.status, 200) << r.body;
  r = position(BinlogEnd(*src_));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start").status, 200);
  ASSERT_TRUE(WaitForState("p", "running", seconds(10)));
  ASSERT_TRUE(Transactions(*src_, 6, 2).ok());
  EXPECT_TRUE(ConvergesExactly(7));
}

TEST_F(OperationsTest, PositionOnAFailedPipelineSaysFailed) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  http_port_ = FreePort();
  PipelineOptions o;
  o.start = "binlog.999999:4";
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), o));
  StartSluice();
  ASSERT_TRUE(WaitForState("p", "failed", seconds(30)));
  HttpReply r = HttpPost(http_port_, "/api/pipelines/p/position", "{\"position\": \"earliest\"}");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.body.find("is running"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("has failed"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("POST /api/pipelines/p/stop"), std::string::npos) << r.body;
  // Following the advice works.
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop").status, 200);
  r = HttpPost(http_port_, "/api/pipelines/p/position", "{\"position\": \"earliest\"}");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start").status, 200);
  ASSERT_TRUE(Transactions(*src_, 1, 3).ok());
  EXPECT_TRUE(ConvergesExactly(3));
}

// Ten clients that connect and send nothing do not hold up /healthz.
TEST_F(OperationsTest, HalfOpenClientsDoNotDelayHealthz) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  std::vector<int> idle;
  for (int i = 0; i < 10; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(http_port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    idle.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto t0 = std::chrono::steady_clock::now();
  HttpReply health = HttpGet(http_port_, "/healthz");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(health.status, 200) << health.error;
  EXPECT_LT(took, std::chrono::milliseconds(500))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  for (int fd : idle) ::close(fd);
}

// The /metrics page of a sluice with traffic passes `promtool check metrics`
// without a complaint, and counts rows and delay per table.
TEST_F(OperationsTest, MetricsPassPromtoolAndCountPerTable) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(src_->Execute("DELETE FROM shop.audit WHERE txn <= 3").ok());
  ASSERT_TRUE(Converges(*src_, kAudit, *dst_, kAudit, seconds(30)));
  // Counted once the loader returns, a moment after the target committed.
  HttpReply page;
  EXPECT_TRUE(WaitUntil(
      [&] {
        page = HttpGet(http_port_, "/metrics");
        return MetricValue(page.body, "sluice_table_rows_total",
                           {"pipeline=\"p\"", "table=\"shop.audit\"", "op=\"delete\""}) == 3;
      },
      seconds(10)))
      << page.body;
  ASSERT_EQ(page.status, 200) << page.error;
  std::string file = (dir_ / "metrics.txt").string();
  std::ofstream(file) << page.body;
  std::string out = (dir_ / "promtool.out").string();
  int rc = std::system(("promtool check metrics < " + file + " > " + out + " 2>&1").c_str());
  ASSERT_NE(rc, -1);
  EXPECT_EQ(ExitCode(rc), 0) << "promtool check metrics:\n" << ReadWhole(out) << "\npage:\n" << page.body;
  EXPECT_EQ(ReadWhole(out), "") << page.body;

  EXPECT_EQ(MetricValue(page.body, "sluice_table_rows_total",
                        {"pipeline=\"p\"", "target=\"dst\"", "table=\"shop.orders\"", "op=\"insert\""}),
            20)
      << page.body;
  EXPECT_EQ(MetricValue(page.body, "sluice_table_rows_total",
                        {"pipeline=\"p\"", "target=\"dst\"", "table=\"shop.orders\"", "op=\"update\""}),
            19)  // transaction 1 updates id 0, which does not exist
      << page.body;
  EXPECT_EQ(MetricValue(page.body, "sluice_table_rows_total",
                        {"pipeline=\"p\"", "target=\"dst\"", "table=\"shop.audit\"", "op=\"delete\""}),
            3)
      << page.body;
  EXPECT_EQ(MetricValue(page.body, "sluice_table_delay_seconds",
                        {"pipeline=\"p\"", "target=\"dst\"", "table=\"shop.orders\""}),
            0)
      << page.body;
  // No family in milliseconds any more.
  EXPECT_EQ(page.body.find("_ms"), std::string::npos) << page.body;
  // The status API counts the same per target table.
  HttpReply status = HttpGet(http_port_, "/api/pipelines/p/status");
  Json tables = Json::parse(status.body, nullptr, false)["targets"][0]["tables"];
  ASSERT_TRUE(tables.is_array()) << status.body;
  Json by_name = Json::object();
  for (const Json& t : tables) by_name[t.value("table", "")] = t;
  EXPECT_EQ(by_name["shop.orders"].value("inserts", -1), 20) << status.body;
  EXPECT_EQ(by_name["shop.orders"].value("updates", -1), 19) << status.body;
  EXPECT_EQ(by_name["shop.audit"].value("deletes", -1), 3) << status.body;
  EXPECT_EQ(by_name["shop.orders"].value("delay_ms", -1), 0) << status.body;

  // With the target down, the delay of a table with changes waiting grows,
  // and the table without any stays 0.
  ASSERT_TRUE(dst_->Crash().ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (1000, 1, 'late')").ok());
  const std::initializer_list<std::string> kOrdersTable = {"pipeline=\"p\"", "target=\"dst\"", "table=\"shop.orders\""};
  EXPECT_TRUE(WaitUntil(
      [&] {
        return MetricValue(HttpGet(http_port_, "/metrics").body, "sluice_table_delay_seconds", kOrdersTable) > 1.5;
      },
      seconds(20)))
      << HttpGet(http_port_, "/metrics").body;
  EXPECT_EQ(MetricValue(HttpGet(http_port_, "/metrics").body, "sluice_table_delay_seconds",
                        {"pipeline=\"p\"", "target=\"dst\"", "table=\"shop.audit\""}),
            0);
  ASSERT_TRUE(dst_->Restart().ok());
  ASSERT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, seconds(30)));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return MetricValue(HttpGet(http_port_, "/metrics").body, "sluice_table_delay_seconds", kOrdersTable) == 0;
      },
      seconds(10)));
}

// SIGHUP reloads the configuration: an unchanged pipeline runs on, a file
// with an error changes nothing, a changed pipeline restarts with its new
// rules from its checkpoint. (Without a handler SIGHUP ended the process.)
TEST_F(OperationsTest, SighupReloadsTheConfiguration) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 3).ok());
  ASSERT_TRUE(ConvergesExactly(3));
  std::vector<pid_t> pids = ProcessesMatching(SLUICE_BINARY, config_);
  ASSERT_EQ(pids.size(), 1u);
  size_t reloads = 0;
  auto hangup = [&](const std::string& expect) {
    ::kill(pids[0], SIGHUP);
    ++reloads;
    bool seen = WaitUntil(
        [&] {
          std::string log = sluice_->FullLog();
          size_t n = 0;
          for (size_t at = 0; (at = log.find("SIGHUP: ", at)) != std::string::npos; ++at) {
            if (log.compare(at, 17, "SIGHUP: reloading") != 0) ++n;
          }
          return n >= reloads;
        },
        seconds(20));
    std::string log = sluice_->FullLog();
    std::string last = log.substr(log.rfind("SIGHUP: "));
    EXPECT_TRUE(seen) << log;
    EXPECT_NE(last.find(expect), std::string::npos) << last;
  };

  hangup("restarted (changed): none; started (new): none; stopped (removed): none; unchanged: p");

  PipelineOptions bad;
  bad.extra = "    bogus_key: 1\n";
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), bad));
  hangup("not reloaded, the pipelines run on as they were");
  EXPECT_NE(sluice_->FullLog().find("bogus_key"), std::string::npos);
  ASSERT_TRUE(Transactions(*src_, 4, 2).ok());
  ASSERT_TRUE(ConvergesExactly(5));

  // Only orders from now on.
  PipelineOptions orders_only;
  orders_only.tables = "      - match: \"shop.orders\"\n";
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), orders_only));
  hangup("restarted (changed): p;");
  ASSERT_TRUE(WaitForState("p", "running", seconds(10)));
  ASSERT_TRUE(Transactions(*src_, 6, 2).ok());
  EXPECT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, seconds(30)));
  auto audit = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(*audit, "5") << "shop.audit is no longer selected";
  EXPECT_TRUE(sluice_->Running());
  EXPECT_EQ(ExitCode(sluice_->Stop()), 0) << sluice_->Log();
}

// The bash server library: a server started by a script that is then
// killed -9 is stopped by its watchdog.
TEST(ScriptServersTest, ServerDiesWithItsOwnerScript) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("sluice-owner-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string log = (dir / "script.log").string();
  std::string script = "source " + kSourceDir +
                       "/scripts/lib/mariadb.sh && "
                       "mariadb_start OWNED " +
                       (dir / "srv").string() +
                       " 7 >/dev/null && echo started && "
                       "kill -9 $$";
  auto pid = SpawnProcess({"bash", "-c", script}, log);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  auto st = WaitForExit(*pid, seconds(60));
  ASSERT_TRUE(st.ok() && st->has_value()) << TailOfFile(log);
  ASSERT_NE(TailOfFile(log).find("started"), std::string::npos) << TailOfFile(log);
  std::string datadir = "--datadir=" + (dir / "srv" / "data").string();
  EXPECT_TRUE(WaitUntil([&] { return ProcessesMatching("mariadbd", datadir).empty(); }, seconds(30)))
      << "mariadbd of " << dir << " outlived the script that started it";
  for (pid_t p : ProcessesMatching("mariadbd", datadir)) ::kill(p, SIGKILL);
  std::filesystem::remove_all(dir);
}

// `make demo` stopped with Ctrl-C: the whole foreground process group gets
// SIGINT. The demo stops its workload, prints the check's summary, and stops
// its servers and sluice.
TEST(ScriptServersTest, DemoStopsCleanlyOnCtrlC) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sluice-demo-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string log = (dir / "demo.log").string();
  // Spawned children lead a process group of their own, as a terminal's
  // foreground job does: a signal to -pid is a Ctrl-C.
  auto pid =
      SpawnProcess({"env", std::string("SLUICE=") + SLUICE_BINARY, "bash", kSourceDir + "/scripts/demo.sh"}, log);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  ASSERT_TRUE(WaitUntil(
      [&] {
        if (TailOfFile(log, 0, 1 << 20).find("live status") != std::string::npos) return true;
        auto ended = WaitForExit(*pid, std::chrono::milliseconds(0));
        return ended.ok() && ended->has_value();  // ended early: fail now, with its output
      },
      seconds(120)))
      << TailOfFile(log);
  std::smatch m;
  std::string text = TailOfFile(log, 0, 1 << 20);
  ASSERT_TRUE(std::regex_search(text, m, std::regex("servers in (/tmp/sluice-demo\\.[A-Za-z0-9]+)"))) << text;
  const std::string demo_dir = m[1];
  // Let it apply some of the workload.
  ASSERT_TRUE(
      WaitUntil([&] { return TailOfFile(log, 0, 1 << 20).find(" running ") != std::string::npos; }, seconds(60)))
      << TailOfFile(log);
  std::this_thread::sleep_for(seconds(2));
  ASSERT_EQ(::kill(-*pid, SIGINT), 0);
  auto st = WaitForExit(*pid, seconds(150));
  if (!st.ok() || !st->has_value()) {
    // What it waits for: its processes, and sluice's log.
    std::string running;
    for (pid_t p : ProcessesMatching(demo_dir)) {
      std::string cmd = ReadWhole(std::filesystem::path("/proc") / std::to_string(p) / "cmdline");
      std::replace(cmd.begin(), cmd.end(), '\0', ' ');
      running += "  " + std::to_string(p) + ": " + cmd.substr(0, 200) + "\n";
    }
    for (pid_t p : ProcessesMatching(demo_dir)) ::kill(p, SIGKILL);
    ::kill(-*pid, SIGKILL);
    FAIL() << "the demo did not end after Ctrl-C:\n"
           << TailOfFile(log) << "\nits processes:\n"
           << running << "sluice.log:\n"
           << TailOfFile(demo_dir + "/sluice.log", 0, 8000);
  }
  text = TailOfFile(log, 0, 1 << 20);
  EXPECT_NE(text.find("stopping the workload"), std::string::npos) << text;
  EXPECT_NE(text.find("consistent"), std::string::npos) << text;
  EXPECT_EQ(ExitCode(**st), 0) << DescribeWaitStatus(**st) << "\n" << text;
  EXPECT_TRUE(WaitUntil([&] { return ProcessesMatching(demo_dir).empty(); }, seconds(30)))
      << "processes of " << demo_dir << " left running after the demo ended";
  for (pid_t p : ProcessesMatching(demo_dir)) ::kill(p, SIGKILL);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
