#include "harness/mariadb_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mysql.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "harness/process.h"

namespace sluice::testing {

void StopLeakedServersAtExit();  // friend of MariadbServer, below

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

namespace {

// Bump when the template recipe (install-db arguments, init.sql) changes, so
// that build directories holding an old template make a new one.
constexpr std::string_view kTemplateRecipe = "sluice-mariadb-template-v1";

// The redo log is sized once by mariadb-install-db and must match at every
// start (a mismatch makes InnoDB resize it, which is slow). 16 MiB keeps the
// per-server copy small; tests that load a lot can pass a larger
// --innodb-log-file-size in extra_args.
constexpr std::string_view kInnodbLogFileSize = "16M";

constexpr seconds kStartTimeout{30};
constexpr seconds kStopGrace{30};
constexpr milliseconds kPollInterval{50};
constexpr int kMaxPortAttempts = 8;

constexpr unsigned kErNoSuchThread = 1094;  // KILL of a connection that already ended

// Runs once the template's system tables exist (mariadb-install-db
// --extra-file, executed in bootstrap mode where GRANT is unavailable, hence
// plain DML on the grant tables). Root gets a passwordless account for any
// host so tests can connect over TCP from 127.0.0.2 or a container, and the
// accounts named after this machine's host name go: they are ignored under
// --skip-name-resolve and only produce a warning at every start.
constexpr std::string_view kTemplateInitSql = R"sql(
INSERT INTO mysql.global_priv (Host, User, Priv)
  SELECT '%', User, Priv FROM mysql.global_priv WHERE User = 'root' AND Host = '127.0.0.1';
DELETE FROM mysql.global_priv
  WHERE User = 'root' AND Host NOT IN ('localhost', '127.0.0.1', '::1', '%');
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1', '%');
)sql";

bool RunningAsRoot() { return ::geteuid() == 0; }

std::string Errno() { return std::strerror(errno); }

Status WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return Status::Error(StatusCode::kIoError, "write \"{}\": {}", path, Errno());
  return Status::Ok();
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ProcessExists(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// A stable 64-bit FNV-1a hash (std::hash may differ between builds).
uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// $TMPDIR, or /tmp. Unix socket paths are limited to 107 bytes, so a deep
// $TMPDIR falls back to /tmp rather than failing with a cryptic bind error.
std::string TempBase() {
  const char* env = std::getenv("TMPDIR");
  std::string base = (env && *env) ? env : "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  constexpr size_t kLongestSuffix = sizeof("/sluice-mariadb-XXXXXX/mariadbd.sock");
  std::error_code ec;
  if (!fs::is_directory(base, ec) ||
      base.size() + kLongestSuffix > sizeof(sockaddr_un{}.sun_path)) {
    return "/tmp";
  }
  return base;
}

Result<std::string> MakeTempDir(const std::string& pattern) {
  std::string path = pattern;
  if (::mkdtemp(path.data()) == nullptr) {
    return Status::Error(StatusCode::kIoError, "mkdtemp \"{}\": {}", pattern, Errno());
  }
  return path;
}

// Where the template lives: one per build directory, so a rebuilt or cleaned
// build starts fresh and parallel checkouts do not share state.
std::string HarnessCacheDir() {
  if (const char* env = std::getenv("SLUICE_HARNESS_CACHE_DIR"); env && *env) return env;
#ifdef SLUICE_BUILD_DIR
  return SLUICE_BUILD_DIR "/harness";
#else
  return TempBase() + "/sluice-harness-" + std::to_string(::geteuid());
#endif
}

Result<std::string> FindMariadbd() {
  return FindExecutable("mariadbd", {"/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/libexec",
                                     "/usr/local/mysql/bin"});
}

// Holds an exclusive flock() for its lifetime.
class FileLock {
 public:
  static Result<std::unique_ptr<FileLock>> Acquire(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      return Status::Error(StatusCode::kIoError, "open lock file \"{}\": {}", path, Errno());
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        Status st = Status::Error(StatusCode::kIoError, "flock \"{}\": {}", path, Errno());
        ::close(fd);
        return st;
      }
    }
    return std::unique_ptr<FileLock>(new FileLock(fd));
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() { ::close(fd_); }  // closing releases the lock

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// Returns the directory of the template (its datadir is <dir>/data), creating
// it on first use. mariadb-install-db takes about a second; copying its
// output takes tens of milliseconds. Concurrent test processes serialise on a
// lock file, and the template appears under its final name only once complete
// (rename is atomic), so a reader never sees half a template.
Result<std::string> EnsureTemplate() {
  static std::mutex mu;
  static std::string cached;
  std::lock_guard lock(mu);
  std::error_code ec;
  // A stat per Start() is cheap and lets a long test run survive a cleaned
  // build directory: the template is then made again.
  if (!cached.empty() && fs::is_directory(cached + "/data", ec)) return cached;

  ASSIGN_OR_RETURN(std::string mariadbd, FindMariadbd());
  ASSIGN_OR_RETURN(std::string install_db,
                   FindExecutable("mariadb-install-db",
                                  {"/usr/bin", "/usr/local/bin", "/usr/local/mysql/scripts"}));
  // Keyed by the server binary's identity: an upgraded mariadbd gets a new
  // template instead of one whose system tables are from another version.
  struct stat st;
  if (::stat(mariadbd.c_str(), &st) != 0) {
    return Status::Error(StatusCode::kIoError, "stat \"{}\": {}", mariadbd, Errno());
  }
  std::string identity =
      fmt::format("{}|{}|{}|{}.{}|{}|{}", kTemplateRecipe, mariadbd, st.st_size, st.st_mtim.tv_sec,
                  st.st_mtim.tv_nsec, ::geteuid(), kInnodbLogFileSize);
  std::string cache_dir = HarnessCacheDir();
  std::string name = fmt::format("mariadb-template-{:016x}", Fnv1a(identity));
  std::string final_dir = cache_dir + "/" + name;

  if (fs::is_directory(final_dir + "/data", ec)) return cached = final_dir;

  fs::create_directories(cache_dir, ec);
  if (ec) {
    return Status::Error(StatusCode::kIoError, "create harness cache directory \"{}\": {}",
                         cache_dir, ec.message());
  }
  ASSIGN_OR_RETURN(auto file_lock, FileLock::Acquire(cache_dir + "/mariadb-template.lock"));
  if (fs::is_directory(final_dir + "/data", ec)) return cached = final_dir;  // made while we waited

  // Leftovers of a creator that died mid-way (we hold the lock, so nobody is
  // writing them now).
  for (const auto& entry : fs::directory_iterator(cache_dir, ec)) {
    if (entry.path().filename().string().starts_with(name + ".tmp-"))
      fs::remove_all(entry.path(), ec);
  }

  ASSIGN_OR_RETURN(std::string tmp_dir, MakeTempDir(final_dir + ".tmp-XXXXXX"));
  RETURN_IF_ERROR(WriteFile(tmp_dir + "/init.sql", kTemplateInitSql));
  std::vector<std::string> argv = {install_db, "--no-defaults"};  // --no-defaults must come first
  if (RunningAsRoot()) argv.push_back("--user=root");
  argv.insert(argv.end(), {
                              "--datadir=" + tmp_dir + "/data",
                              "--auth-root-authentication-method=normal",
                              "--skip-test-db",
                              "--skip-name-resolve",
                              fmt::format("--innodb-log-file-size={}", kInnodbLogFileSize),
                              "--extra-file=" + tmp_dir + "/init.sql",
                          });
  Status installed = RunCommand(argv, tmp_dir + "/install.log", std::chrono::minutes(5));
  if (!installed.ok()) {
    fs::remove_all(tmp_dir, ec);
    return installed.WithContext("create MariaDB template datadir");
  }
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
    Status failed = Status::Error(StatusCode::kIoError, "rename \"{}\" to \"{}\": {}", tmp_dir,
                                  final_dir, Errno());
    fs::remove_all(tmp_dir, ec);
    return failed;
  }
  return cached = final_dir;
}

// Does anything accept connections on this Unix socket? Works across PID
// namespaces, unlike kill(pid, 0).
bool SocketAcceptsConnections(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

constexpr std::string_view kServerDirPrefix = "sluice-mariadb-";

// Removes server directories left by test processes that died without running
// destructors (SIGKILL, ctest timeout): each is some 40 MB. A directory is
// stale when the process that made it is gone, nothing listens on its socket
// and it was not kept on purpose.
void SweepStaleServerDirs() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(TempBase(), ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(kServerDirPrefix) || !entry.is_directory(ec)) continue;
    std::string dir = entry.path().string();
    std::string owner = ReadSmallFile(dir + "/owner.pid");
    if (owner.empty() || fs::exists(dir + "/keep", ec)) continue;
    pid_t owner_pid = static_cast<pid_t>(std::atoi(owner.c_str()));
    if (owner_pid <= 0 || ProcessExists(owner_pid)) continue;
    if (SocketAcceptsConnections(dir + "/mariadbd.sock")) continue;
    fs::remove_all(dir, ec);
  }
}

// A TCP port nothing is bound to on these loopback addresses. Ports come from
// below the kernel's ephemeral range: a port from bind(0) is one the kernel
// may later hand to an outgoing connection, which would then block the
// server from binding it again in Restart(). Two processes may still pick the
// same port; Start() retries with another one when mariadbd cannot bind.
Result<uint16_t> PickFreePort(const std::vector<std::string>& addresses) {
  int ephemeral_low = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> ephemeral_low;
  int low = 15000;
  int high = std::max(ephemeral_low - 1, low + 1000);
  thread_local std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> dist(low, high);

  auto can_bind = [](const std::string& address, uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
    // No SO_REUSEADDR: a port with connections in TIME_WAIT counts as taken.
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  };
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto port = static_cast<uint16_t>(dist(rng));
    if (std::all_of(addresses.begin(), addresses.end(),
                    [&](const std::string& a) { return can_bind(a, port); })) {
      return port;
    }
  }
  return Status::Error(StatusCode::kIoError, "no free TCP port in {}-{} on {} after 500 attempts",
                       low, high, fmt::join(addresses, ", "));
}

std::string PercentEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// SQL text for error messages: one line, at most ~200 characters.
std::string Snippet(std::string_view sql) {
  std::string out;
  for (char c : sql) {
    if (out.size() >= 200) {
      out += "...";
      break;
    }
    bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Makes a private CA and a server certificate for localhost/127.0.0.1 in
// `dir`. P-256 keys take milliseconds where RSA-2048 takes a quarter second
// per key, and each server gets its own CA, so a test can check that another
// server's CA is refused. The configs are written out rather than taken from
// the system's openssl.cnf so the certificates do not depend on it.
Status MakeCertificates(const std::string& dir) {
  RETURN_IF_ERROR(WriteFile(dir + "/ca.cnf", R"(
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = sluice test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
)"));
  RETURN_IF_ERROR(WriteFile(dir + "/server.cnf", R"(
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
)"));
  RETURN_IF_ERROR(WriteFile(dir + "/server-ext.cnf", R"(
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)"));
  std::string log = dir + "/openssl.log";
  const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt",
                                           "ec_paramgen_curve:prime256v1", "-nodes"};
  auto with = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  RETURN_IF_ERROR(RunCommand(with({"openssl", "req", "-x509", "-config", dir + "/ca.cnf", "-days",
                                   "3650", "-keyout", dir + "/ca-key.pem", "-out", dir + "/ca.pem"},
                                  ec_key),
                             log));
  RETURN_IF_ERROR(RunCommand(with({"openssl", "req", "-new", "-config", dir + "/server.cnf",
                                   "-keyout", dir + "/server-key.pem", "-out", dir + "/server.csr"},
                                  ec_key),
                             log));
  std::random_device random;
  RETURN_IF_ERROR(RunCommand(
      {"openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.pem", "-CAkey",
       dir + "/ca-key.pem", "-set_serial", std::to_string(random() & 0x7fffffff), "-days", "3650",
       "-extfile", dir + "/server-ext.cnf", "-out", dir + "/server-cert.pem"},
      log));
  return Status::Ok();
}

// Servers not yet destroyed, for the atexit hook. Leaked on purpose: it must
// outlive every static MariadbServer.
std::mutex& RegistryMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::set<MariadbServer*>& Registry() {
  static auto* servers = new std::set<MariadbServer*>;
  return *servers;
}

void InitOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // mysql_library_init is not thread-safe; mysql_init would call it lazily.
    mysql_library_init(0, nullptr, nullptr);
    std::atexit(StopLeakedServersAtExit);
    SweepStaleServerDirs();
  });
}

}  // namespace

// Kills servers whose owner never destroyed them (a static or leaked
// unique_ptr) and removes their directories. Their processes would die with
// the test process anyway (PR_SET_PDEATHSIG); this also cleans up the disk.
void StopLeakedServersAtExit() {
  std::lock_guard lock(RegistryMutex());
  for (MariadbServer* server : Registry()) {
    pid_t pid = server->pid_;
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int status;
      ::waitpid(pid, &status, 0);
      server->pid_ = -1;
    }
    server->RemoveDir();
  }
  Registry().clear();
}

void MariadbServer::MysqlCloser::operator()(st_mysql* mysql) const { mysql_close(mysql); }

MariadbServer::MariadbServer(MariadbServerOptions opts, std::string dir)
    : opts_(std::move(opts)),
      dir_(std::move(dir)),
      datadir_(dir_ + "/data"),
      socket_path_(dir_ + "/mariadbd.sock"),
      pid_file_(dir_ + "/mariadbd.pid"),
      error_log_(dir_ + "/error.log"),
      output_log_(dir_ + "/mariadbd.out") {
  if (opts_.tls) {
    ca_path_ = dir_ + "/ca.pem";
    cert_path_ = dir_ + "/server-cert.pem";
    key_path_ = dir_ + "/server-key.pem";
  }
  std::lock_guard lock(RegistryMutex());
  Registry().insert(this);
}

MariadbServer::~MariadbServer() {
  {
    std::lock_guard lock(RegistryMutex());
    Registry().erase(this);
  }
  Status stopped = Stop(kStopGrace);
  if (!stopped.ok()) fmt::print(stderr, "[harness] {}\n", stopped.message());
  RemoveDir();
}

Result<std::unique_ptr<MariadbServer>> MariadbServer::Start(MariadbServerOptions opts) {
  const std::string& metadata = opts.binlog_row_metadata;
  if (metadata != "FULL" && metadata != "MINIMAL" && metadata != "NO_LOG") {
    return Status::Invalid(
        "MariadbServerOptions.binlog_row_metadata \"{}\": expected FULL, MINIMAL or NO_LOG",
        metadata);
  }
  if (opts.tls && opts.skip_ssl) {
    return Status::Invalid("MariadbServerOptions: tls and skip_ssl exclude each other");
  }
  InitOnce();

  ASSIGN_OR_RETURN(std::string template_dir, EnsureTemplate());
  ASSIGN_OR_RETURN(std::string dir,
                   MakeTempDir(fmt::format("{}/{}XXXXXX", TempBase(), kServerDirPrefix)));
  // From here the server object owns the directory and cleans it up.
  std::unique_ptr<MariadbServer> server(new MariadbServer(std::move(opts), dir));
  // The sweep of later test processes uses this to tell live from stale.
  RETURN_IF_ERROR(WriteFile(dir + "/owner.pid", std::to_string(::getpid())));

  // The error quotes the logs, and the directory goes with `server` (set
  // SLUICE_KEEP_TEST_DIRS=1 to keep it for a post-mortem).
  auto fail = [&](const Status& st) {
    return st.WithContext(
        fmt::format("start mariadb server server_id={} in \"{}\"", server->opts_.server_id, dir));
  };
  // cp rather than std::filesystem::copy: --reflink shares blocks on
  // filesystems that can (btrfs, xfs) and -a keeps modes.
  Status copied = RunCommand(
      {"cp", "-a", "--reflink=auto", template_dir + "/data", server->datadir_}, dir + "/setup.log");
  if (!copied.ok()) return fail(copied);
  std::error_code ec;
  fs::create_directory(dir + "/tmp", ec);
  if (ec) {
    return fail(Status::Error(StatusCode::kIoError, "mkdir \"{}/tmp\": {}", dir, ec.message()));
  }
  if (server->opts_.tls) {
    if (Status made = MakeCertificates(dir); !made.ok()) return fail(made);
  }
  if (Status launched = server->LaunchOnFreePort(); !launched.ok()) return fail(launched);
  return server;
}

std::vector<std::string> MariadbServer::CommandLine() const {
  Result<std::string> mariadbd = FindMariadbd();  // checked by EnsureTemplate
  std::vector<std::string> args = {mariadbd.ok() ? *mariadbd : "mariadbd", "--no-defaults"};
  if (RunningAsRoot()) args.push_back("--user=root");  // mariadbd refuses root otherwise
  args.insert(args.end(),
              {
                  "--datadir=" + datadir_,
                  "--socket=" + socket_path_,
                  fmt::format("--port={}", port_),
                  opts_.tls ? "--bind-address=127.0.0.1,127.0.0.2" : "--bind-address=127.0.0.1",
                  "--pid-file=" + pid_file_,
                  "--log-error=" + error_log_,
                  "--tmpdir=" + dir_ + "/tmp",
                  fmt::format("--server-id={}", opts_.server_id),
                  "--binlog-format=ROW",
                  "--binlog-row-metadata=" + opts_.binlog_row_metadata,
                  // Relay logs are otherwise named after the host.
                  "--relay-log=relay-bin",
                  "--skip-name-resolve",
                  "--character-set-server=utf8mb4",
                  "--collation-server=utf8mb4_general_ci",
                  "--innodb-buffer-pool-size=64M",
                  fmt::format("--innodb-log-file-size={}", kInnodbLogFileSize),
                  // Nothing to warm up in a test; saves a file write per stop.
                  "--innodb-buffer-pool-dump-at-shutdown=OFF",
                  "--innodb-buffer-pool-load-at-startup=OFF",
              });
  if (opts_.log_bin) args.push_back("--log-bin=binlog");
  if (opts_.relaxed_durability) {
    args.insert(args.end(), {"--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0"});
  }
  if (opts_.tls) {
    args.insert(args.end(),
                {"--ssl-ca=" + ca_path_, "--ssl-cert=" + cert_path_, "--ssl-key=" + key_path_});
  }
  if (opts_.skip_ssl) args.push_back("--skip-ssl");
  args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  return args;
}

Status MariadbServer::LaunchOnFreePort() {
  std::vector<std::string> addresses = {"127.0.0.1"};
  if (opts_.tls) addresses.push_back("127.0.0.2");
  Status last;
  for (int attempt = 0; attempt < kMaxPortAttempts; ++attempt) {
    ASSIGN_OR_RETURN(port_, PickFreePort(addresses));
    bool port_taken = false;
    last = Launch(&port_taken);
    if (last.ok() || !port_taken) return last;
  }
  return last.WithContext(fmt::format("{} attempts on different ports", kMaxPortAttempts));
}

Status MariadbServer::Launch(bool* port_taken) {
  *port_taken = false;
  uint64_t log_offset = FileSize(error_log_);
  uint64_t output_offset = FileSize(output_log_);
  auto failure = [&](std::string_view what) {
    std::string log = TailOfFile(error_log_, log_offset);
    std::string output = TailOfFile(output_log_, output_offset);
    *port_taken = log.find("Address already in use") != std::string::npos;
    return Status::Error(StatusCode::kIoError,
                         "{}: mariadbd {}\ncommand: {}\nerror log ({}):\n{}{}", Describe(), what,
                         JoinArgv(CommandLine()), error_log_, log.empty() ? "(empty)" : log,
                         output.empty() ? "" : "\nstdout/stderr:\n" + output);
  };

  auto began = steady_clock::now();
  ASSIGN_OR_RETURN(pid_t pid, SpawnProcess(CommandLine(), output_log_));
  pid_ = pid;
  for (;;) {
    ASSIGN_OR_RETURN(std::optional<int> exited, WaitForExit(pid, milliseconds(0)));
    if (exited) {
      pid_ = -1;
      return failure(fmt::format("{} during startup", DescribeWaitStatus(*exited)));
    }
    // Readiness is a real login over TCP: the port is bound and the grant
    // tables are loaded.
    MYSQL* probe = mysql_init(nullptr);
    unsigned connect_timeout = 2;
    my_bool no_verify = 0;
    mysql_optionsv(probe, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_optionsv(probe, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no_verify);
    bool ready =
        mysql_real_connect(probe, "127.0.0.1", "root", "", nullptr, port_, nullptr, 0) != nullptr;
    mysql_close(probe);
    if (ready) break;
    if (steady_clock::now() - began > kStartTimeout) {
      ASSIGN_OR_RETURN(int status, StopProcess(pid, SIGKILL, milliseconds(0)));
      (void)status;
      pid_ = -1;
      return failure(fmt::format("did not accept connections on port {} within {} s", port_,
                                 kStartTimeout.count()));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  last_start_duration_ = std::chrono::duration_cast<milliseconds>(steady_clock::now() - began);
  return Status::Ok();
}

Status MariadbServer::Stop(milliseconds grace) {
  {
    // Close the admin session first so the server does not wait for it.
    std::lock_guard lock(session_mu_);
    session_.reset();
  }
  pid_t pid = pid_;
  if (pid <= 0) return Status::Ok();
  uint64_t log_offset = FileSize(error_log_);
  bool killed = false;
  Result<int> status = StopProcess(pid, SIGTERM, grace, &killed);
  pid_ = -1;
  if (!status.ok()) return status.status().WithContext(fmt::format("stop {}", Describe()));
  if (killed || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return Status::Error(
        StatusCode::kIoError, "stop {}: mariadbd {}; error log ({}):\n{}", Describe(),
        killed ? fmt::format("ignored SIGTERM for {} ms and was killed", grace.count())
               : DescribeWaitStatus(*status),
        error_log_, TailOfFile(error_log_, log_offset));
  }
  return Status::Ok();
}

void MariadbServer::RemoveDir() {
  if (dir_removed_) return;
  dir_removed_ = true;
  if (const char* keep = std::getenv("SLUICE_KEEP_TEST_DIRS"); keep && *keep && *keep != '0') {
    Status marked = WriteFile(dir_ + "/keep", "");  // the sweep leaves it alone
    (void)marked;
    fmt::print(stderr, "[harness] kept {}\n", dir_);
    return;
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) fmt::print(stderr, "[harness] remove \"{}\": {}\n", dir_, ec.message());
}

Status MariadbServer::Restart() {
  RETURN_IF_ERROR(Stop(kStopGrace).WithContext("restart"));
  // The same port: clients under test reconnect to the address they had. Our
  // ports lie outside the ephemeral range and mariadbd sets SO_REUSEADDR, so
  // the port is normally still free; a short retry covers the odd collision.
  Status launched;
  for (int attempt = 0; attempt < 10; ++attempt) {
    bool port_taken = false;
    launched = Launch(&port_taken);
    if (launched.ok() || !port_taken) break;
    std::this_thread::sleep_for(milliseconds(500));
  }
  return launched.WithContext("restart");
}

Status MariadbServer::Crash() {
  pid_t pid = pid_;
  if (pid <= 0) {
    return Status::Error(StatusCode::kInvalidArgument, "crash {}: the server is not running",
                         Describe());
  }
  ASSIGN_OR_RETURN(int status, StopProcess(pid, SIGKILL, seconds(10)));
  (void)status;
  pid_ = -1;
  std::lock_guard lock(session_mu_);
  session_.reset();
  return Status::Ok();
}

std::string MariadbServer::Url(std::string_view user, std::string_view password) const {
  if (password.empty()) return fmt::format("mysql://{}@127.0.0.1:{}", PercentEncode(user), port_);
  return fmt::format("mysql://{}:{}@127.0.0.1:{}", PercentEncode(user), PercentEncode(password),
                     port_);
}

std::string MariadbServer::Describe() const {
  return fmt::format("mariadb server 127.0.0.1:{} ({})", port_, dir_);
}

Result<st_mysql*> MariadbServer::Session() {
  if (session_) return session_.get();
  if (pid_ <= 0) {
    return Status::Error(StatusCode::kIoError, "{}: not running (crashed or stopped)", Describe());
  }
  MysqlPtr mysql(mysql_init(nullptr));
  if (!mysql) return Status::Error(StatusCode::kIoError, "mysql_init: out of memory");
  unsigned connect_timeout = 10;
  unsigned protocol = MYSQL_PROTOCOL_SOCKET;
  my_bool no_verify = 0;  // Connector/C 3.4 would otherwise verify TLS by default
  mysql_optionsv(mysql.get(), MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_optionsv(mysql.get(), MYSQL_OPT_PROTOCOL, &protocol);
  mysql_optionsv(mysql.get(), MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_optionsv(mysql.get(), MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no_verify);
  if (!mysql_real_connect(mysql.get(), "localhost", "root", "", nullptr, 0, socket_path_.c_str(),
                          CLIENT_MULTI_STATEMENTS)) {
    return Status::Retryable(StatusCode::kIoError, "{}: connect as root over {}: {}", Describe(),
                             socket_path_, mysql_error(mysql.get()));
  }
  session_ = std::move(mysql);
  return session_.get();
}

Status MariadbServer::Run(std::string_view sql, Rows* rows, unsigned* server_errno) {
  if (server_errno) *server_errno = 0;
  std::lock_guard lock(session_mu_);
  ASSIGN_OR_RETURN(MYSQL * mysql, Session());
  int statement = 1;
  auto failure = [&] {
    unsigned err = mysql_errno(mysql);
    if (server_errno) *server_errno = err;
    std::string where = statement > 1 ? fmt::format(" (statement {})", statement) : "";
    std::string message = fmt::format("{}: \"{}\"{}: ERROR {} ({}): {}", Describe(), Snippet(sql),
                                      where, err, mysql_sqlstate(mysql), mysql_error(mysql));
    // 2000-2999 are client errors: the connection is gone or unusable; the
    // next call opens a new one.
    if (err >= 2000 && err < 3000) {
      session_.reset();
      return Status::Retryable(StatusCode::kIoError, "{}", message);
    }
    return Status::Error(StatusCode::kServerError, "{}", message);
  };

  if (mysql_real_query(mysql, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    return failure();
  }
  bool have_rows = false;
  for (;;) {
    MYSQL_RES* result = mysql_store_result(mysql);
    if (result) {
      if (rows && !have_rows) {
        have_rows = true;
        unsigned columns = mysql_num_fields(result);
        while (MYSQL_ROW row = mysql_fetch_row(result)) {
          unsigned long* lengths = mysql_fetch_lengths(result);
          Row& out = rows->emplace_back();
          out.reserve(columns);
          for (unsigned i = 0; i < columns; ++i) {
            if (row[i]) {
              out.emplace_back(std::string(row[i], lengths[i]));
            } else {
              out.emplace_back(std::nullopt);
            }
          }
        }
      }
      mysql_free_result(result);
    } else if (mysql_field_count(mysql) != 0) {
      return failure();  // a result set was due but could not be read
    }
    int next = mysql_next_result(mysql);
    if (next < 0) break;
    ++statement;
    if (next > 0) return failure();
  }
  return Status::Ok();
}

Status MariadbServer::Execute(std::string_view sql) { return Run(sql, nullptr); }

Result<MariadbServer::Rows> MariadbServer::Query(std::string_view sql) {
  Rows rows;
  RETURN_IF_ERROR(Run(sql, &rows));
  return rows;
}

Result<std::string> MariadbServer::QueryValue(std::string_view sql) {
  ASSIGN_OR_RETURN(Rows rows, Query(sql));
  if (rows.empty() || rows[0].empty()) {
    return Status::Error(StatusCode::kNotFound, "{}: \"{}\" returned no rows", Describe(),
                         Snippet(sql));
  }
  if (!rows[0][0]) {
    return Status::Error(StatusCode::kNotFound, "{}: \"{}\" returned NULL", Describe(),
                         Snippet(sql));
  }
  return std::move(*rows[0][0]);
}

Status MariadbServer::CreateUser(std::string_view user, std::string_view password,
                                 std::string_view grants) {
  if (user.empty()) return Status::Invalid("CreateUser: empty user name");
  std::string sql;
  {
    // mysql_real_escape_string follows the session's NO_BACKSLASH_ESCAPES.
    std::lock_guard lock(session_mu_);
    ASSIGN_OR_RETURN(MYSQL * mysql, Session());
    auto quote = [mysql](std::string_view text) {
      std::string out(text.size() * 2 + 1, '\0');
      unsigned long n = mysql_real_escape_string(mysql, out.data(), text.data(),
                                                 static_cast<unsigned long>(text.size()));
      out.resize(n);
      return "'" + out + "'";
    };
    for (std::string_view host : {"%", "localhost"}) {
      std::string account = quote(user) + "@" + quote(host);
      // OR REPLACE: a test that calls this twice gets the password and grants
      // it asked for, not those of an earlier call.
      sql += fmt::format("CREATE OR REPLACE USER {} IDENTIFIED BY {};\nGRANT {} TO {};\n", account,
                         quote(password), grants, account);
    }
  }
  return Execute(sql).WithContext(fmt::format("create user \"{}\"", user));
}

Status MariadbServer::KillBinlogDumpThreads() {
  auto deadline = steady_clock::now() + seconds(5);
  for (;;) {
    ASSIGN_OR_RETURN(
        Rows rows,
        Query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'"));
    int killed = 0;
    for (const Row& row : rows) {
      if (row.empty() || !row[0]) continue;
      unsigned err = 0;
      Status st = Run("KILL " + *row[0], nullptr, &err);
      if (st.ok()) {
        ++killed;
      } else if (err != kErNoSuchThread) {  // it ended by itself in between
        return st;
      }
    }
    if (killed > 0) return Status::Ok();
    if (steady_clock::now() >= deadline) {
      return Status::Error(StatusCode::kNotFound,
                           "{}: no connection with COMMAND 'Binlog Dump' appeared within 5 s",
                           Describe());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace sluice::testing
