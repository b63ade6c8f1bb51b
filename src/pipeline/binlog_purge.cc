#include "pipeline/binlog_purge.h"

#include <charconv>
#include <string_view>

namespace sluice::pipeline {
namespace {

// "binlog.000042" -> ("binlog", 42); false without a numeric suffix.
bool SplitBinlogName(std::string_view file, std::string_view* base, uint64_t* seq) {
  size_t dot = file.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == file.size()) return false;
  std::string_view digits = file.substr(dot + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *seq);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  *base = file.substr(0, dot);
  return true;
}

}  // namespace

bool InPurgedBinlog(const std::string& resume_position, const std::vector<std::string>& server_files) {
  if (server_files.empty()) return false;
  size_t colon = resume_position.rfind(':');
  if (colon == std::string::npos) return false;
  std::string_view file = std::string_view(resume_position).substr(0, colon);
  std::string_view base, oldest_base;
  uint64_t seq = 0, oldest = 0;
  if (!SplitBinlogName(file, &base, &seq) || !SplitBinlogName(server_files.front(), &oldest_base, &oldest)) {
    return false;
  }
  return base == oldest_base && seq < oldest;
}

}  // namespace sluice::pipeline
