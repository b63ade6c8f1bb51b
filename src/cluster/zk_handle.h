#pragma once
// A thin owner of one libzookeeper-mt handle (one session) with the few
// synchronous calls the coordinator needs, returning ZooKeeper's own result
// codes (ZOK, ZNONODE, ZNODEEXISTS, ZCONNECTIONLOSS, ...): the coordinator
// decides per call what each one means.
//
// Threading: every method is called on the coordinator thread only. The
// synchronous calls block it until the ensemble answers or the client gives
// up on the connection (about two thirds of the session timeout). ZooKeeper's
// own threads call the watcher given to Open(); it must only hand the event
// over (calling the blocking API from there deadlocks the client).

#include <zookeeper/zookeeper.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::cluster {

class ZkHandle {
 public:
  ZkHandle() = default;
  ZkHandle(const ZkHandle&) = delete;
  ZkHandle& operator=(const ZkHandle&) = delete;
  ~ZkHandle() { Close(); }

  // Starts connecting (zookeeper_init2 returns before the session exists; the
  // watcher sees ZOO_CONNECTED_STATE later). `watcher_context` must outlive
  // the handle: the watcher can run until Close() returns.
  [[nodiscard]] Status Open(const std::string& connect_string, std::chrono::milliseconds session_timeout,
                            watcher_fn watcher, void* watcher_context);
  // Ends the session (when connected: the ensemble removes its ephemeral
  // nodes at once) and frees the handle. No watcher runs after it returns.
  void Close();
  bool is_open() const { return zh_ != nullptr; }

  int64_t session_id() const;
  std::chrono::milliseconds negotiated_timeout() const;

  // mode: ZOO_PERSISTENT, ZOO_EPHEMERAL, ZOO_EPHEMERAL_SEQUENTIAL. `created`
  // receives the node's name (the last path component, with the sequence).
  int Create(const std::string& path, const std::string& data, int mode, std::string* created = nullptr,
             Stat* stat = nullptr);
  int Delete(const std::string& path);
  // Sets a one-shot watch on the path (fires on create, change and delete).
  int WatchExists(const std::string& path, watcher_fn watcher, void* context, Stat* stat);
  int Exists(const std::string& path, Stat* stat);
  int Get(const std::string& path, std::string* data, Stat* stat = nullptr);
  // version -1: any; else ZBADVERSION unless the node is at that version.
  int Set(const std::string& path, const std::string& data, int version = -1);
  int GetChildren(const std::string& path, std::vector<std::string>* children);
  // Creates the persistent path and its parents where missing.
  int EnsurePath(const std::string& path);

 private:
  zhandle_t* zh_ = nullptr;
};

// "create /sluice/prod/nodes/n1: connection loss"; retryable when the
// ensemble may answer later.
Status ZkError(int rc, std::string_view op, std::string_view path);
bool IsConnectionError(int rc);

}  // namespace sluice::cluster
