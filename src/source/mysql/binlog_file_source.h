#pragma once
// BinlogFileSource: replays binlog files from disk (`file:///path/binlog.000001`),
// for backed-up binlogs and for tests against binlogs written by servers we
// cannot run. Reads plain or gzip-compressed files event by event (memory is
// bounded by the largest event), and follows ROTATE into the next file when
// that file is in the same directory.

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
    BinlogDecoder::Options decoder;
  };

  explicit BinlogFileSource(Options options);
  Status Run(ChangeHandler& handler, const std::atomic<bool>& stop) override;
  const BinlogDecoder& decoder() const { return decoder_; }

 private:
  Status ReadFile(const std::string& path, uint64_t start_offset, ChangeHandler& handler,
                  const std::atomic<bool>& stop, std::string* next_file);

  Options options_;
  BinlogDecoder decoder_;
};

}  // namespace sluice::mysql
