#include "sink/file/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "format/format_util.h"

namespace sluice::sink::file {
namespace {

constexpr std::string_view kSidecarHeader = "sluice file sink position v1";

Status IoError(std::string_view what, const std::string& path) {
  return Status::Error(StatusCode::kIoError, "{} {}: {}", what, path, std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t w = ::write(fd, data.data(), data.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      // A full disk may clear up; the batch is redone after Reconnect.
      if (errno == ENOSPC || errno == EDQUOT) {
        return Status::Retryable(StatusCode::kIoError, "write {}: {}", path, std::strerror(errno));
      }
      return IoError("write", path);
    }
    data.remove_prefix(static_cast<size_t>(w));
  }
  return Status::Ok();
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status SyncDir(const std::string& path) {
  std::string dir = DirOf(path);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return IoError("fsync directory", dir);
  return Status::Ok();
}

bool Exists(const std::string& path, uint64_t* size = nullptr) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  if (size) *size = static_cast<uint64_t>(st.st_size);
  return true;
}

// The last change of its transaction within what the sink knows: the next
// change belongs to another transaction, or the batch ends at this one's end.
bool LastInTransaction(const std::vector<SinkChange>& changes, size_t i, const BatchEnd& end) {
  const StreamPos& p = changes[i].pos;
  auto same_txn = [&](const StreamPos& q) { return q.file == p.file && q.txn_offset == p.txn_offset; };
  if (i + 1 < changes.size()) return !same_txn(changes[i + 1].pos);
  return same_txn(end.pos) && end.pos.index == StreamPos::kWholeTransaction;
}

}  // namespace

FileSink::FileSink(const SinkOptions& options, std::unique_ptr<format::Encoder> encoder)
    : options_(options),
      path_(options.url.path),
      sidecar_(options.url.path + ".sluice-pos"),
      encoder_(std::move(encoder)) {}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<FileSink>> FileSink::Open(const SinkOptions& options) {
  if (options.url.path.empty() || options.url.path.back() == '/') {
    return Status::Invalid("target {}: file:// needs a file path, got \"{}\"", options.target, options.url.path);
  }
  format::EncoderOptions eo;
  eo.format = options.format;
  eo.schemas = options.schemas;
  eo.tombstones = false;  // a file has no use for null values
  eo.debezium_profile = options.debezium_profile;
  eo.server_name = options.pipeline.empty() ? "sluice" : options.pipeline;
  ASSIGN_OR_RETURN(auto encoder, format::MakeEncoder(eo));
  std::unique_ptr<FileSink> sink(new FileSink(options, std::move(encoder)));
  std::string holder;
  auto lock = FileLock::Take(sink->path_ + ".sluice-lock", &holder);
  if (!lock.ok() && lock.status().code() == StatusCode::kAborted) {
    return Status::Retryable(StatusCode::kAborted,
                             "{}: another sluice process or pipeline ({}) writes this file; this one waits for it to "
                             "stop, then goes on from where it got to (two would write every change twice)",
                             sink->Where(), holder.empty() ? "pid unknown" : "pid " + holder);
  }
  if (!lock.ok()) return Status::Error(lock.status().code(), "{}: {}", sink->Where(), lock.status().message());
  sink->writer_lock_ = std::move(*lock);
  RETURN_IF_ERROR(sink->Recover());
  return sink;
}

std::string FileSink::Where() const { return fmt::format("target {}: file {}", options_.target, path_); }

std::string FileSink::RotatedName(uint64_t seq) const { return fmt::format("{}.{:06}", path_, seq); }

Status FileSink::Recover() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  checkpoint_ = Checkpoint();
  length_ = 0;
  rotations_ = 0;
  bool have_sidecar = false;
  {
    std::ifstream in(sidecar_);
    if (in) {
      std::string line;
      if (!std::getline(in, line) || line != kSidecarHeader) {
        return Status::Corruption("{}: {} is not a sluice position file", Where(), sidecar_);
      }
      have_sidecar = true;
      while (std::getline(in, line)) {
        size_t sp = line.find(' ');
        std::string key = line.substr(0, sp);
        std::string value = sp == std::string::npos ? "" : line.substr(sp + 1);
        if (key == "length") {
          length_ = std::stoull(value);
        } else if (key == "rotations") {
          rotations_ = std::stoull(value);
        } else if (key == "pos" && !value.empty()) {
          if (!StreamPos::Parse(value, &checkpoint_.global)) {
            return Status::Corruption("{}: bad position \"{}\" in {}", Where(), value, sidecar_);
          }
        } else if (key == "resume") {
          checkpoint_.resume_position = value;
        } else if (key == "gtid") {
          checkpoint_.gtid_state = value;
        }
      }
    }
  }
  uint64_t size = 0;
  (void)Exists(path_, &size);
  if (have_sidecar && Exists(RotatedName(rotations_ + 1))) {
    // A rotation renamed the file but did not record it: finish it. A new
    // file it may have created holds nothing yet (data follows the record).
    ++rotations_;
    length_ = 0;
  } else if (have_sidecar && size == 0 && length_ > 0) {
    // Moved away or emptied by something else while sluice was stopped (a
    // log rotation): what was recorded went with it; the rest follows here.
    spdlog::warn("{}: {} (its {} recorded bytes went with it); going on in a new file from the recorded position",
                 Where(), Exists(path_) ? "emptied by something else" : "moved away or removed by something else",
                 length_);
    length_ = 0;
  } else if (have_sidecar && size < length_) {
    return Status::Corruption("{}: holds {} bytes, but {} were written and recorded (was it truncated?)", Where(), size,
                              length_);
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return IoError("open", path_).WithContext(fmt::format("target {}", options_.target));
  if (!have_sidecar) {
    // A file sluice did not write (or only started to): keep what is there
    // and count from its end.
    length_ = size;
  } else if (size > length_) {
    spdlog::info("{}: dropping {} bytes after the last recorded batch (they are replayed)", Where(), size - length_);
  }
  if (::ftruncate(fd_, static_cast<off_t>(length_)) != 0) return IoError("truncate", path_);
  if (::lseek(fd_, static_cast<off_t>(length_), SEEK_SET) < 0) return IoError("seek", path_);
  if (::fsync(fd_) != 0) return IoError("fsync", path_);
  return WriteSidecar();
}

Status FileSink::WriteSidecar() {
  std::string text = fmt::format("{}\nlength {}\nrotations {}\npos {}\nresume {}\ngtid {}\n", kSidecarHeader, length_,
                                 rotations_, checkpoint_.global.empty() ? "" : checkpoint_.global.ToString(),
                                 checkpoint_.resume_position, checkpoint_.gtid_state);
  std::string tmp = sidecar_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("open", tmp);
  Status st = WriteAll(fd, text, tmp);
  if (st.ok() && ::fsync(fd) != 0) st = IoError("fsync", tmp);
  ::close(fd);
  RETURN_IF_ERROR(st);
  if (::rename(tmp.c_str(), sidecar_.c_str()) != 0) return IoError("rename to", sidecar_);
  return SyncDir(sidecar_);
}

Status FileSink::FollowExternalRotation() {
  struct stat open_file = {};
  struct stat at_path = {};
  if (::fstat(fd_, &open_file) != 0) return IoError("stat", path_).WithContext(Where());
  const bool moved =
      ::stat(path_.c_str(), &at_path) != 0 || at_path.st_ino != open_file.st_ino || at_path.st_dev != open_file.st_dev;
  if (moved) {
    // Renamed or removed (logrotate's create mode): the open file holds
    // every recorded batch; the next ones go to a file at the path again
    // (one a rotation created, or a new one).
    ::close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return IoError("open", path_).WithContext(Where());
    uint64_t size = 0;
    (void)Exists(path_, &size);
    if (::lseek(fd_, static_cast<off_t>(size), SEEK_SET) < 0) return IoError("seek", path_).WithContext(Where());
    spdlog::info(
        "{}: moved away or removed by something else (a log rotation) after {} bytes; going on in {} at the "
        "path",
        Where(), length_, size == 0 ? "a new file" : fmt::format("the file there ({} bytes)", size));
    length_ = size;
  } else if (static_cast<uint64_t>(at_path.st_size) < length_) {
    if (at_path.st_size != 0) {
      return Status::Corruption(
          "{}: holds {} bytes, but {} were written and recorded (truncated by something "
          "else?)",
          Where(), at_path.st_size, length_);
    }
    // Emptied in place (logrotate's copytruncate): go on from its start.
    if (::lseek(fd_, 0, SEEK_SET) < 0) return IoError("seek", path_).WithContext(Where());
    spdlog::info("{}: emptied by something else (a log rotation) after {} bytes; going on from its start", Where(),
                 length_);
    length_ = 0;
  } else {
    return Status::Ok();
  }
  return WriteSidecar().WithContext(Where());
}

Status FileSink::Commit(const std::string& data, const BatchEnd& end) {
  if (fd_ < 0) return Status::Retryable(StatusCode::kIoError, "{}: not open", Where());
  RETURN_IF_ERROR(FollowExternalRotation());
  if (!data.empty()) {
    Status st = WriteAll(fd_, data, path_);
    if (!st.ok()) {
      ::close(fd_);
      fd_ = -1;  // Reconnect truncates the partial write away
      return st.WithContext(Where());
    }
    if (::fdatasync(fd_) != 0) return IoError("fsync", path_).WithContext(Where());
    length_ += data.size();
  }
  if (data.empty() && !checkpoint_.global.empty() && end.pos <= checkpoint_.global &&
      (end.resume_position.empty() || end.resume_position == checkpoint_.resume_position)) {
    return Status::Ok();  // nothing new to record (an idle stream's repeated ends): spare the fsyncs
  }
  Checkpoint before = checkpoint_;
  if (checkpoint_.global.empty() || checkpoint_.global < end.pos) checkpoint_.global = end.pos;
  if (!end.resume_position.empty()) checkpoint_.resume_position = end.resume_position;
  if (!end.gtid_state.empty()) checkpoint_.gtid_state = end.gtid_state;
  Status st = WriteSidecar();
  if (!st.ok()) {
    checkpoint_ = before;
    return st.WithContext(Where());
  }
  if (options_.rotate_bytes && length_ >= options_.rotate_bytes) RETURN_IF_ERROR(Rotate().WithContext(Where()));
  return Status::Ok();
}

Status FileSink::Rotate() {
  std::string to = RotatedName(rotations_ + 1);
  if (Exists(to)) return Status::Error(StatusCode::kIoError, "cannot rotate to {}: it exists", to);
  ::close(fd_);
  fd_ = -1;
  if (::rename(path_.c_str(), to.c_str()) != 0) return IoError("rename to", to);
  RETURN_IF_ERROR(SyncDir(path_));
  ++rotations_;
  length_ = 0;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return IoError("open", path_);
  return WriteSidecar();
}

Status FileSink::ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  std::string data;
  std::vector<format::Message> messages;
  std::string position;
  for (size_t i = 0; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    if (!checkpoint_.global.empty() && ch.pos <= checkpoint_.global) continue;  // written before a restart
    messages.clear();
    format::ChangeContext ctx = format::ContextOf(ch, position, LastInTransaction(changes, i, end));
    RETURN_IF_ERROR(encoder_->EncodeChange(ch, ctx, messages).WithContext(Where()));
    for (const format::Message& m : messages) {
      if (!m.value) continue;
      data += *m.value;
      data += '\n';
    }
    ++rows_applied_;
  }
  return Commit(data, end);
}

Status FileSink::AdvanceCheckpoint(const BatchEnd& end) { return Commit(std::string(), end); }

Status FileSink::ResetCheckpoint() {
  checkpoint_.global = StreamPos();
  checkpoint_.resume_position.clear();
  checkpoint_.gtid_state.clear();
  return WriteSidecar().WithContext(Where());
}

Status FileSink::ApplyDdl(const DdlChange& ddl, const BatchEnd& end) {
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();  // written before a restart
  format::DdlEvent ev;
  ev.db = ddl.target_db.empty() ? ddl.db : ddl.target_db;
  ev.table = ddl.target_table;
  ev.query = ddl.query;
  ev.ts_ms = ddl.ts_ms;
  ev.gtid = ddl.gtid;
  std::string position = ddl.pos.TransactionText();
  ev.position = position;
  std::vector<format::Message> messages;
  RETURN_IF_ERROR(encoder_->EncodeDdl(ev, messages).WithContext(Where()));
  std::string data;
  for (const format::Message& m : messages) {
    if (!m.value) continue;
    data += *m.value;
    data += '\n';
  }
  return Commit(data, end);
}

Status FileSink::Reconnect() { return Recover(); }

}  // namespace sluice::sink::file
