#pragma once
// The sources sluice reads, by URL scheme: mysql:// and mariadb:// (a
// replica's binlog stream), file:// (binlog files replayed offline) and
// postgres:// / postgresql:// (logical replication with pgoutput).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/position.h"
#include "core/status.h"
#include "core/url.h"
#include "source/source.h"

namespace sluice {

struct SourceOptions {
  Url url;                          // password applied
  StartPosition start;              // where a server stream starts (latest by default)
  std::string start_gtid_state;     // MariaDB: the GTID state recorded with a FILE:OFFSET start (checked)
  bool start_given = false;         // file sources: start at `start` (a FILE:OFFSET) rather than the first event
  std::vector<std::string> tables;  // patterns of tables to decode; empty: all
  uint32_t server_id = 0;           // the replica id; 0: a random one
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::seconds reconnect_timeout{300};
  bool verify_checksums = true;
  // MySQL sources: drop transactions these pipelines applied (they write
  // their row in `_sluice`.`checkpoints` first): a two-way sync's peer, or
  // the pipeline itself when a target is the source server. Empty: none.
  std::vector<std::string> drop_marked_by;
  bool follow = true;  // file sources: go on into the next binlog file
  // PostgreSQL: the replication slot when the URL names none (`slot=`);
  // empty: a temporary slot (sluice tail).
  std::string default_slot;
  // PostgreSQL: tables ("schema.table" globs) whose schema changes are not
  // checked (their rules say ddl: ignore).
  std::vector<std::string> unchecked_tables;
  // PostgreSQL: the rules' "schema.table" globs when `tables` is the list
  // they selected at start. A table they select that was not in `tables`
  // (created since, or added to the publication) stops the stream with
  // kSourceChanged, so that a new start takes it; every pattern of the form
  // "schema.*" makes a publication sluice creates FOR TABLES IN SCHEMA
  // (PostgreSQL 15 on), which takes such tables as they are created.
  std::vector<std::string> rule_patterns;
  // PostgreSQL: the commit end LSN up to which the consumer has made what it
  // received durable (tail: written to stdout); the slot confirms no more.
  // Null: whatever OnCommit returned from. Called on the capture thread.
  std::function<uint64_t()> applied_lsn;
  // Told when the stream is lost or a reconnect fails (the error), and when
  // it delivers again (Ok); capture thread.
  std::function<void(const Status&)> on_reconnect;
  // MySQL sources: where the shapes of the tables read from
  // information_schema are kept between runs (source/mysql/schema_history.h:
  // a restart from an older position decodes events written before a later
  // ALTER). Capture thread; empty: kept in memory only.
  std::function<Result<std::vector<std::pair<std::string, std::string>>>()> load_schema_history;
  std::function<Status(const std::string& key, const std::string& value)> save_schema_history;
};

// The source for options.url's scheme, not yet connected (Run connects).
Result<std::unique_ptr<Source>> OpenSource(const SourceOptions& options);
bool IsSourceScheme(std::string_view scheme);

}  // namespace sluice
