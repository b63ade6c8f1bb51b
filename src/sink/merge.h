#pragma once
// Batch shaping for keyed apply: partitioning by key hash (so one row's
// changes always go to the same connection, in order) and merging the changes
// to one key inside a batch down to the final one (insert+update -> upsert of
// the final image, update+delete -> delete, delete+insert -> upsert).

#include <cstdint>
#include <vector>

#include "core/sink_change.h"

namespace sluice::sink {

// Hash of a change's table and key values; keyless changes hash their table
// only, so a keyless table's changes stay in one partition, in order.
uint64_t KeyHash(const SinkChange& c);

// Equal keys (same table, same key values).
bool SameKey(const SinkChange& a, const SinkChange& b);

// The final change per key, in order of each key's first appearance; deletes
// and upserts keep their relative order only per key. Keyless changes are
// returned as they are, in order. `changes` are moved from.
std::vector<SinkChange> MergeByKey(std::vector<SinkChange> changes);

}  // namespace sluice::sink
