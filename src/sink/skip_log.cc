#include "sink/skip_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/json_writer.h"

namespace sluice::sink {

std::string GoneFromTargetAdvice(std::string_view pipeline, bool column) {
  if (column) {
    return fmt::format("a column sluice writes is not in the target table (dropped or renamed there?); not a row to "
                       "skip, so the target stops whatever on_error says. Add the column back, start the pipeline "
                       "and run sluice check --pipeline {} --repair, or leave the column out with the rule's "
                       "columns:", pipeline);
  }
  return fmt::format("the table is not on the target (dropped or renamed there?); not a row to skip, so the target "
                     "stops whatever on_error says. To copy it again: sluice snapshot --pipeline {} (it creates the "
                     "table and copies its rows), then start the pipeline; to stop syncing it, change the rules",
                     pipeline);
}

std::string SkipRecord(std::string_view pipeline, std::string_view target, const SinkChange& ch,
                       std::string_view key, std::string_view error) {
  std::string line = "{\"pipeline\":";
  AppendJsonString(line, pipeline);
  line += ",\"target\":";
  AppendJsonString(line, target);
  line += ",\"table\":";
  AppendJsonString(line, ch.table->db + "." + ch.table->table);
  line += ",\"key\":";
  AppendJsonString(line, key);
  line += ",\"pos\":";
  AppendJsonString(line, ch.pos.ToString());
  line += ",\"error\":";
  AppendJsonString(line, error);
  line += ",\"values\":{";
  for (size_t i = 0; i < ch.values.size(); ++i) {
    if (i) line += ',';
    AppendJsonString(line, ch.table->columns[i]);
    line += ':';
    AppendJsonValue(line, ch.values[i]);
  }
  line += "}}\n";
  return line;
}

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
