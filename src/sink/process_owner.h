#pragma once
// One sluice process at a time applies a pipeline to a target (outside
// cluster mode, where the epoch fence does it). Two processes running the
// same configuration (a copy on a second host, a deploy overlapping the old
// instance, one forgotten in a terminal) would each apply every change: rows
// doubled in keyless tables, older images over newer rows. So the SQL
// targets record which process owns a pipeline's target, and a second one
// waits (the target shows `retrying`, naming the first) until the first's
// session on the target is gone, then takes over.
//
// An owner whose session sits idle for takeover_after (a host dead or
// frozen with its connections open) is ended and taken over: a live one
// keeps a session busy every OwnerPingInterval.
//
// What both SQL targets share: this process's token, its description, the
// ping interval.

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice::sink {

// Random, made once per process: every sink of this process carries it, so
// a pipeline's catch-up stream or a new start is not taken for another owner.
const std::string& ProcessToken();

// "HOST pid N", for the messages another process shows about this one.
const std::string& ProcessDescription();
// This host's name ("?" when unknown).
const std::string& ProcessHost();
// Whether a process that recorded `host` and `pid` is known to be gone:
// it ran on this host and that pid runs no longer (kill(pid, 0)). False
// when that cannot be told (another host).
bool GoneFromThisHost(const std::string& host, const std::string& pid);

// How often an owner shows itself alive for a takeover time (a fifth of
// it, within 100 ms .. 2 s).
std::chrono::milliseconds OwnerPingInterval(uint64_t takeover_after_ms);

}  // namespace sluice::sink
