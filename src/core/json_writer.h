#pragma once
// JSON rendering of row changes in sluice's change format (design §4, a
// contract): one object per change, keys in a fixed order. Appends to a
// caller-owned buffer so the hot path reuses one string for every row.

#include <string>
#include <string_view>

#include "core/row_change.h"
#include "core/value.h"

namespace sluice {

void AppendJsonString(std::string& out, std::string_view s);
void AppendBase64(std::string& out, std::string_view bytes);
void AppendJsonValue(std::string& out, const Value& v);
// {"op":..,"db":..,"table":..,"pk":[..],"before":{..},"after":{..},"ts_ms":..,"gtid":..,"pos":".."}
void AppendRowChangeJson(std::string& out, const RowChange& change);

}  // namespace sluice
