#include "source/mysql/binlog/sql_words.h"

#include <cctype>

namespace sluice::mysql {

void SkipSpaceAndComments(std::string_view& s) {
  while (!s.empty()) {
    if (std::isspace(static_cast<unsigned char>(s.front()))) {
      s.remove_prefix(1);
    } else if (s.size() >= 2 && s[0] == '/' && s[1] == '*') {
      size_t end = s.find("*/", 2);
      s.remove_prefix(end == std::string_view::npos ? s.size() : end + 2);
    } else {
      return;
    }
  }
}

bool TakeWord(std::string_view& s, std::string_view word) {
  SkipSpaceAndComments(s);
  if (s.size() < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(s[i])) != word[i]) return false;
  }
  if (s.size() > word.size() && (std::isalnum(static_cast<unsigned char>(s[word.size()])) || s[word.size()] == '_')) {
    return false;
  }
  s.remove_prefix(word.size());
  return true;
}

}  // namespace sluice::mysql
