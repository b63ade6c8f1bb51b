#pragma once
// The `sluice run -c FILE` configuration (design §5, a contract): loading,
// validation and the small pure helpers that interpret table rules.
//
// LoadConfig/ParseConfig validate everything that can be checked without a
// server before anything runs, and return the first problem as ONE message
// naming the file, line, column and key path:
//
//   sluice.yaml:14:9: pipelines[0].tables[1].colums: unknown key (did you mean "columns"?)
//
// Messages never contain a password: URLs are printed redacted, and passwords
// read from `password_env` are never printed. What needs a server (a pattern
// that matches no table, a `where:` expression against the table's columns,
// the DDL default per table) is left to the runner, which gets the marks to
// report it the same way (FormatConfigError).
//
// A Config is a plain value: immutable once loaded, safe to share across
// threads for reading.

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "transform/lua/lua_row_transform.h"
#include "core/glob.h"
#include "core/status.h"
#include "core/url.h"
#include "pipeline/alarm_rules.h"
#include "sink/sink.h"

namespace sluice::pipeline {

// A place in the config file, 1-based. line == 0 when there is none (a
// default value, or a Config built in code).
struct Mark {
  std::string file;
  int line = 0;
  int column = 0;
};

struct SourceConfig {
  std::string name;
  std::string url;           // as written; may hold a password: print endpoint.ToRedactedString()
  uint32_t server_id = 0;    // 0: not given (the source picks a random replica id)
  std::string password_env;  // the variable the password came from, or ""
  uint32_t heartbeat_ms = 1000;
  Mark mark;
  // `url` parsed, with the password from `password_env` applied: what
  // connectors use.
  Url endpoint;
};

struct TargetConfig {
  std::string name;
  std::string url;           // as written; may hold a password: print endpoint.ToRedactedString()
  std::string password_env;  // the variable the password came from, or ""
  Mark mark;
  Url endpoint;  // `url` parsed, with the password from `password_env` applied
  // The kind's own settings (format, topic, mode, ...), section 9; the
  // pipeline fills in names, parallel and on_error when it opens the sink.
  sink::SinkOptions options;
};

// Values are stable: they may be persisted. kUnset: the user did not choose;
// the runner applies DDL for 1:1 same-name rules and stops otherwise.
enum class DdlMode : uint8_t { kUnset = 0, kApply = 1, kIgnore = 2, kStop = 3 };
enum class OnError : uint8_t { kStop = 0, kSkip = 1 };
// `snapshot:` of a pipeline. kInitial: copy the existing rows before
// streaming when the pipeline has no checkpoint on a target.
enum class SnapshotMode : uint8_t { kNever = 0, kInitial = 1 };

// `check: {every: 1h, repair: false}`: periodic consistency checks in `sluice run`.
struct CheckSchedule {
  uint64_t every_ms = 0;  // 0: no periodic check
  bool repair = false;    // repair differences found (else only report them)
};

const char* DdlModeName(DdlMode mode);  // "unset" | "apply" | "ignore" | "stop"
const char* OnErrorName(OnError mode);  // "stop" | "skip"

struct TableRule {
  std::string match;  // the glob, or the regex without its slashes when is_regex
  bool is_regex = false;
  std::string to;                    // "${db}.${table}"-style template; "" keeps the source name
  std::vector<std::string> columns;  // empty: all columns
  std::vector<std::pair<std::string, std::string>> rename_columns;  // source name -> target name, in file order
  std::string where;  // row filter text, "" for none; parsed by the runner
  // SQL condition run on the source by snapshots only (sharded backfill),
  // e.g. "id >= 0 AND id < 1000000"; "" for none.
  std::string snapshot_where;
  DdlMode ddl = DdlMode::kUnset;
  Mark mark, where_mark, columns_mark, snapshot_where_mark;
  Mark match_mark, to_mark;  // where `match:` and `to:` values are
  Mark rename_columns_mark;
  std::string key_path;      // "pipelines[0].tables[1]", for the runner's messages
  // The compiled `match` when is_regex (shared: rules are copied with their
  // Config, std::regex is immutable once built and safe to use concurrently).
  std::shared_ptr<const std::regex> regex;
  // `transform: {lua: FILE}`: the script as written (name) and its text,
  // read and compiled once when the configuration loads; null for none.
  std::shared_ptr<const transform::lua::LuaScript> lua;
  Mark lua_mark;
};

struct PipelineConfig {
  std::string name;
  std::string source;
  std::vector<std::string> targets;
  std::string start = "latest";  // as written (validated by StartPosition::Parse)
  std::vector<TableRule> tables;
  size_t batch_size = 1000;
  uint32_t batch_timeout_ms = 200;
  uint32_t parallel = 4;
  // `lua_threads:` threads that may run the rules' Lua scripts at once; 0:
  // one fewer than the cores (at least 1, at most 4).
  uint32_t lua_threads = 0;
  DdlMode ddl = DdlMode::kUnset;
  OnError on_error = OnError::kStop;
  std::string skip_log;  // absolute path; default "<store dir>/<name>.skipped.jsonl"
  uint64_t queue_bytes = 16 << 20;
  // `detach_after: 5m | never`: a target that cannot be written for this
  // long, while another target of the pipeline can, is set aside so that
  // the others go on (bounded queues would hold them back); once it answers
  // again the pipeline starts anew and it catches up from its checkpoint.
  // 0: never (the down target holds the pipeline, as a single one does).
  uint64_t detach_after_ms = 5 * 60'000;
  // `takeover_after: 30s | never`: a process waiting to apply this pipeline
  // to a MySQL/PostgreSQL target that another process owns takes over once
  // the owner's session there has been idle this long (the owner keeps it
  // busy while it lives, so idle means a host dead or frozen with its
  // connections left open); it ends that process's sessions first. 0: never
  // (it waits until the server drops them).
  uint64_t takeover_after_ms = 30'000;
  SnapshotMode snapshot = SnapshotMode::kNever;
  // `renamed_out: keep | drop`: the target table of a table renamed out of
  // the selection is kept (no longer updated) or dropped.
  bool drop_renamed_out = false;
  uint64_t chunk_rows = 10000;  // rows per snapshot copy / check checksum chunk
  CheckSchedule check;
  // `nodes: {labels: [...]}` (cluster mode): only nodes with every one of
  // these labels may own the pipeline; empty: any node.
  std::vector<std::string> node_labels;
  // `peer: OTHER` (two-way sync, design §13): the pipeline running the other
  // way between the same two MySQL/MariaDB servers. This pipeline's capture
  // drops the source transactions that peer applied (they carry its
  // checkpoint row), so no change echoes back. "" for none.
  std::string peer;
  Mark peer_mark;
  // `conflict: {policy: source_wins | latest_wins, column: NAME}`: with
  // latest_wins (conflict_column set) a MySQL target applies an incoming
  // row only when its column is at least the target row's (sink.h).
  // "" : source_wins, the default.
  std::string conflict_column;
  Mark conflict_mark;
  Mark mark;
  std::string key_path;  // "pipelines[0]"
  // Not from YAML: the ownership epoch a cluster node runs the pipeline
  // with (design §10), handed to every sink; 0 outside cluster mode.
  uint64_t epoch = 0;
};

// `cluster:` (design section 10): the ZooKeeper ensemble and the cluster's
// name in it. In the manager's file and in each node's.
struct ClusterConfig {
  std::string name;
  std::string zookeeper;  // "host:port,host:port,..."
  uint32_t session_timeout_ms = 6000;
  // The manager's way into nodes whose API has auth: / http_tls: a bearer
  // token from this environment variable (a secret: never printed), and
  // the CA file that signed the nodes' certificates ("" for the system's).
  std::string node_token_env;
  std::string node_token;
  std::string node_ca;
  Mark mark;
};

// `auth:` (design section 11): who may use the HTTP API. Secrets: a hash
// and a token are never printed, logged or answered.
struct AuthUser {
  std::string name;
  std::string password_hash;  // argon2id, made by `sluice passwd`
  std::string role;           // "viewer" | "operator" | "admin"
  Mark mark;
};
struct AuthToken {
  std::string name;
  std::string token_env;  // the variable the token was read from
  std::string token;      // its value
  std::string role;
  Mark mark;
};
struct AuthConfig {
  std::vector<AuthUser> users;
  std::vector<AuthToken> tokens;
  Mark mark;
};
// `http_tls: {cert, key}`: the http: address serves HTTPS only.
struct HttpTlsConfig {
  std::string cert;  // absolute paths
  std::string key;
  Mark mark;
};
// `audit: {path, retention_days}`: the audit trail's directory.
struct AuditConfig {
  std::string path;  // absolute
  uint32_t retention_days = 2555;
  Mark mark;
};

struct Config {
  std::string path;   // the config file, as given
  std::string store;  // absolute SQLite path (relative ones resolved against the config's directory), or a zk:// URL
  std::string http;   // "host:port", "" when the HTTP API is off
  std::vector<SourceConfig> sources;
  std::vector<TargetConfig> targets;
  std::vector<PipelineConfig> pipelines;
  std::optional<ClusterConfig> cluster;  // set in a manager's file (`sluice run` ignores it)
  std::optional<AuthConfig> auth;        // none: no access control (then http: must be loopback)
  std::optional<HttpTlsConfig> http_tls;
  std::optional<AuditConfig> audit;
  std::optional<AlarmsConfig> alarms;    // `alarms:` (design §11), pipeline/alarm_rules.h

  const SourceConfig* FindSource(std::string_view name) const;
  const TargetConfig* FindTarget(std::string_view name) const;
  const PipelineConfig* FindPipeline(std::string_view name) const;
};

// The options a pipeline opens one of its targets with (sink or chunk target).
sink::SinkOptions TargetSinkOptions(const PipelineConfig& pipeline, const TargetConfig& target);

// Reads and validates FILE. IoError when it cannot be read, InvalidArgument
// for everything else.
Result<Config> LoadConfig(const std::string& path);
// Validates `yaml_text` as if read from `path_for_messages` (which also
// anchors relative paths).
Result<Config> ParseConfig(std::string_view yaml_text, const std::string& path_for_messages);

// A node's file (`sluice node -c node.yaml`, design section 10): the cluster
// and the node itself; pipelines come from the configuration the manager
// published.
struct NodeConfig {
  std::string path;
  ClusterConfig cluster;
  std::string id;
  std::vector<std::string> labels;
  std::string http;   // "host:port" of its status API and /metrics, "" for none
  std::string store;  // absolute SQLite path; default "<config dir>/<id>.db"
  // As for `sluice run` (design section 11): http: beyond loopback needs auth:.
  std::optional<AuthConfig> auth;
  std::optional<HttpTlsConfig> http_tls;
  std::optional<AuditConfig> audit;
};
Result<NodeConfig> LoadNodeConfig(const std::string& path);
Result<NodeConfig> ParseNodeConfig(std::string_view yaml_text, const std::string& path_for_messages);

// Whether an http: address ("127.0.0.1:8700", "[::1]:8700", "localhost:1")
// listens on loopback only.
bool IsLoopbackListen(std::string_view listen);

// "sluice.yaml:12:7"; just the file when the mark has no line.
std::string FormatMark(const Mark& mark);
// "sluice.yaml:12:7: pipelines[0].tables[1].match: MESSAGE": how the runner
// reports config problems it finds later, in the loader's format.
std::string FormatConfigError(const Mark& mark, std::string_view key_path, std::string_view message);

// Expands "${db}" and "${table}" in `tmpl`. An empty template is the source
// name, "db.table". Unknown or unterminated ${...} are copied as they are
// (validation rejects them at load time).
std::string ExpandTableTemplate(std::string_view tmpl, std::string_view db, std::string_view table);

// Whether "db.table" is selected by the rule: a glob ('*' any run of
// characters, '.' included; '?' one character) or a regex matched against the
// whole name. Case-sensitive, like table names on Linux servers.
bool MatchesTableRule(const TableRule& rule, std::string_view db, std::string_view table);


}  // namespace sluice::pipeline
