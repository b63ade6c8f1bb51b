#pragma once
// ClickhouseClient: runs queries over ClickHouse's HTTP interface (the
// `clickhouse://user[:pw]@host:port/db` URL names its HTTP port, 8123 by
// default). Statements and data go in POST bodies, so neither size nor bytes
// are limited by URL rules; `wait_end_of_query=1` makes the server buffer the
// answer, so an error met mid-query comes back as an HTTP error instead of
// after a 200 with half a result.
//
// Errors: an answer with an error status becomes a kServerError Status with
// ClickHouse's exception code (server_code) and message; a connection that
// cannot be made, is cut or times out is retryable (kIoError), as are the
// server errors that say "try again" (too many parts, memory, timeouts).
//
// Owned by one thread (httplib::Client keeps one keep-alive connection).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/interrupter.h"
#include "core/status.h"
#include "core/url.h"

namespace httplib {
class Client;
}

namespace sluice::clickhouse {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8123;
  std::string user = "default";
  std::string password;
  int connect_timeout_s = 5;
  int read_timeout_s = 60;  // a hung server is a retryable error after this, not a stuck stop

  static Result<ClientOptions> FromUrl(const Url& url);
  std::string Describe() const;  // "clickhouse 127.0.0.1:8123"
};

class ClickhouseClient : public Interruptible {
 public:
  explicit ClickhouseClient(ClientOptions options);
  ~ClickhouseClient();
  ClickhouseClient(const ClickhouseClient&) = delete;
  ClickhouseClient& operator=(const ClickhouseClient&) = delete;

  // Runs `sql` (the whole statement in the body); returns the answer's body.
  Result<std::string> Query(std::string_view sql);
  // Runs `sql` (an INSERT ... FORMAT X, in the URL) with `data` as its body.
  Result<std::string> Insert(std::string_view sql, std::string_view data);
  // Rows of a TabSeparated answer, fields unescaped.
  Result<std::vector<std::vector<std::string>>> QueryRows(std::string_view sql);

  // ClickHouse's exception code of the last server error, 0 otherwise.
  int last_server_code() const { return last_server_code_; }
  // Over HTTP a dropped connection is made again by the next request without
  // a word, and the server it reaches may have restarted since (and lost what
  // it acknowledged). How many connections requests have made so far, and
  // whether the next request goes over the last one (still open, and the
  // server has not closed its end: stopped, restarted, its keep-alive timeout).
  uint64_t connections() const { return connections_; }
  bool ConnectionReusable() const;
  // Whether a new connection may mean a restart. Learned per server for the
  // process: a writer that found its connection cut (NoteCut) kCutsToLearn
  // times in a row, with nothing written in between (NoteKept), takes the
  // server (or a proxy before it) for one that closes connections after
  // answering (`Connection: close`, a keep_alive_timeout of 0); a restart
  // does not come that often.
  bool keeps_connections() const;
  static constexpr int kCutsToLearn = 3;
  // Returns whether the server was just learned to close connections.
  bool NoteCut();
  void NoteKept();
  // When the server last answered a request (any answer); the epoch if never.
  std::chrono::steady_clock::time_point last_answer() const { return last_answer_; }
  const ClientOptions& options() const { return options_; }

  // Registers with `interrupter` (nullptr: none) until destroyed: Interrupt()
  // cuts a request waiting for the server, and every later request fails at
  // once (retryable, "interrupted").
  void SetInterrupter(Interrupter* interrupter);

 private:
  Result<std::string> Post(const std::string& path, std::string_view body);

  void ShutdownSocket() override;  // with the interrupter's lock held

  ClientOptions options_;
  std::unique_ptr<httplib::Client> http_;
  int last_server_code_ = 0;
  uint64_t connections_ = 0;
  std::chrono::steady_clock::time_point last_answer_{};
  int socket_ = -1;  // of the last connection made
  Interrupter* interrupter_ = nullptr;
};

// ClickHouse error codes (ErrorCodes.cpp) the sink and tests look at.
inline constexpr int kUnknownTable = 60;
inline constexpr int kUnknownDatabase = 81;
inline constexpr int kTableAlreadyExists = 57;
inline constexpr int kDuplicateColumn = 15;
inline constexpr int kNoSuchColumnInTable = 16;

// Whether a server error is worth retrying (overload, timeouts), not a
// rejection of what was sent.
bool IsRetryableServerCode(int code);

// Quoting: `name` as a ClickHouse identifier, `text` as a string literal.
std::string QuoteIdentifier(std::string_view name);
std::string QuoteString(std::string_view text);
// Appends `bytes` as a TabSeparated field (\\ \t \n \r \0 \b \f \' escaped).
void AppendTsvEscaped(std::string& out, std::string_view bytes);
// Undoes AppendTsvEscaped ("\N" is left to the caller).
std::string UnescapeTsv(std::string_view field);

}  // namespace sluice::clickhouse
