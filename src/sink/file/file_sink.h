#pragma once
// FileSink: the `file://PATH` target. Appends each change as one JSON line
// in the target's format (json, canal, maxwell, debezium; a message's value,
// tombstones left out), DDL too, and makes every batch durable before it
// counts: the data is fsynced, then the sidecar `PATH.sluice-pos` records the
// file's length and the batch end (written to a temporary file, fsynced and
// renamed over the old one). On Open the file is truncated back to the
// recorded length, so whatever a crash left after the last recorded batch
// is dropped and replayed: every change is in the file exactly once, in
// stream order.
//
// Rotation (`rotate_bytes`): when the file has reached the size at a batch
// end it is renamed to PATH.000001 (then .000002, ...) and a new PATH is
// started; the sidecar counts rotations, so a crash inside one is finished
// on Open. A rotation by something else (logrotate: the file renamed or
// removed, or emptied in place) is seen before the next batch, and on Open
// (the file gone or empty): the next batches go to the file at the path.
//
// One writer at a time: the sink holds an flock on `PATH.sluice-lock` for
// its life, so a second pipeline or process configured with the same file
// (the same configuration run twice, a deploy overlapping the old
// instance) waits, retrying, instead of both appending every change.
//
// Owned and called by one pipeline target thread.

#include <memory>
#include <string>
#include <vector>

#include "core/file_lock.h"
#include "format/format.h"
#include "sink/sink.h"

namespace sluice::sink::file {

class FileSink : public Sink {
 public:
  static Result<std::unique_ptr<FileSink>> Open(const SinkOptions& options);
  ~FileSink() override;

  Status ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) override;
  Status AdvanceCheckpoint(const BatchEnd& end) override;
  Status ResetCheckpoint() override;
  Status ApplyDdl(const DdlChange& ddl, const BatchEnd& end) override;
  Result<std::vector<std::string>> TargetColumns(const std::string&, const std::string&) override {
    return std::vector<std::string>{};
  }
  Status Reconnect() override;

  const std::string& path() const { return path_; }

 private:
  FileSink(const SinkOptions& options, std::unique_ptr<format::Encoder> encoder);
  // Reads the sidecar, finishes an interrupted rotation, truncates the file
  // to the recorded length and opens it for appending.
  Status Recover();
  // Appends `data`, fsyncs it, records `end` in the sidecar and rotates when due.
  Status Commit(const std::string& data, const BatchEnd& end);
  // The file moved away or emptied by something else (logrotate's create
  // or copytruncate) since the last batch: the next batches go to the file
  // at the path, from its end (its start), and the sidecar says so.
  Status FollowExternalRotation();
  Status WriteSidecar();
  Status Rotate();
  std::string RotatedName(uint64_t seq) const;
  std::string Where() const;

  SinkOptions options_;
  std::string path_, sidecar_;
  std::unique_ptr<format::Encoder> encoder_;
  FileLock writer_lock_;  // PATH.sluice-lock: this sink is the file's only writer
  int fd_ = -1;
  uint64_t length_ = 0;     // bytes of the current file that are recorded (durable and counted)
  uint64_t rotations_ = 0;  // files rotated away so far: the next is PATH.(rotations_+1)
};

}  // namespace sluice::sink::file
