#pragma once
// MySQL's binary JSON (the storage and binlog form of JSON columns, MySQL
// 5.7+; sql-common/json_binary.h) rendered as compact JSON text, and MySQL
// 8's partial JSON updates (binlog_row_value_options=PARTIAL_JSON;
// sql/json_diff.cc) applied to a before image.
//
// Output is compact (`{"a":1,"b":[1,2]}`) with MySQL's own choices
// otherwise: object members in stored order (MySQL sorts keys by length,
// then bytewise), strings with only '"', '\\' and control characters
// escaped, DECIMAL values as JSON numbers with their scale ("1.50"),
// DATE/TIME/DATETIME/TIMESTAMP as strings with 6 fractional digits where
// they have a time ("2015-01-15 23:24:25.000000", what JSON_EXTRACT shows),
// other opaque values as "base64:typeNN:<base64>" like mysqlbinlog, doubles
// in shortest round-trip form.

#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::mysql {

// Decodes a binary JSON document into out (replacing its content). An empty
// document is JSON null (what MySQL stores for a NOT NULL JSON column added
// without a value). Corruption on any malformed or out-of-bounds structure.
Status DecodeJsonBinary(std::string_view bytes, std::string& out);

// Applies a serialized Json_diff_vector to before_json_text and writes the
// result, compact, into out_json_text.
//
// diff_blob is the vector's content after its 4-byte length:
//   diff      ::= operation path [value]     (value absent for REMOVE)
//   operation ::= 0 REPLACE | 1 INSERT | 2 REMOVE        (1 byte)
//   path      ::= length-encoded length, path text: "$.a[1]", "$.\"k y\"", "$[last-1]"
//   value     ::= length-encoded length, binary JSON document
// The semantics are MySQL's apply_json_diffs: REPLACE needs the path to
// exist; INSERT adds an object member that must not exist yet, or inserts
// into an array (an index past the end appends); REMOVE deletes an existing
// member or element. A diff that does not fit the before image means the
// before image is not the one the server changed: Corruption, naming the
// diff. Objects come out with MySQL's key order, as the server would store
// them; numbers keep their text (a DECIMAL's "1.50" stays "1.50").
Status ApplyJsonDiffs(std::string_view diff_blob, std::string_view before_json_text, std::string& out_json_text);

// Appends s to out as a JSON string literal, escaping as MySQL does.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace sluice::mysql
