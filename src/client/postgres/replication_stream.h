#pragma once
// ReplicationStream: a libpq connection in logical replication mode
// (`replication=database`): SQL and replication commands first
// (IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT, catalog queries), then, after
// StartLogical, the CopyBoth stream of CopyData messages in both directions.
// Owned by one thread.
//
// Errors are PgConnection's: a lost connection or a server going away is
// retryable kIoError; the stream's end with an error (a slot dropped under
// it, a publication missing) is kServerError with the server's message.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/postgres/connection.h"
#include "core/status.h"

namespace sluice::postgres {

class ReplicationStream {
 public:
  // Connects with replication=database and `options.session_options`.
  static Result<std::unique_ptr<ReplicationStream>> Connect(ConnectOptions options);
  ~ReplicationStream();

  // SQL and replication commands, before StartLogical.
  PgConnection& sql() { return *conn_; }

  // START_REPLICATION SLOT slot LOGICAL lsn (plugin_options); the stream is
  // then in CopyBoth mode. `plugin_options`: "proto_version '1', ...".
  Status StartLogical(std::string_view slot, std::string_view lsn, std::string_view plugin_options);

  // The next CopyData message from the server, or nullopt when none came
  // within `timeout`. The view is valid until the next call.
  Result<std::optional<std::string_view>> Read(std::chrono::milliseconds timeout);
  // One CopyData message to the server (a standby status update).
  Status Send(std::string_view copy_data);

 private:
  explicit ReplicationStream(std::unique_ptr<PgConnection> c) : conn_(std::move(c)) {}
  Status Failed(std::string_view what);
  // The stream ended (CopyDone or an error): the server's reason.
  Status Ended();
  void Release();

  std::unique_ptr<PgConnection> conn_;
  char* buffer_ = nullptr;  // PQgetCopyData's last message, freed on the next Read
};

}  // namespace sluice::postgres
