#include "core/sync_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace sluice {
namespace {

struct Point {
  enum class Kind { kNone, kCrash, kWait };
  Kind kind = Kind::kNone;
  long at = 1;       // the pass that acts
  std::string path;  // kWait: the file whose existence lets the pass go on
  long passes = 0;
  std::function<void()> action;  // SetSyncPointAction's
};

// "crash", "crash@N", "wait:PATH", "wait@N:PATH".
bool ParseAction(std::string_view action, Point* p) {
  std::string_view verb = action.substr(0, action.find_first_of("@:"));
  if (verb == "crash") {
    p->kind = Point::Kind::kCrash;
  } else if (verb == "wait") {
    p->kind = Point::Kind::kWait;
  } else {
    return false;
  }
  std::string_view rest = action.substr(verb.size());
  if (rest.starts_with("@")) {
    size_t end = rest.find(':');
    p->at = std::strtol(std::string(rest.substr(1, end == std::string_view::npos ? end : end - 1)).c_str(), nullptr, 10);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  if (p->kind == Point::Kind::kWait) {
    if (!rest.starts_with(":") || rest.size() < 2) return false;
    p->path = std::string(rest.substr(1));
  }
  return true;
}

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
      Point p;
      if (!ParseAction(item.substr(eq + 1), &p)) continue;
      points[std::string(item.substr(0, eq))] = p;
      any = true;
    }
  }
};

Registry& Points() {
  static Registry r;
  return r;
}

void Say(const std::string& text) { (void)!::write(2, text.data(), text.size()); }

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
  std::string wait_for;
  {
    std::unique_lock lock(r.mu);
    auto it = r.points.find(name);
    if (it == r.points.end()) return;
    Point& p = it->second;
    if (p.action) {
      // Run without the lock: the action may wait for another thread that
      // passes a point too.
      std::function<void()> action = p.action;
      lock.unlock();
      action();
      return;
    }
    if (p.kind == Point::Kind::kNone || ++p.passes != p.at) return;
    if (p.kind == Point::Kind::kCrash) {
      Say("sync point: crash\n");
      ::kill(::getpid(), SIGKILL);
    }
    wait_for = p.path;
  }
  // Waits without the registry's lock: other threads pass their points.
  Say("sync point " + std::string(name) + ": waiting for " + wait_for + "\n");
  while (::access(wait_for.c_str(), F_OK) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Say("sync point " + std::string(name) + ": going on\n");
}

}  // namespace sluice
