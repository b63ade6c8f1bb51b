#include "source/mysql/binlog_file_source.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "source/mysql/binlog/event_types.h"
#include "source/mysql/prepared_xa_finder.h"

namespace sluice::mysql {
namespace {

constexpr uint8_t kBinlogMagic[4] = {0xfe, 0x62, 0x69, 0x6e};  // "\xfebin"
constexpr uint32_t kMaxEventSize = 1u << 30;                   // max_allowed_packet's ceiling

class GzFile {
 public:
  ~GzFile() {
    if (f_) gzclose(f_);
  }
  Status Open(const std::string& path) {
    f_ = gzopen(path.c_str(), "rb");
    if (!f_) return Status::Error(StatusCode::kIoError, "cannot open binlog file {}: {}", path, std::strerror(errno));
    gzbuffer(f_, 256 * 1024);
    return Status::Ok();
  }
  // Reads exactly n bytes; returns the count actually read (short at EOF), -1 on error.
  int64_t Read(void* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      int r = gzread(f_, static_cast<char*>(dst) + got, static_cast<unsigned>(n - got));
      if (r < 0) return -1;
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return static_cast<int64_t>(got);
  }
  bool Seek(uint64_t offset) { return gzseek(f_, static_cast<z_off_t>(offset), SEEK_SET) == static_cast<z_off_t>(offset); }
  std::string Error() {
    int errnum = 0;
    const char* msg = gzerror(f_, &errnum);
    return errnum == Z_ERRNO ? std::strerror(errno) : msg;
  }

 private:
  gzFile f_ = nullptr;
};

}  // namespace

namespace {

BinlogDecoder::Options WithXaFinder(BinlogDecoder::Options o, std::unique_ptr<PreparedXaFinder>& finder,
                                    const std::string& path) {
  if (o.decode_rows && !o.xa_finder) {
    finder = std::make_unique<FilePreparedXaFinder>(std::filesystem::path(path).parent_path().string());
    o.xa_finder = finder.get();
  }
  return o;
}

}  // namespace

BinlogFileSource::BinlogFileSource(Options options)
    : options_(std::move(options)), decoder_(WithXaFinder(options_.decoder, xa_finder_, options_.path)) {}

Status BinlogFileSource::Run(ChangeHandler& handler, const std::atomic<bool>& stop) {
  std::string path = options_.path;
  uint64_t start = options_.start_offset;
  while (true) {
    std::string next;
    RETURN_IF_ERROR(ReadFile(path, start, handler, stop, &next));
    if (stop.load(std::memory_order_relaxed)) return Status::Ok();
    if (next.empty() || !options_.follow_rotate) return Status::EndOfStream();
    std::filesystem::path candidate = std::filesystem::path(path).parent_path() / next;
    if (!std::filesystem::exists(candidate)) return Status::EndOfStream();
    path = candidate.string();
    start = 0;
  }
}

Status BinlogFileSource::ReadFile(const std::string& path, uint64_t start_offset, ChangeHandler& handler,
                                  const std::atomic<bool>& stop, std::string* next_file) {
  GzFile f;
  RETURN_IF_ERROR(f.Open(path));
  uint8_t magic[4];
  if (f.Read(magic, 4) != 4 || std::memcmp(magic, kBinlogMagic, 4) != 0) {
    return Status::Corruption("{} is not a binlog file: it does not start with the binlog magic bytes fe 62 69 6e",
                              path);
  }
  std::string name = std::filesystem::path(path).filename().string();
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  decoder_.SetFile(name);

  std::string event;
  uint64_t offset = 4;
  bool seeked = start_offset <= 4;
  std::string rotated_to;
  while (!stop.load(std::memory_order_relaxed)) {
    if (options_.end_offset != 0 && seeked && offset >= options_.end_offset) break;
    uint8_t header[kEventHeaderSize];
    int64_t n = f.Read(header, sizeof header);
    if (n == 0) break;
    if (n < 0) return Status::Error(StatusCode::kIoError, "read {} at offset {}: {}", path, offset, f.Error());
    if (n < static_cast<int64_t>(sizeof header)) {
      return Status::Corruption("{}: truncated event header at offset {} ({} of 19 bytes)", path, offset, n);
    }
    ByteReader hr(header, sizeof header);
    EventHeader h = EventHeader::Read(hr);
    if (h.event_size < kEventHeaderSize || h.event_size > kMaxEventSize) {
      return Status::Corruption("{}: invalid event size {} at offset {} (type {}): the file is damaged", path,
                                h.event_size, offset, h.type);
    }
    event.resize(h.event_size);
    std::memcpy(event.data(), header, sizeof header);
    int64_t body = f.Read(event.data() + sizeof header, h.event_size - sizeof header);
    if (body < 0) return Status::Error(StatusCode::kIoError, "read {} at offset {}: {}", path, offset, f.Error());
    if (static_cast<uint64_t>(body) != h.event_size - sizeof header) {
      return Status::Corruption("{}: truncated {} event at offset {}: {} of {} bytes", path, EventTypeName(h.type),
                                offset, body + sizeof header, h.event_size);
    }
    if (h.type == kRotateEvent && !(h.flags & kLogEventArtificialFlag)) {
      ByteReader rb(event);
      rb.Skip(kEventHeaderSize + 8);
      if (decoder_.format().checksum == ChecksumAlg::kCrc32) rb.TrimEnd(kChecksumSize);
      rotated_to = std::string(rb.Rest());
    }
    Status st = decoder_.Feed(event, handler, offset);
    if (!st.ok()) return st.code() == StatusCode::kCorruption ? st.WithContext(path) : st;
    offset += h.event_size;
    if (!seeked && h.type == kFormatDescriptionEvent) {
      // The FDE at offset 4 says how to read the rest; then jump to the start.
      if (!f.Seek(start_offset)) {
        return Status::Invalid("{}: cannot seek to start offset {}", path, start_offset);
      }
      offset = start_offset;
      seeked = true;
    }
    if (h.type == kRotateEvent && !rotated_to.empty()) break;
    if (h.type == kStopEvent) break;
  }
  *next_file = rotated_to;
  return Status::Ok();
}

}  // namespace sluice::mysql
