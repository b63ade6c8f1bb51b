#pragma once
// Named sync points (style.md rule 16): a test makes a sluice process stop
// dead at a chosen line, to prove what a crash there leaves behind.
//
//   SLUICE_SYNC_POINT("pg.partition.committed");
//
// The environment variable SLUICE_SYNC_POINTS lists actions by point name,
// comma-separated: `NAME=crash` kills the process with SIGKILL (as kill -9
// does) the first time it passes NAME, `NAME=crash@N` the N-th time.
// Unset, a point costs a check of one flag. Compiled to nothing when
// SLUICE_NO_SYNC_POINTS is defined (CMake's Release builds).
//
// In-process tests may instead run code of their own at a point
// (SetSyncPointAction), e.g. hold a sink's transaction open there.

#include <functional>
#include <string_view>

namespace sluice {

void SyncPointReached(std::string_view name);
// Runs `action` on the thread passing `name`, every time, until replaced;
// an empty action removes it. For tests in one process.
void SetSyncPointAction(std::string_view name, std::function<void()> action);

}  // namespace sluice

#ifdef SLUICE_NO_SYNC_POINTS
#define SLUICE_SYNC_POINT(name) ((void)0)
#else
#define SLUICE_SYNC_POINT(name) ::sluice::SyncPointReached(name)
#endif
