#pragma once
// Character sets of text columns: which collation id means which charset
// (MySQL 5.x/8.x and MariaDB 10.x/11.x share ids 1..247; MySQL 8 adds
// 248..323, MariaDB adds 576.., NO PAD ids 1024.. and UCA-14.0 ids 2048..),
// and conversion of column bytes to UTF-8 for the JSON contract (design §4).
//
// Thread safety: all functions are safe to call from any thread; the iconv
// converters are cached per thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/arena.h"
#include "core/status.h"
#include "core/table_schema.h"

namespace sluice::mysql {

// Resolves a collation id (TABLE_MAP DEFAULT_CHARSET / COLUMN_CHARSET
// metadata, information_schema.COLLATIONS.ID) to the charset its bytes are
// in. If charset_name is given it receives the iconv name for kOther (what
// ColumnMeta::charset_name holds) and is cleared otherwise. Ids no known
// server uses give kUnknown.
Charset CharsetFromCollationId(uint32_t id, std::string* charset_name = nullptr);

// The same for information_schema CHARACTER_SET_NAME values ("utf8mb4",
// "utf8mb3", "utf8", "latin1", "binary", "ascii", "gbk", ...). Unknown names
// are kOther with the name passed to iconv upper-cased, so that a charset
// this table misses still converts if iconv knows it.
Charset CharsetFromName(std::string_view charset_name, std::string* iconv_name = nullptr);

// The iconv name of a MySQL charset name ("gbk" -> "GBK", "latin2" ->
// "ISO-8859-2", "utf16" -> "UTF-16BE"); empty for names not in the table.
std::string_view IconvNameForCharset(std::string_view mysql_charset_name);

// True if s is well-formed UTF-8 (no overlong forms, no surrogates, nothing
// above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// MySQL latin1 (Windows-1252, with the five bytes it leaves undefined mapped
// to U+0081, U+008D, U+008F, U+0090, U+009D as MySQL does) to UTF-8. Pure
// ASCII input is returned as a view of `raw` itself; otherwise the result is
// written into the arena.
std::string_view Latin1ToUtf8(std::string_view raw, Arena& arena);

// Converts raw bytes in charset `iconv_name` to UTF-8 into the arena. Bytes
// that are not valid in the source charset become U+FFFD (as MySQL's own
// CONVERT substitutes '?'), so one bad byte does not stop a pipeline. Fails
// with NotSupported only if iconv has no converter for the charset.
Status IconvToUtf8(std::string_view raw, std::string_view iconv_name, Arena& arena, std::string_view& out);

}  // namespace sluice::mysql
