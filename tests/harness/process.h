#pragma once
// Child processes for the test harness: servers (mariadbd, ...) and one-shot
// tools (mariadb-install-db, openssl, cp).
//
// Every child is tied to the life of the test process: it gets
// PR_SET_PDEATHSIG=SIGKILL, so a test binary that crashes, aborts or is
// killed by a ctest timeout never leaves a server behind. The kernel sends
// that signal when the *thread* that forked the child exits, not the process,
// so all forks happen on one internal thread that lives as long as the process
// (a server started from a short-lived test thread would otherwise die with
// it).
//
// Children run in their own process group (a Ctrl-C at the terminal goes to
// the test binary alone, not to a server in the middle of a test), with stdin from
// /dev/null, stdout and stderr appended to a file, default signal dispositions
// and no inherited descriptors beyond 0-2 (an inherited client socket would
// keep a connection open after the test closed it).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::testing {

// Finds an executable by name in $PATH, then in the given extra directories
// (mariadbd lives in /usr/sbin, which is not in every user's PATH).
Result<std::string> FindExecutable(const std::string& name,
                                   const std::vector<std::string>& extra_dirs = {});

// Starts argv (argv[0] resolved with FindExecutable unless it contains a '/')
// with stdout and stderr appended to output_path. Returns once the child has
// exec'd; an exec failure is returned as an error, not as an exit status.
Result<pid_t> SpawnProcess(const std::vector<std::string>& argv, const std::string& output_path);

// Waits up to `timeout` for the child `pid` to exit and reaps it. Returns its
// wait status (as from waitpid) or nullopt if it is still running.
Result<std::optional<int>> WaitForExit(pid_t pid, std::chrono::milliseconds timeout);

// Sends `signal`, waits up to `grace`, then SIGKILLs and reaps. Returns the
// wait status; `*killed` (if given) says whether SIGKILL was needed.
Result<int> StopProcess(pid_t pid, int signal, std::chrono::milliseconds grace,
                        bool* killed = nullptr);

// Runs a command to completion. Fails, quoting the tail of its output, when it
// cannot start, exits non-zero, dies on a signal or outlives `timeout`.
Status RunCommand(const std::vector<std::string>& argv, const std::string& output_path,
                  std::chrono::milliseconds timeout = std::chrono::minutes(2));

// "exited with status 1", "killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int wait_status);

// The last `max_bytes` of a file from byte `from_offset` on, starting at a
// line boundary; "" if it cannot be read. For error messages.
std::string TailOfFile(const std::string& path, uint64_t from_offset = 0, size_t max_bytes = 3000);

// Size of a file, 0 if it does not exist.
uint64_t FileSize(const std::string& path);

// Shell-like rendering of argv for error messages.
std::string JoinArgv(const std::vector<std::string>& argv);

}  // namespace sluice::testing
