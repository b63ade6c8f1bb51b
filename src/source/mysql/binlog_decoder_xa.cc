// BinlogDecoder's XA transactions (binlog_decoder.h, Options::xa_finder):
// the events of an XA START group are held, not decoded, until the group
// ends; XA PREPARE keeps them by xid, XA COMMIT replays them as its own
// transaction, XA ROLLBACK forgets them.

#include <spdlog/spdlog.h>

#include "source/mysql/binlog/xa.h"
#include "source/mysql/binlog_decoder.h"

namespace sluice::mysql {

const PreparedXa* BinlogDecoder::FindPrepared(const XidKey& xid) const {
  auto it = prepared_xa_.find(xid);
  return it == prepared_xa_.end() ? nullptr : &it->second;
}

void BinlogDecoder::ForgetPrepared(const XidKey& xid) {
  auto it = prepared_xa_.find(xid);
  if (it == prepared_xa_.end()) return;
  if (it->second.complete) prepared_xa_bytes_ -= it->second.bytes;
  prepared_xa_.erase(it);
}

Status BinlogDecoder::OnXa(const EventHeader& h, const XaStatement& xa, ChangeHandler& handler) {
  using Kind = XaStatement::Kind;
  if (replaying_xa_) return Status::Ok();  // statements inside a group being replayed
  switch (xa.kind) {
    case Kind::kStart: {
      Status st = BeginExplicitly(h, handler);
      // Until XA PREPARE says how it ends, the group's rows are held.
      xa_group_ = true;
      xa_xid_ = xa.xid;
      xa_open_ = PreparedXa{};
      xa_open_.at = txn_start_;
      return st;
    }
    case Kind::kCommit:
      if (xa_group_) {
        // XA COMMIT ... ONE PHASE ends the group that holds the rows.
        PreparedXa open = std::move(xa_open_);
        xa_open_ = PreparedXa{};
        xa_group_ = false;
        RETURN_IF_ERROR(ReplayXa(open, xa_xid_, handler));
        return Commit(h, handler);
      }
      if (!in_txn_) RETURN_IF_ERROR(BeginTransaction(h, handler));
      return CommitPrepared(h, xa.xid, handler);
    case Kind::kRollback:
      if (xa_group_) {
        xa_group_ = false;
        xa_open_ = PreparedXa{};
      } else {
        ForgetPrepared(xa.xid);
      }
      if (!in_txn_) RETURN_IF_ERROR(BeginTransaction(h, handler));
      return Commit(h, handler);
    default:
      return Status::Ok();  // XA END, and what a replica does not act on
  }
}

void BinlogDecoder::HoldXaEvent(std::string_view event, const ByteReader& body) {
  const size_t size = kEventHeaderSize + body.remaining();
  xa_open_.bytes += size;
  if (!xa_open_.complete) return;
  if (prepared_xa_bytes_ + xa_open_.bytes > options_.xa_memory_limit) {
    // Too large to hold: its commit reads it again from the binlog.
    xa_open_.complete = false;
    xa_open_.events.clear();
    xa_open_.events.shrink_to_fit();
    return;
  }
  std::string raw(event.substr(0, kEventHeaderSize));
  raw.append(reinterpret_cast<const char*>(body.cursor()), body.remaining());
  xa_open_.events.push_back(std::move(raw));
}

Status BinlogDecoder::OnXaPrepare(const EventHeader& h, ByteReader& body, ChangeHandler& handler) {
  if (replaying_xa_) return Status::Ok();
  if (!xa_group_) return Commit(h, handler);
  ASSIGN_OR_RETURN(XaPrepareEvent prepare, ParseXaPrepare(body));
  PreparedXa open = std::move(xa_open_);
  xa_open_ = PreparedXa{};
  xa_group_ = false;
  if (prepare.one_phase) {
    // MySQL logs XA COMMIT ... ONE PHASE as a prepare that commits.
    RETURN_IF_ERROR(ReplayXa(open, prepare.xid, handler));
    return Commit(h, handler);
  }
  ForgetPrepared(prepare.xid);  // an xid is free again once its transaction ended
  if (open.complete) prepared_xa_bytes_ += open.bytes;
  prepared_xa_[prepare.xid] = std::move(open);
  // The group itself commits nothing: its position moves on like that of a
  // transaction on tables the pipeline does not read.
  return Commit(h, handler);
}

Status BinlogDecoder::CommitPrepared(const EventHeader& h, const XidKey& xid, ChangeHandler& handler) {
  auto it = prepared_xa_.find(xid);
  if (it != prepared_xa_.end() && it->second.complete) {
    RETURN_IF_ERROR(ReplayXa(it->second, xid, handler));
    ForgetPrepared(xid);
    return Commit(h, handler);
  }
  if (!options_.decode_rows) {
    // A finder's scan: a transaction prepared before it is nothing to it.
    ForgetPrepared(xid);
    return Commit(h, handler);
  }
  const bool held = it != prepared_xa_.end();
  const BinlogFilePos commit_at = txn_start_;
  if (!options_.xa_finder) {
    return Status::Error(StatusCode::kNotFound,
                         "XA COMMIT of xid {} @ {}: its rows were logged at XA PREPARE, before where this stream "
                         "started, and this source cannot read them again; start the stream before that XA PREPARE "
                         "or re-snapshot the tables it wrote",
                         xid, Where());
  }
  spdlog::info("XA COMMIT of xid {} @ {}: reading its prepared rows again from the binlog ({})", xid, Where(),
               held ? fmt::format("from {}", it->second.at.ToString()) : "its XA PREPARE precedes this stream");
  BinlogFilePos hint = held ? it->second.at : BinlogFilePos{};
  auto found = options_.xa_finder->Find(xid, commit_at, held ? &hint : nullptr);
  if (!found.ok()) {
    return found.status().WithContext(fmt::format("XA COMMIT of xid {} @ {}: its XA PREPARE", xid, Where()));
  }
  RETURN_IF_ERROR(ReplayXa(*found, xid, handler));
  ForgetPrepared(xid);
  return Commit(h, handler);
}

Status BinlogDecoder::ReplayXa(const PreparedXa& xa, const XidKey& xid, ChangeHandler& handler) {
  if (!xa.complete) {
    return Status::Error(StatusCode::kNotFound, "XA transaction {} prepared at {} was not held", xid,
                         xa.at.ToString());
  }
  replaying_xa_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{replaying_xa_};
  for (const std::string& raw : xa.events) {
    ByteReader r(raw);
    EventHeader eh = EventHeader::Read(r);
    Status st = FeedBody(eh, r, raw, handler);
    if (!st.ok()) return st.WithContext(fmt::format("XA transaction {} prepared at {}", xid, xa.at.ToString()));
  }
  return Status::Ok();
}

}  // namespace sluice::mysql
