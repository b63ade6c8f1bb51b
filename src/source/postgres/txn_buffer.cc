#include "source/postgres/txn_buffer.h"

#include <cerrno>
#include <cstring>

namespace sluice::postgres {
namespace {

constexpr size_t kHeader = 8;  // len:4 subxid:4, little-endian as in memory

void PutHeader(char* out, uint32_t len, uint32_t subxid) {
  std::memcpy(out, &len, 4);
  std::memcpy(out + 4, &subxid, 4);
}

}  // namespace

Status TxnBuffer::Append(uint32_t subxid, std::string_view message) {
  char header[kHeader];
  PutHeader(header, static_cast<uint32_t>(message.size()), subxid);
  mem_.append(header, kHeader);
  mem_.append(message);
  if (mem_.size() > limit_) return Spill();
  return Status::Ok();
}

Status TxnBuffer::Spill() {
  if (!file_) {
    file_.reset(std::tmpfile());
    if (!file_) {
      return Status::Error(StatusCode::kIoError, "spill a transaction of {} bytes to a temporary file: {}",
                           bytes(), std::strerror(errno));
    }
  }
  if (std::fwrite(mem_.data(), 1, mem_.size(), file_.get()) != mem_.size()) {
    return Status::Error(StatusCode::kIoError, "spill a transaction of {} bytes to a temporary file: {}", bytes(),
                         std::strerror(errno));
  }
  spilled_ += mem_.size();
  mem_.clear();
  return Status::Ok();
}

bool TxnBuffer::Kept(uint32_t subxid, std::string_view message) const {
  if (aborted_.empty() || !aborted_.count(subxid)) return true;
  return !message.empty() && (message[0] == 'R' || message[0] == 'Y');
}

Status TxnBuffer::ForEach(const std::function<Status(std::string_view)>& fn) {
  if (spilled_ > 0) {
    if (std::fflush(file_.get()) != 0 || std::fseek(file_.get(), 0, SEEK_SET) != 0) {
      return Status::Error(StatusCode::kIoError, "read back a spilled transaction: {}", std::strerror(errno));
    }
    for (uint64_t at = 0; at < spilled_;) {
      char header[kHeader];
      uint32_t len = 0, subxid = 0;
      if (std::fread(header, 1, kHeader, file_.get()) != kHeader) {
        return Status::Error(StatusCode::kIoError, "read back a spilled transaction at byte {}: short read", at);
      }
      std::memcpy(&len, header, 4);
      std::memcpy(&subxid, header + 4, 4);
      scratch_.resize(len);
      if (std::fread(scratch_.data(), 1, len, file_.get()) != len) {
        return Status::Error(StatusCode::kIoError, "read back a spilled transaction at byte {}: short read", at);
      }
      at += kHeader + len;
      if (Kept(subxid, scratch_)) RETURN_IF_ERROR(fn(scratch_));
    }
    // Appends after a read go to the end again.
    if (std::fseek(file_.get(), 0, SEEK_END) != 0) {
      return Status::Error(StatusCode::kIoError, "spilled transaction: {}", std::strerror(errno));
    }
  }
  for (size_t i = 0; i < mem_.size();) {
    uint32_t len = 0, subxid = 0;
    std::memcpy(&len, mem_.data() + i, 4);
    std::memcpy(&subxid, mem_.data() + i + 4, 4);
    std::string_view m(mem_.data() + i + kHeader, len);
    i += kHeader + len;
    if (Kept(subxid, m)) RETURN_IF_ERROR(fn(m));
  }
  return Status::Ok();
}

void TxnBuffer::Clear() {
  mem_.clear();
  if (mem_.capacity() > limit_ * 2) std::string().swap(mem_);
  file_.reset();
  spilled_ = 0;
  aborted_.clear();
  if (scratch_.capacity() > (1u << 20)) std::string().swap(scratch_);
}

}  // namespace sluice::postgres
