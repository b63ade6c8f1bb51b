#include "sink/row_reader.h"

namespace sluice::sink {

std::string FitFraction(std::string_view text, unsigned digits) {
  std::string out(text);
  size_t dot = out.find('.');
  size_t have = dot == std::string::npos ? 0 : out.size() - dot - 1;
  if (have < digits) {
    if (dot == std::string::npos) out += '.';
    out.append(digits - have, '0');
    return out;
  }
  while (have > digits && out.back() == '0') {
    out.pop_back();
    --have;
  }
  if (have == 0 && dot != std::string::npos) out.pop_back();  // "12:00:00." -> "12:00:00"
  return out;
}

}  // namespace sluice::sink
