#pragma once
// A ChangeHandler for tests: renders every change as its contract JSON line
// and records transaction boundaries and DDL.

#include <string>
#include <vector>

#include "core/json_writer.h"
#include "source/source.h"

namespace sluice::testing {

class RecordingHandler : public ChangeHandler {
 public:
  Status OnBegin(const TransactionInfo& t) override {
    ++begins;
    if (open) ++nested_begins;
    open = true;
    last_begin_gtid = std::string(t.gtid);
    return Status::Ok();
  }
  Status OnRow(const RowChange& row) override {
    std::string line;
    AppendRowChangeJson(line, row);
    line.pop_back();  // newline
    rows.push_back(std::move(line));
    if (!open) ++rows_outside_txn;
    return Status::Ok();
  }
  Status OnCommit(const CommitInfo& c) override {
    ++commits;
    open = false;
    commit_positions.push_back(fmt::format("{}:{}", c.file, c.next_offset));
    gtid_states.push_back(std::string(c.gtid_state));
    return Status::Ok();
  }
  Status OnDdl(const DdlInfo& d) override {
    ddl.push_back(std::string(d.query));
    ddl_sessions.push_back(d.session);
    ddl_in_transaction.push_back(d.in_transaction);
    return Status::Ok();
  }

  std::vector<std::string> rows;
  std::vector<std::string> ddl;
  std::vector<DdlSession> ddl_sessions;
  std::vector<bool> ddl_in_transaction;
  std::vector<std::string> commit_positions;
  std::vector<std::string> gtid_states;
  std::string last_begin_gtid;
  int begins = 0;
  int commits = 0;
  int nested_begins = 0;
  int rows_outside_txn = 0;
  bool open = false;
};

}  // namespace sluice::testing
