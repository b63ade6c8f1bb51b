#pragma once
// Glob matching for table patterns ("shop.order_*"): '*' any run, '?' one character.

#include <string_view>

namespace sluice {

bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace sluice
