#pragma once
// BinlogFileSource: replays binlog files from disk (`file:///path/binlog.000001`),
// for backed-up binlogs and for tests against binlogs written by servers we
// cannot run. Reads plain or gzip-compressed files event by event (memory is
// bounded by the largest event), and follows ROTATE into the next file when
// that file is in the same directory. An XA COMMIT whose XA PREPARE came
// before the start is found in the earlier files of that directory.

#include <memory>
#include <string>

#include "source/mysql/binlog_decoder.h"
#include "source/source.h"

namespace sluice::mysql {

class BinlogFileSource : public Source {
 public:
  struct Options {
    std::string path;
    uint64_t start_offset = 0;  // 0 or 4: from the first event; else a transaction boundary
    bool follow_rotate = true;
    uint64_t end_offset = 0;  // not 0: stop at the event that starts there (one file)
    BinlogDecoder::Options decoder;
  };

  explicit BinlogFileSource(Options options);
  Status Run(ChangeHandler& handler, const std::atomic<bool>& stop) override;
  const BinlogDecoder& decoder() const { return decoder_; }

 private:
  Status ReadFile(const std::string& path, uint64_t start_offset, ChangeHandler& handler,
                  const std::atomic<bool>& stop, std::string* next_file);

  Options options_;
  std::unique_ptr<PreparedXaFinder> xa_finder_;  // before decoder_, which uses it
  BinlogDecoder decoder_;
};

}  // namespace sluice::mysql
