#pragma once
// Reads a Kafka target's last position record back on Open: a consumer
// without a group (nothing committed), read_committed, on partition 0 of
// the checkpoint topic, scanning back from the end in growing windows until
// it meets the record of its key. A producer of the same transactional.id
// must have been initialised first: that aborts a transaction a crashed
// process left open, which would otherwise hold read_committed back.

#include <map>
#include <optional>
#include <string>

#include "core/interrupter.h"
#include "core/status.h"
#include "core/url.h"

namespace sluice::sink::kafka {

// The value of the last record with `key` (nullopt: none, or a tombstone).
// Unreachable brokers give a retryable error, at once once `interrupt`
// (may be null) is interrupted: its waits look at it every 500 ms.
Result<std::optional<std::string>> ReadLastValue(const Url& url, const std::string& topic, const std::string& key,
                                                 const Interrupter* interrupt = nullptr);
// The last value of every key that starts with `prefix` (keys whose last
// record is a tombstone left out), reading the whole partition.
Result<std::map<std::string, std::string>> ReadValuesWithPrefix(const Url& url, const std::string& topic,
                                                                const std::string& prefix,
                                                                const Interrupter* interrupt = nullptr);

}  // namespace sluice::sink::kafka
