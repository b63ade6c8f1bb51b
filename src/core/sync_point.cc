#include "core/sync_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace sluice {
namespace {

struct Point {
  long crash_at = 0;  // the pass that kills the process; 0: none
  long passes = 0;
  std::function<void()> action;  // SetSyncPointAction's
};

struct Registry {
  std::mutex mu;
  std::map<std::string, Point, std::less<>> points;
  std::atomic<bool> any{false};

  Registry() {
    const char* spec = std::getenv("SLUICE_SYNC_POINTS");
    if (spec == nullptr) return;
    std::string_view rest(spec);
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      size_t eq = item.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view action = item.substr(eq + 1);
      if (!action.starts_with("crash")) continue;
      Point p;
      p.crash_at = 1;
      if (action.size() > 6 && action[5] == '@') p.crash_at = std::strtol(std::string(action.substr(6)).c_str(), nullptr, 10);
      points[std::string(item.substr(0, eq))] = p;
      any = true;
    }
  }
};

Registry& Points() {
  static Registry r;
  return r;
}

}  // namespace

void SetSyncPointAction(std::string_view name, std::function<void()> action) {
  Registry& r = Points();
  std::lock_guard lock(r.mu);
  r.points[std::string(name)].action = std::move(action);
  r.any = true;
}

void SyncPointReached(std::string_view name) {
  Registry& r = Points();
  if (!r.any) return;
  std::unique_lock lock(r.mu);
  auto it = r.points.find(name);
  if (it == r.points.end()) return;
  if (it->second.action) {
    // Run without the lock: the action may wait for another thread that
    // passes a point too.
    std::function<void()> action = it->second.action;
    lock.unlock();
    action();
    return;
  }
  if (++it->second.passes == it->second.crash_at) {
    static const char kMsg[] = "sync point: crash\n";
    (void)!::write(2, kMsg, sizeof kMsg - 1);
    ::kill(::getpid(), SIGKILL);
  }
}

}  // namespace sluice
