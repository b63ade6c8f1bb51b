#pragma once
// FileLock: an exclusive flock(2) on a file, held until the object goes
// (the kernel drops it however the process ends, kill -9 included). The
// file holds the holder's pid, for the message a refused process shows.
// Two opens in one process conflict too (the lock is per open file).
// Movable, not copyable; not thread-safe.

#include <string>

#include "core/status.h"

namespace sluice {

class FileLock {
 public:
  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Creates `path` when missing and locks it. When another open file holds
  // it: kAborted, with `*holder` the pid written there ("" when unknown).
  static Result<FileLock> Take(const std::string& path, std::string* holder);

  bool held() const { return fd_ >= 0; }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace sluice
