#include "server/status_json.h"

#include <fmt/format.h>

namespace sluice::server {

using pipeline::CheckStatus;
using pipeline::PipelineState;
using pipeline::PipelineStateName;
using pipeline::PipelineStatus;
using pipeline::SnapshotTableProgress;
using pipeline::TargetStatus;

using Json = nlohmann::ordered_json;  // ordered: fields appear in the contract's order

namespace {

// "" means no error; null says so without a sentinel string.
Json ErrorOrNull(const std::string& e) { return e.empty() ? Json(nullptr) : Json(e); }

Json TargetJson(const TargetStatus& t) {
  Json j;
  j["name"] = t.name;
  j["state"] = PipelineStateName(t.state);
  j["applied_position"] = t.applied_position;
  j["applied_gtid"] = t.applied_gtid;
  j["delay_ms"] = t.delay_ms;
  j["rows_applied"] = t.rows_applied;
  j["rows_per_second"] = t.rows_per_second;  // NaN/Inf dump as null
  j["last_error"] = ErrorOrNull(t.last_error);
  Json tables = Json::array();
  for (const pipeline::TableStatus& tb : t.tables) {
    tables.push_back({{"table", tb.table},
                      {"inserts", tb.inserts},
                      {"updates", tb.updates},
                      {"deletes", tb.deletes},
                      {"delay_ms", tb.delay_ms}});
  }
  j["tables"] = std::move(tables);
  return j;
}

}  // namespace

Json PipelineStatusJson(const PipelineStatus& p) {
  Json j;
  j["name"] = p.name;
  j["state"] = PipelineStateName(p.state);
  j["source_position"] = p.source_position;
  j["applied_position"] = p.applied_position;
  j["delay_ms"] = p.delay_ms;
  j["rows_applied"] = p.rows_applied;
  j["last_error"] = ErrorOrNull(p.last_error);
  j["store_error"] = ErrorOrNull(p.store_error);
  Json targets = Json::array();
  for (const TargetStatus& t : p.targets) targets.push_back(TargetJson(t));
  j["targets"] = std::move(targets);
  j["conflicts"] = p.conflicts;  // two-way sync (design §13)
  if (p.has_snapshot) {
    Json snap;
    snap["phase"] = p.snapshot.phase;
    snap["start_position"] = p.snapshot.start_position;
    snap["rows_copied"] = p.snapshot.rows_copied;
    snap["error"] = ErrorOrNull(p.snapshot.error);
    Json tables = Json::array();
    for (const SnapshotTableProgress& t : p.snapshot.tables) {
      Json tj;
      tj["source"] = t.source;
      tj["target"] = t.target;
      tj["rows_copied"] = t.rows_copied;
      tj["rows_estimate"] = t.rows_estimate;
      tj["chunks_done"] = t.chunks_done;
      tj["chunks_total"] = t.chunks_total;
      tj["rows_per_second"] = t.rows_per_second;
      tj["eta_seconds"] = t.eta_seconds < 0 ? Json(nullptr) : Json(t.eta_seconds);
      tj["finished"] = t.finished;
      tables.push_back(std::move(tj));
    }
    snap["tables"] = std::move(tables);
    j["snapshot"] = std::move(snap);
  } else {
    j["snapshot"] = nullptr;
  }
  if (p.clustered) {
    j["owner"] = p.owner.empty() ? Json(nullptr) : Json(p.owner);
    j["epoch"] = p.epoch;
  }
  if (p.has_check) {
    const CheckStatus& c = p.check;
    Json cj;
    cj["state"] = c.state;
    cj["runs"] = c.runs;
    cj["last_started_ms"] = c.last_started_ms == 0 ? Json(nullptr) : Json(c.last_started_ms);
    cj["last_finished_ms"] = c.last_finished_ms == 0 ? Json(nullptr) : Json(c.last_finished_ms);
    cj["next_ms"] = c.next_ms;
    cj["last_duration_s"] = c.last_duration_s;
    cj["missing"] = c.missing;
    cj["extra"] = c.extra;
    cj["different"] = c.different;
    cj["in_flight"] = c.in_flight;
    cj["repaired_rows"] = c.repaired_rows;
    cj["remaining"] = c.remaining;
    cj["error"] = ErrorOrNull(c.error);
    cj["note"] = ErrorOrNull(c.note);
    j["check"] = std::move(cj);
  } else {
    j["check"] = nullptr;
  }
  Json events = Json::array();
  for (const pipeline::PipelineEvent& e : p.events) {
    Json ej;
    ej["time_ms"] = e.time_ms;
    ej["target"] = e.target.empty() ? Json(nullptr) : Json(e.target);
    ej["what"] = e.what;
    ej["message"] = e.message;
    events.push_back(std::move(ej));
  }
  j["events"] = std::move(events);
  return j;
}

Json PipelineDelayJson(const PipelineStatus& p) {
  Json j;
  j["name"] = p.name;
  j["delay_ms"] = p.delay_ms;
  Json targets = Json::array();
  for (const TargetStatus& t : p.targets) {
    Json tj;
    tj["name"] = t.name;
    tj["delay_ms"] = t.delay_ms;
    targets.push_back(std::move(tj));
  }
  j["targets"] = std::move(targets);
  return j;
}


namespace {

// Reads typed fields of one object; the first wrong one is remembered.
class Fields {
 public:
  Fields(const Json& j, std::string where) : j_(j), where_(std::move(where)) {}

  void Text(const char* key, std::string& out) {
    const Json* v = Find(key);
    if (!v) return;
    if (v->is_string()) {
      out = v->get<std::string>();
    } else {
      Wrong(key, "a string");
    }
  }
  template <typename T>
  void Number(const char* key, T& out) {
    const Json* v = Find(key);
    if (!v) return;
    if (v->is_number()) {
      out = v->get<T>();
    } else {
      Wrong(key, "a number");
    }
  }
  void Flag(const char* key, bool& out) {
    const Json* v = Find(key);
    if (!v) return;
    if (v->is_boolean()) {
      out = v->get<bool>();
    } else {
      Wrong(key, "true or false");
    }
  }
  void State(const char* key, PipelineState& out) {
    std::string name;
    Text(key, name);
    if (name.empty()) return;
    if (auto s = pipeline::PipelineStateFromName(name)) {
      out = *s;
    } else if (error_.empty()) {
      error_ = fmt::format("{}.{}: \"{}\" is not a pipeline state", where_, key, name);
    }
  }
  // An object or array member (null or absent: nullptr).
  const Json* Find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  void Wrong(const char* key, const char* expected) {
    if (error_.empty()) error_ = fmt::format("{}.{}: expected {}", where_, key, expected);
  }
  void Take(const Fields& inner) {
    if (error_.empty()) error_ = inner.error_;
  }
  const std::string& error() const { return error_; }

 private:
  const Json& j_;
  std::string where_;
  std::string error_;
};

}  // namespace

Result<PipelineStatus> PipelineStatusFromJson(const Json& j) {
  if (!j.is_object()) return Status::Invalid("pipeline status: expected a JSON object");
  PipelineStatus p;
  auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get<std::string>().empty()) {
    return Status::Invalid("pipeline status: no \"name\"");
  }
  p.name = name->get<std::string>();
  Fields f(j, "status of " + p.name);
  f.State("state", p.state);
  f.Text("source_position", p.source_position);
  f.Text("applied_position", p.applied_position);
  f.Number("delay_ms", p.delay_ms);
  f.Number("rows_applied", p.rows_applied);
  if (f.Find("conflicts")) f.Number("conflicts", p.conflicts);
  f.Text("last_error", p.last_error);
  f.Text("store_error", p.store_error);
  if (const Json* targets = f.Find("targets")) {
    if (!targets->is_array()) f.Wrong("targets", "an array");
    for (const Json& tj : targets->is_array() ? *targets : Json::array()) {
      TargetStatus t;
      Fields tf(tj, fmt::format("status of {}.targets[]", p.name));
      if (!tj.is_object()) {
        f.Wrong("targets", "an array of objects");
        break;
      }
      tf.Text("name", t.name);
      tf.State("state", t.state);
      tf.Text("applied_position", t.applied_position);
      if (tf.Find("applied_gtid")) tf.Text("applied_gtid", t.applied_gtid);
      tf.Number("delay_ms", t.delay_ms);
      tf.Number("rows_applied", t.rows_applied);
      tf.Number("rows_per_second", t.rows_per_second);
      tf.Text("last_error", t.last_error);
      if (const Json* tables = tf.Find("tables"); tables && tables->is_array()) {
        for (const Json& bj : *tables) {
          if (!bj.is_object()) continue;
          pipeline::TableStatus tb;
          Fields bf(bj, fmt::format("status of {}.targets[].tables[]", p.name));
          bf.Text("table", tb.table);
          bf.Number("inserts", tb.inserts);
          bf.Number("updates", tb.updates);
          bf.Number("deletes", tb.deletes);
          bf.Number("delay_ms", tb.delay_ms);
          tf.Take(bf);
          t.tables.push_back(std::move(tb));
        }
      }
      f.Take(tf);
      p.targets.push_back(std::move(t));
    }
  }
  if (const Json* snap = f.Find("snapshot"); snap && snap->is_object()) {
    p.has_snapshot = true;
    Fields sf(*snap, fmt::format("status of {}.snapshot", p.name));
    sf.Text("phase", p.snapshot.phase);
    sf.Text("start_position", p.snapshot.start_position);
    sf.Number("rows_copied", p.snapshot.rows_copied);
    sf.Text("error", p.snapshot.error);
    if (const Json* tables = sf.Find("tables"); tables && tables->is_array()) {
      for (const Json& tj : *tables) {
        if (!tj.is_object()) continue;
        SnapshotTableProgress t;
        Fields tf(tj, fmt::format("status of {}.snapshot.tables[]", p.name));
        tf.Text("source", t.source);
        tf.Text("target", t.target);
        tf.Number("rows_copied", t.rows_copied);
        tf.Number("rows_estimate", t.rows_estimate);
        tf.Number("chunks_done", t.chunks_done);
        tf.Number("chunks_total", t.chunks_total);
        tf.Number("rows_per_second", t.rows_per_second);
        tf.Number("eta_seconds", t.eta_seconds);
        tf.Flag("finished", t.finished);
        sf.Take(tf);
        p.snapshot.tables.push_back(std::move(t));
      }
    }
    f.Take(sf);
  }
  if (j.contains("owner")) {
    p.clustered = true;
    f.Text("owner", p.owner);
    f.Number("epoch", p.epoch);
  }
  if (const Json* check = f.Find("check"); check && check->is_object()) {
    p.has_check = true;
    CheckStatus& c = p.check;
    Fields cf(*check, fmt::format("status of {}.check", p.name));
    cf.Text("state", c.state);
    cf.Number("runs", c.runs);
    cf.Number("last_started_ms", c.last_started_ms);
    cf.Number("last_finished_ms", c.last_finished_ms);
    cf.Number("next_ms", c.next_ms);
    cf.Number("last_duration_s", c.last_duration_s);
    cf.Number("missing", c.missing);
    cf.Number("extra", c.extra);
    cf.Number("different", c.different);
    cf.Number("in_flight", c.in_flight);
    cf.Number("repaired_rows", c.repaired_rows);
    cf.Number("remaining", c.remaining);
    cf.Text("error", c.error);
    cf.Text("note", c.note);
    f.Take(cf);
  }
  if (const Json* events = f.Find("events"); events && events->is_array()) {
    for (const Json& ej : *events) {
      if (!ej.is_object()) continue;
      pipeline::PipelineEvent e;
      Fields ef(ej, fmt::format("status of {}.events[]", p.name));
      ef.Number("time_ms", e.time_ms);
      ef.Text("target", e.target);
      ef.Text("what", e.what);
      ef.Text("message", e.message);
      f.Take(ef);
      p.events.push_back(std::move(e));
    }
  }
  if (!f.error().empty()) return Status::Invalid("pipeline status: {}", f.error());
  return p;
}

}  // namespace sluice::server
