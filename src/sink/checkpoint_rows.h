#pragma once
// What the MySQL and PostgreSQL targets read from their checkpoint rows, kept
// alike in both: partition rows of earlier `parallel` settings, and the old
// name of a target renamed in the configuration.
//
// Partition rows record the partitioning they were written under
// ("partitions=N"). A row of another setting still says that every change
// hashed to its partition (among N) at or before its position was committed:
// that stays true whatever ran after it, so rows of several earlier settings
// judge together. Once the stream passes the furthest of them (`until`),
// they say nothing more and are deleted.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/change_event.h"
#include "core/sink_change.h"
#include "core/status.h"

namespace sluice::sink {

class OldPartitionRows {
 public:
  // A partition row of setting `scheme` ("partitions=N"); `slots` rows per
  // partition (part % N is the partition, the later row its progress). False
  // when `scheme` is no partitioning or `part` lies outside it.
  bool Add(const std::string& scheme, int part, uint32_t slots, const StreamPos& pos);
  // After every row: `until` from the rows past `global`.
  void Finish(const StreamPos& global);

  bool empty() const { return settings_.empty(); }
  // The furthest row past the global checkpoint (empty: none ahead).
  const StreamPos& until() const { return until_; }
  // "4, 3": the settings, for messages.
  std::string Settings() const;
  // Whether an earlier setting's partition committed `ch`. `partition_of(ch,
  // n)` is the partition among n the sink hashes `ch` to.
  bool Applied(const SinkChange& ch, const std::function<uint32_t(const SinkChange&, uint32_t)>& partition_of) const;
  // Past `until`: forgotten (the sink deletes the rows).
  void Clear();

 private:
  std::map<uint32_t, std::vector<StreamPos>> settings_;  // N -> progress per partition
  StreamPos until_;
};

// What a sink committed to its checkpoint rows (row -> position), to tell,
// when it reads them again after a reconnect, whether the target lost
// transactions it had committed: restored from a backup, or a server that
// does not flush every commit crashed. A row then holds less than it did,
// or is gone; its rows went back with it, and carrying on from the
// sink's place would leave them out for good.
class CommittedRows {
 public:
  // A transaction writing `pos` into checkpoint row `row` committed (a
  // partition's row, or one below 0 for the target's global one), or the
  // row was read holding it.
  void Note(int row, const StreamPos& pos);
  // The rows were deleted or replaced on purpose (a position set by hand).
  void Clear() { rows_.clear(); }
  // kTargetRewound naming the first row that holds less than was committed
  // to it, given what the rows hold now (a row absent: gone).
  Status Check(const std::map<int, StreamPos>& now, const std::string& target) const;

 private:
  std::map<int, StreamPos> rows_;
};

// The checkpoint rows a MySQL or PostgreSQL sink writes itself among `rows`
// (part, position, resume_position, ...): the global row (`global_part`) and
// the partition rows of `scheme`, as part -> position.
std::map<int, StreamPos> OwnCheckpointRows(const std::vector<std::vector<std::optional<std::string>>>& rows,
                                           const std::string& scheme, int global_part);

// A target renamed in the configuration. `present`: the target names holding
// the pipeline's checkpoints in one database; `former`: names the pipeline
// ran before that the configuration no longer has (SinkOptions::
// former_targets). Returns the name `target` takes over, "" when none (it
// has its own, or no former name left one). Several are an error naming them
// and `delete_statement` (the statement that removes one's rows, 'NAME' for
// its name).
Result<std::string> RenamedFrom(const std::vector<std::string>& present, const std::string& pipeline,
                                const std::string& target, const std::vector<std::string>& former,
                                const std::string& delete_statement);
// Logs (a warning) that `target` took over the checkpoint of `old`.
void LogTakenOver(const std::string& pipeline, const std::string& target, const std::string& old);

}  // namespace sluice::sink
