#include "core/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace sluice {

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Result<FileLock> FileLock::Take(const std::string& path, std::string* holder) {
  holder->clear();
  // O_CLOEXEC: a child process must not inherit (and so prolong) the lock.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error(StatusCode::kIoError, "cannot open lock file {}: {}", path, std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) holder->assign(buf, static_cast<size_t>(n));
    while (!holder->empty() && (holder->back() == '\n' || holder->back() == ' ')) holder->pop_back();
    ::close(fd);
    if (err == EWOULDBLOCK) return Status::Error(StatusCode::kAborted, "{} is locked by another holder", path);
    return Status::Error(StatusCode::kIoError, "cannot lock {}: {}", path, std::strerror(err));
  }
  // The pid is only for messages: the lock is the flock, not the text.
  const std::string pid = std::to_string(::getpid()) + "\n";
  bool wrote = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size());
  (void)wrote;  // harmless when not: the lock holds, only a later refusal's message lacks the pid
  return FileLock(fd);
}

}  // namespace sluice
