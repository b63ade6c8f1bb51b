#pragma once
// Arena: bump allocator for the bytes of decoded values (converted text,
// formatted temporals, decoded JSON). Values hold string_views into it, so
// blocks never move; Reset() keeps the first block for reuse, which makes the
// steady state allocation-free on the decode hot path.

#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace sluice {

class Arena {
 public:
  explicit Arena(size_t block_size = 64 * 1024) : block_size_(block_size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  char* Allocate(size_t n) {
    if (blocks_.empty() || used_ + n > blocks_.back().size) NewBlock(n);
    char* p = blocks_.back().data.get() + used_;
    used_ += n;
    return p;
  }
  std::string_view Copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = Allocate(s.size());
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }
  // Frees all but the first block; every view handed out before is invalid.
  void Reset() {
    if (blocks_.size() > 1) {
      // Keep the largest-common case block: the first one.
      blocks_.resize(1);
    }
    used_ = 0;
  }
  size_t bytes_reserved() const {
    size_t n = 0;
    for (const auto& b : blocks_) n += b.size;
    return n;
  }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size;
  };
  void NewBlock(size_t min) {
    size_t size = min > block_size_ ? min : block_size_;
    blocks_.push_back(Block{std::unique_ptr<char[]>(new char[size]), size});
    used_ = 0;
  }

  size_t block_size_;
  std::vector<Block> blocks_;
  size_t used_ = 0;
};

}  // namespace sluice
