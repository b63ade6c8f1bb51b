#pragma once
// ScriptThreads: helper threads that run a batch of script calls ahead of
// the thread that owns them (the pipeline's transform thread), which takes
// the results in order. A batch is cut into pieces numbered from 0; helpers
// take pieces in that order; the owner, when it needs piece p (Await), runs
// it itself if no helper took it yet, or runs a later piece no helper took
// while a helper is still on p, and sleeps only when every piece is taken.
// So the owner's own work (what it does with the results, in order)
// overlaps the helpers' running of later pieces, no core idles while a
// piece is left, and a helper the scheduler wakes late costs nothing (the
// owner took its pieces).
//
// Threading: Start, Await and Finish are called by the owner only.
// run(piece, thread) runs on the owner (thread 0) or helper `thread`
// (1..helpers), always the same OS thread for a given number, so whatever it
// keeps per number (a Lua state) serves one thread. Pieces touch disjoint
// data; a piece's effects are visible to the owner once Await(piece)
// returns.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::transform::lua {

class ScriptThreads {
 public:
  using Run = std::function<void(size_t piece, size_t thread)>;

  // `helpers` threads beside the owner, named `name` + 1, 2, ...
  ScriptThreads(size_t helpers, const std::string& name);
  ~ScriptThreads();
  ScriptThreads(const ScriptThreads&) = delete;
  ScriptThreads& operator=(const ScriptThreads&) = delete;

  // Threads that may run pieces at once: the helpers and the owner.
  size_t size() const { return helpers_.size() + 1; }
  // Ends the batch before (Finish) and opens one of `pieces` pieces.
  void Start(size_t pieces, Run run);
  // Returns once `piece` of the open batch has run (see above).
  void Await(size_t piece);
  // Ends the open batch: pieces no thread took are not run; returns once
  // no helper runs one any more. Nothing to do without an open batch.
  void Finish();

 private:
  void Help(size_t thread);
  void RunPiece(size_t piece, size_t thread);

  Run run_;             // the open batch's; written only while no helper is in a batch
  size_t pieces_ = 0;   // likewise
  std::atomic<size_t> next_{0};  // the next piece to take; at or past pieces_: none left
  std::unique_ptr<std::atomic<uint8_t>[]> done_;  // per piece: it has run
  size_t done_capacity_ = 0;
  std::atomic<bool> owner_waiting_{false};

  std::mutex mu_;
  std::condition_variable wake_;   // helpers: a batch opened, or the end
  std::condition_variable owner_;  // the owner: a piece it waits for ran, or the last helper left the batch
  bool open_ = false;    // guarded by mu_
  uint64_t batch_ = 0;   // batches opened so far, guarded by mu_
  size_t inside_ = 0;    // helpers in the open batch, guarded by mu_
  bool stop_ = false;    // guarded by mu_
  std::vector<std::thread> helpers_;
};

}  // namespace sluice::transform::lua
