#include "sink/skip_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice::sink {

Status AppendDurably(const std::string& path, std::string_view data) {
  auto fail = [&](const char* what) {
    return Status::Error(StatusCode::kIoError, "cannot {} skip log {}: {}", what, path, std::strerror(errno));
  };
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fail("open");
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      Status st = fail("write");
      ::close(fd);
      return st;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) {
    Status st = fail("fsync");
    ::close(fd);
    return st;
  }
  if (::close(fd) != 0) return fail("close");
  return Status::Ok();
}

}  // namespace sluice::sink
