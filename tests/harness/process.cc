#include "harness/process.h"

#include <fcntl.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

extern char** environ;

namespace sluice::testing {
namespace {

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Everything the child needs, prepared before fork(): between fork() and
// exec() in a multi-threaded process only async-signal-safe calls are allowed,
// so no allocation, no PATH search, no formatting happens there.
struct ExecPlan {
  std::string path;
  std::vector<std::string> argv;
  std::vector<char*> argv_ptrs;
  int stdin_fd = -1;
  int output_fd = -1;
};

// Child side of ForkExec. Never returns.
[[noreturn]] void ExecChild(const ExecPlan& plan, pid_t parent, int error_pipe) {
  // Die with the test process. If it already died between fork() and here,
  // nobody would deliver the signal, hence the getppid() check.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  ::setpgid(0, 0);

  // Signals ignored by the test process stay ignored across exec(); a server
  // that ignores SIGTERM could not be stopped. Blocked signals likewise.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  int err = 0;
  if (::dup2(plan.stdin_fd, STDIN_FILENO) < 0 || ::dup2(plan.output_fd, STDOUT_FILENO) < 0 ||
      ::dup2(plan.output_fd, STDERR_FILENO) < 0) {
    err = errno;
  } else {
    // Keep only 0-2 and the close-on-exec error pipe.
    if (error_pipe > 3) ::close_range(3, static_cast<unsigned>(error_pipe) - 1, 0);
    ::close_range(static_cast<unsigned>(error_pipe) + 1, ~0U, 0);
    ::execve(plan.path.c_str(), plan.argv_ptrs.data(), environ);
    err = errno;
  }
  ssize_t ignored = ::write(error_pipe, &err, sizeof err);
  (void)ignored;
  ::_exit(127);
}

Result<pid_t> ForkExec(const ExecPlan& plan) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status::Error(StatusCode::kIoError, "spawn {}: pipe: {}", plan.path,
                         std::strerror(errno));
  }
  Fd read_end(pipe_fds[0]);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[1]);
    return Status::Error(StatusCode::kIoError, "spawn {}: fork: {}", plan.path,
                         std::strerror(errno));
  }
  if (pid == 0) ExecChild(plan, parent, pipe_fds[1]);
  ::close(pipe_fds[1]);

  // The pipe closes on a successful exec (close-on-exec) or carries errno.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(read_end.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status;
    ::waitpid(pid, &status, 0);
    return Status::Error(StatusCode::kIoError, "spawn {}: exec: {}", plan.path,
                         std::strerror(child_errno));
  }
  return pid;
}

// The one thread that forks every child (see process.h for why). It is never
// destroyed: it must outlive every child, and a detached thread blocked on a
// condition variable costs nothing at exit.
class Spawner {
 public:
  static Spawner& Get() {
    static Spawner* spawner = new Spawner();
    return *spawner;
  }

  Result<pid_t> Spawn(const ExecPlan& plan) {
    std::packaged_task<Result<pid_t>()> task([&plan] { return ForkExec(plan); });
    std::future<Result<pid_t>> done = task.get_future();
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return done.get();
  }

 private:
  Spawner() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    // Process-directed signals (SIGINT, SIGTERM) go to other threads.
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
    for (;;) {
      std::packaged_task<Result<pid_t>()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<Result<pid_t>()>> tasks_;
};

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<std::string> FindExecutable(const std::string& name,
                                   const std::vector<std::string>& extra_dirs) {
  if (name.find('/') != std::string::npos) {
    if (IsExecutableFile(name)) return name;
    return Status::Error(StatusCode::kNotFound, "executable \"{}\" not found", name);
  }
  std::vector<std::string> dirs;
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    dirs.push_back(end == start ? "." : path.substr(start, end - start));
    start = end + 1;
  }
  dirs.insert(dirs.end(), extra_dirs.begin(), extra_dirs.end());
  for (const std::string& dir : dirs) {
    std::string candidate = dir + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
  }
  return Status::Error(StatusCode::kNotFound,
                       "executable \"{}\" not found in PATH or {} (is the package installed? see "
                       "scripts/install-deps.sh)",
                       name, fmt::join(extra_dirs, ", "));
}

Result<pid_t> SpawnProcess(const std::vector<std::string>& argv, const std::string& output_path) {
  if (argv.empty()) return Status::Invalid("spawn: empty command line");
  ExecPlan plan;
  ASSIGN_OR_RETURN(plan.path, FindExecutable(argv[0]));
  plan.argv = argv;
  for (std::string& arg : plan.argv) plan.argv_ptrs.push_back(arg.data());
  plan.argv_ptrs.push_back(nullptr);

  Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.get() < 0) {
    return Status::Error(StatusCode::kIoError, "spawn {}: open /dev/null: {}", argv[0],
                         std::strerror(errno));
  }
  Fd output(::open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (output.get() < 0) {
    return Status::Error(StatusCode::kIoError, "spawn {}: open output file \"{}\": {}", argv[0],
                         output_path, std::strerror(errno));
  }
  plan.stdin_fd = devnull.get();
  plan.output_fd = output.get();
  return Spawner::Get().Spawn(plan);
}

Result<std::optional<int>> WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  // Polling rather than a blocking waitpid() keeps the timeout simple and
  // needs no SIGCHLD handler, which would interfere with other code.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return std::optional<int>(status);
    if (r < 0 && errno != EINTR) {
      return Status::Error(StatusCode::kIoError, "waitpid {}: {}", pid, std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::optional<int>();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<int> StopProcess(pid_t pid, int signal, std::chrono::milliseconds grace, bool* killed) {
  if (killed) *killed = false;
  if (::kill(pid, signal) != 0 && errno != ESRCH) {
    return Status::Error(StatusCode::kIoError, "kill -{} {}: {}", signal, pid,
                         std::strerror(errno));
  }
  ASSIGN_OR_RETURN(std::optional<int> status, WaitForExit(pid, grace));
  if (status) return *status;
  if (killed) *killed = true;
  ::kill(pid, SIGKILL);
  ASSIGN_OR_RETURN(status, WaitForExit(pid, std::chrono::seconds(10)));
  if (status) return *status;
  return Status::Error(StatusCode::kIoError, "process {} survived SIGKILL for 10 s", pid);
}

Status RunCommand(const std::vector<std::string>& argv, const std::string& output_path,
                  std::chrono::milliseconds timeout) {
  uint64_t offset = FileSize(output_path);
  auto fail = [&](std::string_view why) {
    return Status::Error(StatusCode::kIoError, "command `{}` {}; output ({}):\n{}", JoinArgv(argv),
                         why, output_path, TailOfFile(output_path, offset));
  };
  ASSIGN_OR_RETURN(pid_t pid, SpawnProcess(argv, output_path));
  ASSIGN_OR_RETURN(std::optional<int> status, WaitForExit(pid, timeout));
  if (!status) {
    ASSIGN_OR_RETURN(int ignored, StopProcess(pid, SIGKILL, std::chrono::seconds(0)));
    (void)ignored;
    return fail(fmt::format("did not finish within {} ms and was killed", timeout.count()));
  }
  if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) return Status::Ok();
  return fail(DescribeWaitStatus(*status));
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return fmt::format("exited with status {}", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* name = ::strsignal(sig);
    return fmt::format("was killed by signal {} ({})", sig, name ? name : "?");
  }
  return fmt::format("ended with wait status {:#x}", wait_status);
}

std::string TailOfFile(const std::string& path, uint64_t from_offset, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  auto size = static_cast<uint64_t>(in.tellg());
  if (from_offset > size) from_offset = 0;  // the file was truncated or replaced
  uint64_t start = std::max<uint64_t>(from_offset, size > max_bytes ? size - max_bytes : 0);
  in.seekg(static_cast<std::streamoff>(start));
  std::string text(size - start, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (start > from_offset) {
    // Drop the partial first line.
    size_t nl = text.find('\n');
    if (nl != std::string::npos) text.erase(0, nl + 1);
    text.insert(0, "...\n");
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    if (plain) {
      out += arg;
    } else {
      out += '\'';
      for (char c : arg) {
        if (c == '\'') {
          out += "'\\''";
        } else {
          out += c;
        }
      }
      out += '\'';
    }
  }
  return out;
}

}  // namespace sluice::testing
