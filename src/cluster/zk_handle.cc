#include "cluster/zk_handle.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace sluice::cluster {
namespace {

// The C client's own log (connection attempts, timeouts) is noise next to
// the coordinator's state changes, which say the same in our terms: debug.
void LogFromClient(const char* message) { spdlog::debug("zookeeper client: {}", message); }

}  // namespace

Status ZkHandle::Open(const std::string& connect_string, std::chrono::milliseconds session_timeout, watcher_fn watcher,
                      void* watcher_context) {
  static std::once_flag once;
  std::call_once(once, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); });
  Close();
  errno = 0;
  zh_ = zookeeper_init2(connect_string.c_str(), watcher, static_cast<int>(session_timeout.count()), nullptr,
                        watcher_context, 0, LogFromClient);
  if (zh_ == nullptr) {
    return Status::Invalid("zookeeper \"{}\": cannot create a client: {}", connect_string,
                           errno != 0 ? std::strerror(errno) : "bad connect string");
  }
  return Status::Ok();
}

void ZkHandle::Close() {
  if (zh_ == nullptr) return;
  zookeeper_close(zh_);
  zh_ = nullptr;
}

int64_t ZkHandle::session_id() const {
  if (zh_ == nullptr) return 0;
  const clientid_t* id = zoo_client_id(zh_);
  return id ? id->client_id : 0;
}

std::chrono::milliseconds ZkHandle::negotiated_timeout() const {
  return std::chrono::milliseconds(zh_ ? zoo_recv_timeout(zh_) : 0);
}

int ZkHandle::Create(const std::string& path, const std::string& data, int mode, std::string* created, Stat* stat) {
  char buffer[1024];
  Stat ignored;
  int rc = zoo_create2(zh_, path.c_str(), data.data(), static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE, mode,
                       buffer, sizeof buffer, stat ? stat : &ignored);
  if (rc == ZOK && created) {
    std::string full(buffer);
    *created = full.substr(full.rfind('/') + 1);
  }
  return rc;
}

int ZkHandle::Delete(const std::string& path) { return zoo_delete(zh_, path.c_str(), -1); }

int ZkHandle::WatchExists(const std::string& path, watcher_fn watcher, void* context, Stat* stat) {
  Stat ignored;
  return zoo_wexists(zh_, path.c_str(), watcher, context, stat ? stat : &ignored);
}

int ZkHandle::Exists(const std::string& path, Stat* stat) {
  Stat ignored;
  return zoo_exists(zh_, path.c_str(), 0, stat ? stat : &ignored);
}

int ZkHandle::Get(const std::string& path, std::string* data, Stat* stat) {
  Stat local{};
  Stat* out = stat ? stat : &local;
  size_t size = size_t{64} * 1024;  // most of our nodes hold a few hundred bytes; a configuration may hold more
  for (;;) {
    std::string buffer(size, '\0');
    int len = static_cast<int>(buffer.size());
    int rc = zoo_get(zh_, path.c_str(), 0, buffer.data(), &len, out);
    if (rc != ZOK) return rc;
    if (out->dataLength > len) {  // truncated: read again with room for all of it
      size = static_cast<size_t>(out->dataLength);
      continue;
    }
    buffer.resize(len < 0 ? 0 : static_cast<size_t>(len));
    *data = std::move(buffer);
    return rc;
  }
}

int ZkHandle::Set(const std::string& path, const std::string& data, int version) {
  return zoo_set(zh_, path.c_str(), data.data(), static_cast<int>(data.size()), version);
}

int ZkHandle::GetChildren(const std::string& path, std::vector<std::string>* children) {
  String_vector names{};
  int rc = zoo_get_children(zh_, path.c_str(), 0, &names);
  if (rc != ZOK) return rc;
  children->clear();
  for (int i = 0; i < names.count; ++i) children->emplace_back(names.data[i]);
  deallocate_String_vector(&names);
  return rc;
}

int ZkHandle::EnsurePath(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    int rc = Create(prefix, "", ZOO_PERSISTENT);
    if (rc != ZOK && rc != ZNODEEXISTS) return rc;
    if (slash == std::string::npos) return ZOK;
  }
}

bool IsConnectionError(int rc) {
  return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONMOVED || rc == ZCLOSING;
}

Status ZkError(int rc, std::string_view op, std::string_view path) {
  if (IsConnectionError(rc) || rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE) {
    return Status::Retryable(StatusCode::kIoError, "zookeeper {} {}: {}", op, path, zerror(rc));
  }
  if (rc == ZNONODE) return Status::Error(StatusCode::kNotFound, "zookeeper {} {}: {}", op, path, zerror(rc));
  return Status::Error(StatusCode::kServerError, "zookeeper {} {}: {}", op, path, zerror(rc));
}

}  // namespace sluice::cluster
