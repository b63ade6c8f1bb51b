#pragma once
// Reading SQL statements of the binlog a word at a time (XA statements,
// statement-logged row changes): just enough to classify them, not a parser.

#include <string_view>

namespace sluice::mysql {

// Skips white space and /* comments */ at the front of s.
void SkipSpaceAndComments(std::string_view& s);

// Consumes `word` (upper case; matched case-insensitively, as a whole word)
// after any space and comments at the front of s.
bool TakeWord(std::string_view& s, std::string_view word);

}  // namespace sluice::mysql
