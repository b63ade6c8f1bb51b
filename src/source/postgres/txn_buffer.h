#pragma once
// TxnBuffer: one transaction's pgoutput messages, in arrival order, from its
// first message to its commit (pgoutput_decoder.h: every row carries the
// commit's end LSN, which only the commit tells).
//
// Memory is bounded: past `memory_limit` bytes the messages held so far go
// to an unnamed temporary file (tmpfile(3) in $TMPDIR, gone when closed) and
// later ones gather in memory again, so a transaction of any size costs at
// most `memory_limit` of memory plus its size on disk; ForEach reads the
// file back in order.
//
// Subtransactions (pgoutput v2 streams): each message is stored with the
// (sub)transaction id it came with; AbortSub leaves the row messages of that
// subtransaction out of ForEach. Relation and Type messages are kept: the
// server does not send them again for the rest of the transaction.
//
// Threading: one thread (the decoder's).

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::postgres {

class TxnBuffer {
 public:
  explicit TxnBuffer(size_t memory_limit = 8u << 20) : limit_(memory_limit) {}

  Status Append(uint32_t subxid, std::string_view message);
  void AbortSub(uint32_t subxid) { aborted_.insert(subxid); }
  // Each message kept, in order; the view is valid during the call only.
  Status ForEach(const std::function<Status(std::string_view)>& fn);
  // Forgets everything (memory above the limit is given back).
  void Clear();
  bool empty() const { return mem_.empty() && spilled_ == 0; }
  uint64_t bytes() const { return mem_.size() + spilled_; }
  uint64_t spilled_bytes() const { return spilled_; }

 private:
  struct FileCloser {
    void operator()(FILE* f) const { std::fclose(f); }
  };
  Status Spill();
  bool Kept(uint32_t subxid, std::string_view message) const;

  size_t limit_;
  std::string mem_;  // {len:4 LE, subxid:4 LE, bytes}*
  std::unique_ptr<FILE, FileCloser> file_;
  uint64_t spilled_ = 0;
  std::set<uint32_t> aborted_;
  std::string scratch_;
};

}  // namespace sluice::postgres
