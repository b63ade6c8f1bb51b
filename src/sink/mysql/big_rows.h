#pragma once
// Rows too large for one statement. A MySQL/MariaDB server reads no
// statement longer than its max_allowed_packet, while the source's binlog
// carries rows of any size (a replica reads them as events, and SQL
// literals of bytes take twice their size). So a row whose statement would
// not fit is written in pieces, in the caller's transaction: its upsert with
// the largest text and bytes values left empty, then
// `UPDATE ... SET c = CONCAT(c, piece) WHERE key` for each of them. A value
// longer than max_allowed_packet itself cannot be written by any statement
// (the server's CONCAT gives NULL past it): that is an error saying what to
// raise.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/sink_change.h"
#include "core/status.h"

namespace sluice::sink::mysql {

// The room for one statement on a target whose max_allowed_packet is
// `max_packet` (the packet also carries the command byte and the client's
// framing; kept well clear of the edge).
size_t StatementBudget(size_t max_packet);

// An upper bound of the bytes of `row`'s one-row upsert into `t` (bytes in
// hex, text at worst every character escaped): rows under it need no pieces.
size_t StatementBytesBound(const TargetTable& t, const SinkChange& row);

// The statement that writes a row of a keyed table (an upsert, an insert,
// an update by the key the row had), for the values given.
using FirstStatement = std::function<Status(std::string& out, const SinkChange& row)>;

// Writes keyed `row` through `run` in statements of at most
// StatementBudget(max_packet) bytes each: `first` with its largest text and
// bytes values empty (as many as it takes; never key or `generated`
// columns), then `UPDATE ... SET c = CONCAT(c, piece)` by the row's key. The
// error for a value that cannot be written names the column, the sizes and
// the setting to raise (the caller adds table and key).
Status WriteInPieces(const TargetTable& t, const SinkChange& row, const FirstStatement& first,
                     const std::vector<bool>* generated, size_t max_packet,
                     const std::function<Status(const std::string&)>& run);

// WriteInPieces of the upsert `row` (REPLACE when `replace`); `generated` as BuildUpsert's.
Status UpsertInPieces(const TargetTable& t, const SinkChange& row, bool replace, const std::vector<bool>* generated,
                      size_t max_packet, const std::function<Status(const std::string&)>& run);

// The error for a keyless table's row (or a statement of other rows) that
// does not fit: keyless rows are found by their whole value, so they cannot
// be written in pieces.
Status TooBigForTarget(const TargetTable& t, size_t statement_bytes, size_t max_packet);

}  // namespace sluice::sink::mysql
