#pragma once
// XA transactions in the binlog (MariaDB 10.5+, MySQL 5.7.7+): the rows of an
// XA transaction are logged at XA PREPARE, in a group that opens with
// "XA START xid" and ends with an XA_PREPARE event; whether they count is
// only known at a later group, "XA COMMIT xid" or "XA ROLLBACK xid". These
// helpers name the statements and the xid in one canonical form, so that the
// groups of one transaction can be matched whichever way the xid was spelt.

#include <optional>
#include <string>
#include <string_view>

#include "core/byte_reader.h"
#include "core/status.h"

namespace sluice::mysql {

// An xid as "gtrid-hex,bqual-hex,formatID": "7831,,1" for 'x1'.
using XidKey = std::string;

// The key of an xid from its parts' bytes.
XidKey MakeXidKey(std::string_view gtrid, std::string_view bqual, uint64_t format_id);

struct XaStatement {
  enum class Kind { kStart, kEnd, kPrepare, kCommit, kRollback, kRecover, kOther } kind = Kind::kOther;
  XidKey xid;              // empty for kRecover and kOther, or an xid that did not parse
  bool one_phase = false;  // XA COMMIT ... ONE PHASE
};

// Classifies a statement that starts with XA; nullopt for any other.
std::optional<XaStatement> ParseXaStatement(std::string_view query);

// The xid of an XA_PREPARE event's body (after the common header, without
// its checksum), and whether it was a one-phase commit (MySQL logs
// XA COMMIT ... ONE PHASE that way).
struct XaPrepareEvent {
  XidKey xid;
  bool one_phase = false;
};
Result<XaPrepareEvent> ParseXaPrepare(ByteReader& body);

}  // namespace sluice::mysql
