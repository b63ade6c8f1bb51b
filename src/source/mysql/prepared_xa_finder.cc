#include "source/mysql/prepared_xa_finder.h"

#include <algorithm>
#include <atomic>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "source/mysql/binlog_file_source.h"
#include "source/mysql/binlog_scan.h"

namespace sluice::mysql {
namespace {

// The numeric suffix of "binlog.000012" (or "binlog.000012.gz"); -1 if none.
int64_t FileSequence(std::string name) {
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot + 1 == name.size()) return -1;
  int64_t seq = 0;
  for (size_t i = dot + 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    seq = seq * 10 + (name[i] - '0');
  }
  return seq;
}

std::string FileStem(std::string name) {
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

Status NotFound(const XidKey& xid, const BinlogFilePos& before, std::string_view where) {
  return Status::Error(StatusCode::kNotFound,
                       "xid {} is not prepared in {} before {} (purged?): its rows cannot be read again; re-snapshot "
                       "the tables the transaction wrote",
                       xid, where, before.ToString());
}

}  // namespace

Result<PreparedXa> ServerPreparedXaFinder::Find(const XidKey& xid, const BinlogFilePos& before,
                                                const BinlogFilePos* hint) {
  std::vector<BinlogFilePos> scans;
  if (hint) {
    scans.push_back(*hint);
  } else {
    ASSIGN_OR_RETURN(std::vector<std::string> files, ServerBinlogFiles(connect_));
    auto last = std::find(files.begin(), files.end(), before.file);
    if (last == files.end()) return NotFound(xid, before, connect_.Describe());
    for (auto it = std::make_reverse_iterator(last + 1); it != files.rend(); ++it) scans.push_back({*it, 4});
  }
  for (const BinlogFilePos& from : scans) {
    BinlogDecoder decoder(ScanDecoderOptions());
    NoRows handler;
    RETURN_IF_ERROR(ScanServerBinlog(connect_, from, decoder, handler, [&](const BinlogDecoder& d) {
      const BinlogFilePos& at = d.committed();
      return at.file == before.file && at.offset >= before.offset;
    }));
    if (const PreparedXa* found = decoder.FindPrepared(xid)) {
      spdlog::info("XA xid {}: prepared at {}, {} events read again from {}", xid, found->at.ToString(),
                   found->events.size(), connect_.Describe());
      return *found;
    }
  }
  return NotFound(xid, before, connect_.Describe());
}

Result<PreparedXa> FilePreparedXaFinder::Find(const XidKey& xid, const BinlogFilePos& before,
                                              const BinlogFilePos* hint) {
  namespace fs = std::filesystem;
  // (sequence, path) of the files to scan, newest first.
  std::vector<std::pair<int64_t, fs::path>> files;
  const int64_t last = FileSequence(before.file);
  const std::string stem = FileStem(before.file);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory_, ec)) {
    std::string name = entry.path().filename().string();
    int64_t seq = FileSequence(name);
    if (FileStem(name) != stem || seq < 0 || seq > last) continue;
    if (hint && FileSequence(hint->file) != seq) continue;
    files.emplace_back(seq, entry.path());
  }
  if (ec) return Status::Error(StatusCode::kIoError, "list binlog directory {}: {}", directory_, ec.message());
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [seq, path] : files) {
    BinlogFileSource::Options o;
    o.path = path.string();
    o.start_offset = hint ? hint->offset : 0;
    o.follow_rotate = false;
    o.end_offset = seq == last ? before.offset : 0;
    o.decoder = ScanDecoderOptions();
    BinlogFileSource scan(o);
    NoRows handler;
    std::atomic<bool> stop{false};
    Status st = scan.Run(handler, stop);
    if (!st.ok() && st.code() != StatusCode::kEndOfStream) return st;
    if (const PreparedXa* found = scan.decoder().FindPrepared(xid)) return *found;
  }
  return NotFound(xid, before, directory_);
}

}  // namespace sluice::mysql
