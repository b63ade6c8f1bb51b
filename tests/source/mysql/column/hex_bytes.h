#pragma once
// Byte strings for decoder fixtures, written as hex ("01 02 ff"; anything
// that is not a hex digit is ignored, so fixtures can be spaced and grouped).

#include <string>
#include <string_view>

namespace sluice::mysql::testing {

inline std::string Hex(std::string_view hex) {
  std::string out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<char>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

}  // namespace sluice::mysql::testing
