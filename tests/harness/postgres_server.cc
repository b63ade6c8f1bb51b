#include "harness/postgres_server.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <thread>

#include "harness/process.h"
#include "harness/test_certificate.h"

namespace sluice::testing {

void StopLeakedPostgresAtExit();

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kUser = "postgres";
constexpr int kMaxPortAttempts = 6;

std::string Bin(const char* tool) { return std::string(kBinDir) + "/" + tool; }

// Single-quoted for sh.
std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// `command` run by sh as the postgres user from `/` (that user cannot enter
// root's working directory).
std::vector<std::string> AsPostgres(const std::string& command) {
  return {"runuser", "-u", kUser, "--", "sh", "-c", "cd / && exec " + command};
}

Status EnsureSystemUser() {
  if (::getpwnam(kUser) != nullptr) return Status::Ok();
  return RunCommand({"useradd", "-r", "-s", "/usr/sbin/nologin", kUser}, "/dev/null");
}

uint16_t PickPort() {
  // A port in a range the kernel does not hand out for outgoing connections
  // (ip_local_port_range starts at 32768), chosen per process and attempt.
  static std::atomic<uint32_t> n{0};
  uint32_t seed = static_cast<uint32_t>(::getpid()) * 7919u + n.fetch_add(1) * 104729u +
                  static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return static_cast<uint16_t>(20000 + seed % 10000);
}

// Directories of test processes that died without removing theirs.
void RemoveStaleDirs() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
      std::string name = e.path().filename().string();
      if (!name.starts_with("sluice-pg-")) continue;
      pid_t owner = static_cast<pid_t>(std::atoi(name.c_str() + std::strlen("sluice-pg-")));
      if (owner > 0 && (::kill(owner, 0) == 0 || errno == EPERM)) continue;
      fs::remove_all(e.path(), ec);
    }
  });
}

std::mutex& LiveMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::set<PostgresServer*>& Live() {
  static auto* live = new std::set<PostgresServer*>;
  return *live;
}

}  // namespace

void PostgresServer::ConnCloser::operator()(pg_conn* c) const { PQfinish(c); }

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start(PostgresServerOptions opts) {
  RemoveStaleDirs();
  RETURN_IF_ERROR(EnsureSystemUser());
  std::string templ = (fs::temp_directory_path() / ("sluice-pg-" + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    return Status::Error(StatusCode::kIoError, "mkdtemp {}: {}", templ, std::strerror(errno));
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer(std::move(opts), templ));
  struct passwd* pw = ::getpwnam(kUser);
  if (pw == nullptr || ::chown(templ.c_str(), pw->pw_uid, pw->pw_gid) != 0 || ::chmod(templ.c_str(), 0755) != 0) {
    return Status::Error(StatusCode::kIoError, "chown {} to {}: {}", templ, kUser, std::strerror(errno));
  }
  server->data_dir_ = templ + "/data";
  server->log_ = templ + "/server.log";
  RETURN_IF_ERROR(server->Init());
  if (server->opts_.tls) {
    ASSIGN_OR_RETURN(TestCertificate cert, MakeTestCertificate(templ, "server"));
    // The server refuses a key others can read; the files are its user's.
    if (::chown(cert.cert.c_str(), pw->pw_uid, pw->pw_gid) != 0 ||
        ::chown(cert.key.c_str(), pw->pw_uid, pw->pw_gid) != 0 || ::chmod(cert.key.c_str(), 0600) != 0) {
      return Status::Error(StatusCode::kIoError, "chown {} to {}: {}", cert.key, kUser, std::strerror(errno));
    }
    server->ca_path_ = cert.cert;
    server->key_path_ = cert.key;
  }
  {
    std::lock_guard lock(LiveMutex());
    if (Live().empty()) std::atexit(StopLeakedPostgresAtExit);
    Live().insert(server.get());
  }
  Status st;
  for (int attempt = 0; attempt < kMaxPortAttempts; ++attempt) {
    server->port_ = PickPort();
    st = server->Launch();
    if (st.ok()) return server;
  }
  return st;
}

Status PostgresServer::Init() {
  return RunCommand(AsPostgres(fmt::format("{} -D {} -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust "
                                           "--auth-host=scram-sha-256 --no-sync",
                                           Bin("initdb"), ShellQuote(data_dir_))),
                    dir_ + "/initdb.log");
}

Status PostgresServer::Launch() {
  std::string command = fmt::format(
      "{} -D {} -p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", Bin("postgres"),
      ShellQuote(data_dir_), port_, ShellQuote(dir_));
  if (opts_.logical_replication) command += " -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20";
  if (opts_.tls) {
    command += " -c ssl=on -c ssl_cert_file=" + ShellQuote(ca_path_) + " -c ssl_key_file=" + ShellQuote(key_path_);
  }
  for (const auto& s : opts_.extra_settings) command += " -c " + ShellQuote(s);
  uint64_t log_offset = FileSize(log_);
  // setpriv execs in place (runuser would fork and wait): the postmaster
  // stays our child, and `--pdeathsig keep` restores the parent-death
  // signal that the change of user clears.
  auto pid = SpawnProcess({"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig", "keep",
                           "--", "sh", "-c", "cd / && exec " + command},
                          log_);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  std::string conninfo = fmt::format("host={} port={} user=postgres dbname=postgres connect_timeout=2", dir_, port_);
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(conninfo.c_str()) == PQPING_OK) return Status::Ok();
    auto exited = WaitForExit(*pid, milliseconds(100));
    if (exited.ok() && exited->has_value()) {
      pid_ = -1;
      return Status::Error(StatusCode::kIoError, "postgres on port {} {}: {}", port_, DescribeWaitStatus(**exited),
                           TailOfFile(log_, log_offset));
    }
  }
  (void)Stop();
  return Status::Error(StatusCode::kIoError, "postgres on port {} not ready after 60 s: {}", port_,
                       TailOfFile(log_, log_offset));
}

Status PostgresServer::Stop() {
  {
    std::lock_guard lock(session_mu_);
    session_.reset();
  }
  pid_t pid = pid_.exchange(-1);
  if (pid <= 0) return Status::Ok();
  Status st = RunCommand(AsPostgres(fmt::format("{} stop -D {} -m fast -w -t 60", Bin("pg_ctl"), ShellQuote(data_dir_))),
                         dir_ + "/pg_ctl.log", std::chrono::seconds(90));
  auto exited = WaitForExit(pid, seconds(st.ok() ? 30 : 1));
  if (!exited.ok() || !exited->has_value()) {
    pid_ = pid;
    for (pid_t p : Processes()) ::kill(p, SIGKILL);  // backends are sessions of their own
    pid_ = -1;
    (void)StopProcess(pid, SIGKILL, seconds(10));
  }
  return st;
}

std::vector<pid_t> PostgresServer::Processes() const {
  std::vector<pid_t> out;
  pid_t parent = pid_;
  if (parent <= 0) return out;
  out.push_back(parent);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    // After "pid (comm)": state, then ppid.
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    long ppid = 0;
    fields >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::atol(name.c_str())));
  }
  return out;
}

Status PostgresServer::Crash() {
  {
    std::lock_guard lock(session_mu_);
    session_.reset();
  }
  if (pid_ <= 0) return Status::Error(StatusCode::kIoError, "postgres on port {} is not running", port_);
  std::vector<pid_t> all = Processes();
  for (pid_t p : all) ::kill(p, SIGKILL);
  pid_t pid = pid_.exchange(-1);
  (void)WaitForExit(pid, seconds(10));
  // The children are reparented and reaped elsewhere: gone once /proc has
  // no live process of theirs (a zombie holds no shared memory).
  auto alive = [](pid_t p) {
    std::ifstream in("/proc/" + std::to_string(p) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
  };
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  for (pid_t p : all) {
    if (p == pid) continue;
    while (alive(p) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
    if (alive(p)) return Status::Error(StatusCode::kIoError, "postgres child {} survived kill -9", p);
  }
  return Status::Ok();
}

Status PostgresServer::Hang() {
  if (pid_ <= 0) return Status::Error(StatusCode::kIoError, "postgres on port {} is not running", port_);
  for (pid_t p : Processes()) ::kill(p, SIGSTOP);
  return Status::Ok();
}

Status PostgresServer::Resume() {
  if (pid_ <= 0) return Status::Error(StatusCode::kIoError, "postgres on port {} is not running", port_);
  for (pid_t p : Processes()) ::kill(p, SIGCONT);
  return Status::Ok();
}

Status PostgresServer::Restart() {
  RETURN_IF_ERROR(Stop());
  return Launch();
}

void PostgresServer::RemoveDir() {
  if (std::getenv("SLUICE_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

PostgresServer::~PostgresServer() {
  (void)Stop();
  {
    std::lock_guard lock(LiveMutex());
    Live().erase(this);
  }
  RemoveDir();
}

void StopLeakedPostgresAtExit() {
  std::lock_guard lock(LiveMutex());
  for (PostgresServer* s : Live()) {
    (void)s->Stop();
    s->RemoveDir();
  }
  Live().clear();
}

std::string PostgresServer::Url(std::string_view user, std::string_view password, std::string_view db) const {
  auto encode = [](std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += fmt::format("%{:02X}", c);
      }
    }
    return out;
  };
  std::string auth = encode(user);
  if (!password.empty()) auth += ":" + encode(password);
  return fmt::format("postgres://{}@127.0.0.1:{}/{}", auth, port_, db);
}

Status PostgresServer::Run(std::string_view sql, std::string_view db, Rows* rows) {
  std::lock_guard lock(session_mu_);
  if (session_ && (session_db_ != db || PQstatus(session_.get()) != CONNECTION_OK)) session_.reset();
  if (!session_) {
    std::string conninfo = fmt::format("host={} port={} user=postgres dbname='{}' connect_timeout=10", dir_, port_, db);
    session_.reset(PQconnectdb(conninfo.c_str()));
    if (PQstatus(session_.get()) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(session_.get());
      session_.reset();
      return Status::Error(StatusCode::kIoError, "postgres on port {}: {}", port_, msg);
    }
    session_db_ = std::string(db);
  }
  std::string text(sql);
  if (!PQsendQuery(session_.get(), text.c_str())) {
    return Status::Error(StatusCode::kIoError, "postgres on port {}: {}", port_, PQerrorMessage(session_.get()));
  }
  Status st;
  while (PGresult* res = PQgetResult(session_.get())) {
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_FATAL_ERROR && st.ok()) {
      st = Status::Error(StatusCode::kServerError, "{}: {}", PQresultErrorMessage(res), text.substr(0, 300));
    } else if (s == PGRES_TUPLES_OK && rows) {
      rows->clear();
      for (int r = 0; r < PQntuples(res); ++r) {
        Row row;
        for (int c = 0; c < PQnfields(res); ++c) {
          if (PQgetisnull(res, r, c)) {
            row.emplace_back(std::nullopt);
          } else {
            row.emplace_back(std::string(PQgetvalue(res, r, c), static_cast<size_t>(PQgetlength(res, r, c))));
          }
        }
        rows->push_back(std::move(row));
      }
    }
    PQclear(res);
  }
  return st;
}

Status PostgresServer::Execute(std::string_view sql, std::string_view db) { return Run(sql, db, nullptr); }

Result<PostgresServer::Rows> PostgresServer::Query(std::string_view sql, std::string_view db) {
  Rows rows;
  RETURN_IF_ERROR(Run(sql, db, &rows));
  return rows;
}

Result<std::string> PostgresServer::QueryValue(std::string_view sql, std::string_view db) {
  ASSIGN_OR_RETURN(Rows rows, Query(sql, db));
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return Status::Error(StatusCode::kNotFound, "no value: {}", sql);
  return *rows[0][0];
}

Status PostgresServer::CreateUser(std::string_view user, std::string_view password, bool superuser) {
  std::string pw;
  for (char c : password) pw += c == '\'' ? std::string("''") : std::string(1, c);
  return Execute(fmt::format("CREATE ROLE \"{}\" LOGIN {} PASSWORD '{}'", user, superuser ? "SUPERUSER" : "", pw));
}

Status PostgresServer::CreateDatabase(std::string_view name, std::string_view owner) {
  return Execute(fmt::format("CREATE DATABASE \"{}\"{}", name,
                             owner.empty() ? std::string() : fmt::format(" OWNER \"{}\"", owner)));
}

}  // namespace sluice::testing
