#include "client/clickhouse/http_client.h"

#include <httplib.h>

#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>

#include <fmt/format.h>

namespace sluice::clickhouse {
namespace {

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// "Code: 60, e.displayText() = DB::Exception: Table x.y doesn't exist., e.what() = DB::Exception"
// (18.16) or "Code: 60. DB::Exception: ... (UNKNOWN_TABLE)" (later versions).
void ParseServerError(std::string_view body, int* code, std::string* message) {
  *code = 0;
  std::string_view b = body;
  while (!b.empty() && (b.back() == '\n' || b.back() == '\r')) b.remove_suffix(1);
  if (b.starts_with("Code: ")) *code = std::atoi(std::string(b.substr(6, 8)).c_str());
  size_t start = b.find("DB::Exception: ");
  if (start != std::string_view::npos) {
    b = b.substr(start + 15);
    if (size_t end = b.rfind(", e.what() = "); end != std::string_view::npos) b = b.substr(0, end);
  }
  if (b.size() > 2000) b = b.substr(0, 2000);
  *message = std::string(b);
}

}  // namespace

Result<ClientOptions> ClientOptions::FromUrl(const Url& url) {
  ClientOptions o;
  if (!url.host.empty()) o.host = url.host;
  if (url.port != 0) o.port = url.port;
  if (!url.user.empty()) o.user = url.user;
  o.password = url.password;
  return o;
}

std::string ClientOptions::Describe() const { return fmt::format("clickhouse {}:{}", host, port); }

ClickhouseClient::ClickhouseClient(ClientOptions options) : options_(std::move(options)) {
  http_ = std::make_unique<httplib::Client>(options_.host, options_.port);
  http_->set_connection_timeout(options_.connect_timeout_s, 0);
  http_->set_read_timeout(options_.read_timeout_s, 0);
  http_->set_write_timeout(options_.read_timeout_s, 0);
  http_->set_keep_alive(true);
  // Called for every new socket, before it connects.
  http_->set_socket_options([this](int sock) {
    socket_ = sock;
    ++connections_;
  });
  // Basic auth keeps the password out of URLs (and server logs of them).
  http_->set_basic_auth(options_.user, options_.password);
}

ClickhouseClient::~ClickhouseClient() {
  if (interrupter_ != nullptr) interrupter_->Remove(this);
}

void ClickhouseClient::SetInterrupter(Interrupter* interrupter) {
  if (interrupter_ != nullptr) interrupter_->Remove(this);
  interrupter_ = interrupter;
  if (interrupter_ != nullptr) interrupter_->Add(this);
}

// httplib's stop() may be called from another thread: it shuts the socket
// of a request in progress down (the request then fails) and closes it.
void ClickhouseClient::ShutdownSocket() { http_->stop(); }

Result<std::string> ClickhouseClient::Post(const std::string& path, std::string_view body) {
  last_server_code_ = 0;
  if (interrupter_ != nullptr && interrupter_->interrupted()) {
    return Status::Retryable(StatusCode::kIoError, "{}: interrupted", options_.Describe());
  }
  httplib::Result r = http_->Post(path, body.data(), body.size(), "text/plain; charset=UTF-8");
  if (!r) {
    // A dropped keep-alive connection is re-made by the next request.
    return Status::Retryable(StatusCode::kIoError, "{}: {}", options_.Describe(), httplib::to_string(r.error()));
  }
  last_answer_ = std::chrono::steady_clock::now();
  if (r->status == 200) return std::move(r->body);
  int code = 0;
  std::string message;
  ParseServerError(r->body, &code, &message);
  last_server_code_ = code;
  if (code == 0) {
    // Not ClickHouse's own answer (a proxy, a server starting up).
    bool retry = r->status >= 500 || r->status == 429;
    std::string text = fmt::format("{}: HTTP {}: {}", options_.Describe(), r->status, message);
    return retry ? Status::Retryable(StatusCode::kIoError, "{}", text)
                 : Status::Error(StatusCode::kServerError, "{}", text);
  }
  std::string text = fmt::format("{}: error {}: {}", options_.Describe(), code, message);
  if (IsRetryableServerCode(code)) return Status::Retryable(StatusCode::kServerError, "{}", text);
  return Status::Error(StatusCode::kServerError, "{}", text);
}

namespace {

// Consecutive cuts per server ("host:port"); -1 once learned. For the process.
std::mutex& CutsMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::map<std::string, int>& Cuts() {
  static auto* cuts = new std::map<std::string, int>;
  return *cuts;
}

}  // namespace

bool ClickhouseClient::keeps_connections() const {
  std::lock_guard lock(CutsMutex());
  auto it = Cuts().find(options_.Describe());
  return it == Cuts().end() || it->second >= 0;
}

bool ClickhouseClient::NoteCut() {
  std::lock_guard lock(CutsMutex());
  int& cuts = Cuts()[options_.Describe()];
  if (cuts < 0) return false;
  if (++cuts < kCutsToLearn) return false;
  cuts = -1;
  return true;
}

void ClickhouseClient::NoteKept() {
  std::lock_guard lock(CutsMutex());
  auto it = Cuts().find(options_.Describe());
  if (it != Cuts().end() && it->second > 0) it->second = 0;
}

bool ClickhouseClient::ConnectionReusable() const {
  // httplib closes a socket it gave up on (or the server said to close);
  // one it keeps is the last made.
  if (connections_ == 0 || http_->is_socket_open() == 0) return false;
  pollfd p{socket_, POLLIN, 0};
  const int ready = ::poll(&p, 1, 0);
  if (ready == 0) return true;
  if (ready < 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return false;
  // Readable between requests: the server's end closed (0), or bytes no request asked for.
  char byte;
  return ::recv(socket_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

Result<std::string> ClickhouseClient::Query(std::string_view sql) { return Post("/?wait_end_of_query=1", sql); }

Result<std::string> ClickhouseClient::Insert(std::string_view sql, std::string_view data) {
  return Post("/?wait_end_of_query=1&query=" + UrlEncode(sql), data);
}

Result<std::vector<std::vector<std::string>>> ClickhouseClient::QueryRows(std::string_view sql) {
  ASSIGN_OR_RETURN(std::string body, Query(sql));
  std::vector<std::vector<std::string>> rows;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) nl = body.size();
    std::string_view line(body.data() + pos, nl - pos);
    std::vector<std::string> row;
    size_t f = 0;
    while (true) {
      size_t tab = line.find('\t', f);
      std::string_view field = line.substr(f, tab == std::string_view::npos ? std::string_view::npos : tab - f);
      row.push_back(field == "\\N" ? std::string("\\N") : UnescapeTsv(field));
      if (tab == std::string_view::npos) break;
      f = tab + 1;
    }
    rows.push_back(std::move(row));
    pos = nl + 1;
  }
  return rows;
}

bool IsRetryableServerCode(int code) {
  switch (code) {
    case 159:  // TIMEOUT_EXCEEDED
    case 164:  // READONLY
    case 202:  // TOO_MANY_SIMULTANEOUS_QUERIES
    case 203:  // NO_FREE_CONNECTION
    case 209:  // SOCKET_TIMEOUT
    case 210:  // NETWORK_ERROR
    case 241:  // MEMORY_LIMIT_EXCEEDED
    case 242:  // TABLE_IS_READ_ONLY
    case 243:  // NOT_ENOUGH_SPACE
    case 252:  // TOO_MANY_PARTS
    case 319:  // UNKNOWN_STATUS_OF_INSERT
    case 425:  // SYSTEM_ERROR
      return true;
    default:
      return false;
  }
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`' || c == '\\') out += '\\';
    out += c;
  }
  out += '`';
  return out;
}

std::string QuoteString(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

void AppendTsvEscaped(std::string& out, std::string_view bytes) {
  for (char c : bytes) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\0':
        out += "\\0";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\'':
        out += "\\'";
        break;
      default:
        out += c;
    }
  }
}

std::string UnescapeTsv(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c != '\\' || i + 1 == field.size()) {
      out += c;
      continue;
    }
    char n = field[++i];
    switch (n) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case '0':
        out += '\0';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'a':
        out += '\a';
        break;
      case 'v':
        out += '\v';
        break;
      default:
        out += n;  // \\ \' and any other escaped character stand for themselves
    }
  }
  return out;
}

}  // namespace sluice::clickhouse
