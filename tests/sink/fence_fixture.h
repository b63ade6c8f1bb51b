// What every target's fencing test builds on (design §10): the table shop.t
// (id INT, v INT), transactions of consecutive ids, their batch ends, and
// the pipeline's retry loop around a sink. The per-kind tests add only
// how they open their sink and read their target.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "sink/sink.h"

namespace sluice::sink::fence_test {

constexpr uint8_t kMysqlTypeLong = 3;  // INT

// shop.t (id, v) as the target sees it; `keyed` makes id its key (Kafka and
// Redis need one; keyless rows show any change applied twice).
inline TargetTablePtr ShopTable(bool keyed) {
  auto schema = std::make_shared<TableSchema>();
  schema->db = "shop";
  schema->table = "t";
  for (const char* name : {"id", "v"}) {
    ColumnMeta c;
    c.name = name;
    c.type = kMysqlTypeLong;
    schema->columns.push_back(c);
  }
  if (keyed) schema->primary_key = {0};
  auto t = std::make_shared<TargetTable>();
  t->db = "shop";
  t->table = "t";
  t->columns = {"id", "v"};
  if (keyed) t->key = {0};
  t->source = "shop.t";
  t->name_hash = TableNameHash(*t);
  t->source_schema = schema;
  t->source_index = {0, 1};
  return t;
}

// Transaction `txn` writes ids first..last with v = id * 10.
inline std::vector<SinkChange> Txn(const TargetTablePtr& table, uint64_t txn, int first, int last,
                                   SinkChange::Kind kind = SinkChange::Kind::kInsert) {
  std::vector<SinkChange> out;
  for (int id = first; id <= last; ++id) {
    SinkChange c;
    c.kind = kind;
    c.table = table;
    c.values = {Value::Int(id), Value::Int(id * 10)};
    c.pos = StreamPos{"binlog.000001", 1000 + 100 * txn, static_cast<uint64_t>(id - first + 1)};
    out.push_back(c);
  }
  return out;
}

inline BatchEnd EndOf(uint64_t txn) {
  return BatchEnd{StreamPos{"binlog.000001", 1000 + 100 * txn, StreamPos::kWholeTransaction},
                  "binlog.000001:" + std::to_string(1100 + 100 * txn), ""};
}

// What the pipeline does (Pipeline::CallSink): a retryable error is retried
// after Reconnect; returns the first error that is not.
inline Status ApplyLikeThePipeline(Sink& sink, const std::vector<SinkChange>& batch, const BatchEnd& end) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    Status st = sink.ApplyBatch(batch, end);
    if (st.ok() || !st.retryable()) return st;
    Status rc = sink.Reconnect();
    if (!rc.ok() && !rc.retryable()) return rc;
  }
  return Status::Error(StatusCode::kIoError, "still retrying");
}

}  // namespace sluice::sink::fence_test
