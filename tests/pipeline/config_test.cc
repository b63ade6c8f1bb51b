#include "pipeline/config.h"
#include "sink/registry.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;

// Design §5, verbatim.
constexpr const char* kDesignExample =
    R"(store: ./var/sluice.db              # embedded default; zk://h1:2181,h2:2181/sluice in cluster mode
http: 127.0.0.1:8700                # status API and /metrics
sources:
  main: {url: "mysql://repl:secret@127.0.0.1:3306", server_id: 4242}
targets:
  search: {url: "mysql://app:secret@127.0.0.1:3307"}
  report: {url: "mysql://app:secret@127.0.0.1:3308"}
pipelines:
  - name: orders_to_search
    source: main
    targets: [search, report]       # fan-out: one capture, several loads
    start: latest                   # latest | earliest | "0-1-100" | "binlog.000003:4"
    tables:
      - match: "shop.order_*"       # glob; "/regex/" for a regex
        to: "search_db.${table}"    # rename; ${db} and ${table} expand
        columns: [id, name, level, status]   # subset; the key must stay
        rename_columns: {name: title}
        where: "status != 'deleted'"         # row filter, see below
    batch: {size: 1000, timeout_ms: 200}
    parallel: 8                     # loader connections per target
)";

TEST(ConfigLoad, DesignExample) {
  auto c = ParseConfig(kDesignExample, "/etc/sluice/sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->path, "/etc/sluice/sluice.yaml");
  EXPECT_EQ(c->store, "/etc/sluice/var/sluice.db");
  EXPECT_EQ(c->http, "127.0.0.1:8700");

  ASSERT_EQ(c->sources.size(), 1u);
  const SourceConfig& main = c->sources[0];
  EXPECT_EQ(main.name, "main");
  EXPECT_EQ(main.url, "mysql://repl:secret@127.0.0.1:3306");
  EXPECT_EQ(main.server_id, 4242u);
  EXPECT_EQ(main.heartbeat_ms, 1000u);
  EXPECT_EQ(main.password_env, "");
  EXPECT_EQ(main.endpoint.scheme, "mysql");
  EXPECT_EQ(main.endpoint.user, "repl");
  EXPECT_EQ(main.endpoint.password, "secret");
  EXPECT_EQ(main.endpoint.host, "127.0.0.1");
  EXPECT_EQ(main.endpoint.port, 3306);
  EXPECT_EQ(FormatMark(main.mark), "/etc/sluice/sluice.yaml:4:3");

  ASSERT_EQ(c->targets.size(), 2u);
  EXPECT_EQ(c->targets[0].name, "search");
  EXPECT_EQ(c->targets[0].endpoint.port, 3307);
  EXPECT_EQ(c->targets[1].name, "report");
  EXPECT_EQ(c->targets[1].url, "mysql://app:secret@127.0.0.1:3308");
  EXPECT_EQ(c->targets[1].endpoint.ToRedactedString(), "mysql://app:***@127.0.0.1:3308");

  ASSERT_EQ(c->pipelines.size(), 1u);
  const PipelineConfig& p = c->pipelines[0];
  EXPECT_EQ(p.name, "orders_to_search");
  EXPECT_EQ(p.source, "main");
  EXPECT_EQ(p.targets, (std::vector<std::string>{"search", "report"}));
  EXPECT_EQ(p.start, "latest");
  EXPECT_EQ(p.batch_size, 1000u);
  EXPECT_EQ(p.batch_timeout_ms, 200u);
  EXPECT_EQ(p.parallel, 8u);
  EXPECT_EQ(p.ddl, DdlMode::kUnset);
  EXPECT_EQ(p.on_error, OnError::kStop);
  EXPECT_EQ(p.skip_log, "/etc/sluice/var/orders_to_search.skipped.jsonl");
  EXPECT_EQ(p.queue_bytes, 16u << 20);
  EXPECT_EQ(p.detach_after_ms, 300'000u);
  EXPECT_EQ(FormatMark(p.mark), "/etc/sluice/sluice.yaml:9:5");
  EXPECT_EQ(p.key_path, "pipelines[0]");

  ASSERT_EQ(p.tables.size(), 1u);
  const TableRule& r = p.tables[0];
  EXPECT_EQ(r.match, "shop.order_*");
  EXPECT_FALSE(r.is_regex);
  EXPECT_EQ(r.to, "search_db.${table}");
  EXPECT_EQ(r.columns, (std::vector<std::string>{"id", "name", "level", "status"}));
  ASSERT_EQ(r.rename_columns.size(), 1u);
  EXPECT_EQ(r.rename_columns[0], (std::pair<std::string, std::string>{"name", "title"}));
  EXPECT_EQ(r.where, "status != 'deleted'");
  EXPECT_EQ(r.ddl, DdlMode::kUnset);
  EXPECT_EQ(FormatMark(r.mark), "/etc/sluice/sluice.yaml:14:9");
  EXPECT_EQ(FormatMark(r.match_mark), "/etc/sluice/sluice.yaml:14:16");
  EXPECT_EQ(FormatMark(r.to_mark), "/etc/sluice/sluice.yaml:15:13");
  EXPECT_EQ(FormatMark(r.columns_mark), "/etc/sluice/sluice.yaml:16:18");
  EXPECT_EQ(FormatMark(r.where_mark), "/etc/sluice/sluice.yaml:18:16");
  EXPECT_EQ(r.key_path, "pipelines[0].tables[0]");

  EXPECT_EQ(c->FindSource("main"), &c->sources[0]);
  EXPECT_EQ(c->FindTarget("report"), &c->targets[1]);
  EXPECT_EQ(c->FindPipeline("orders_to_search"), &c->pipelines[0]);
  EXPECT_EQ(c->FindSource("nope"), nullptr);
  EXPECT_EQ(c->FindTarget("main"), nullptr);
  EXPECT_EQ(c->FindPipeline(""), nullptr);
}

TEST(ConfigLoad, EveryKeyOfTheContract) {
  setenv("SLUICE_CONFIG_TEST_PW", "from-env", 1);
  auto c = ParseConfig(R"(
store: /data/sluice/state.db
sources:
  main: {url: "mariadb://repl@db1:3306", server_id: 7, password_env: SLUICE_CONFIG_TEST_PW, heartbeat_ms: 500}
  other: {url: "mysql://repl:x@db2"}
targets:
  search: {url: "mysql://app@127.0.0.1:3307/search_db?tls=required", password_env: SLUICE_CONFIG_TEST_PW}
pipelines:
  - name: orders-1.a
    source: main
    targets: search
    start: "0-1-100"
    tables:
      - match: "/shop\\.order_(items|lines)/"
        ddl: stop
      - match: "shop.users"
        ddl: ignore
        snapshot_where: "id >= 0 AND id < 1000000"
      - "shop.products"
    batch: {size: 100000, timeout_ms: 60000}
    parallel: 64
    lua_threads: 3
    ddl: apply
    on_error: skip
    skip_log: ./var/skipped.jsonl
    queue_bytes: 1GiB
    detach_after: 90s
    takeover_after: 1m
    snapshot: initial
    chunk_rows: 5000
    check: {every: 1h, repair: true}
  - name: second
    source: other
    targets: [search]
    start: "binlog.000003:4"
    tables: [{match: "*.*"}]
    queue_bytes: 2 MB
    detach_after: Never
    takeover_after: never
  - name: third
    source: other
    targets: [search]
    start: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"
    tables: [{match: "a.b"}]
    queue_bytes: 1048576
)",
                       "/etc/sluice/conf.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->store, "/data/sluice/state.db");
  EXPECT_EQ(c->http, "");

  const SourceConfig& main = c->sources[0];
  EXPECT_EQ(main.server_id, 7u);
  EXPECT_EQ(main.heartbeat_ms, 500u);
  EXPECT_EQ(main.password_env, "SLUICE_CONFIG_TEST_PW");
  EXPECT_EQ(main.url, "mariadb://repl@db1:3306");
  EXPECT_EQ(main.endpoint.password, "from-env");
  EXPECT_TRUE(main.endpoint.has_password);
  EXPECT_EQ(main.endpoint.scheme, "mariadb");
  EXPECT_EQ(c->sources[1].server_id, 0u);  // not given: the source picks one
  EXPECT_EQ(c->targets[0].endpoint.password, "from-env");
  EXPECT_EQ(c->targets[0].endpoint.path, "search_db");
  EXPECT_EQ(c->targets[0].endpoint.Param("tls"), "required");

  const PipelineConfig& p = c->pipelines[0];
  EXPECT_EQ(p.name, "orders-1.a");
  EXPECT_EQ(p.targets, std::vector<std::string>{"search"});
  EXPECT_EQ(p.start, "0-1-100");
  ASSERT_EQ(p.tables.size(), 3u);
  EXPECT_TRUE(p.tables[0].is_regex);
  EXPECT_EQ(p.tables[0].match, "shop\\.order_(items|lines)");
  EXPECT_EQ(p.tables[0].ddl, DdlMode::kStop);
  EXPECT_EQ(p.tables[0].to, "");
  EXPECT_TRUE(p.tables[0].columns.empty());
  EXPECT_EQ(p.tables[1].ddl, DdlMode::kIgnore);
  EXPECT_EQ(p.tables[2].match, "shop.products");
  EXPECT_EQ(p.tables[2].key_path, "pipelines[0].tables[2]");
  EXPECT_EQ(p.batch_size, 100000u);
  EXPECT_EQ(p.batch_timeout_ms, 60000u);
  EXPECT_EQ(p.parallel, 64u);
  EXPECT_EQ(p.lua_threads, 3u);
  EXPECT_EQ(p.ddl, DdlMode::kApply);
  EXPECT_EQ(p.on_error, OnError::kSkip);
  EXPECT_EQ(p.skip_log, "/etc/sluice/var/skipped.jsonl");
  EXPECT_EQ(p.queue_bytes, uint64_t{1} << 30);
  EXPECT_EQ(p.detach_after_ms, 90'000u);
  EXPECT_EQ(p.takeover_after_ms, 60'000u);
  EXPECT_EQ(p.snapshot, SnapshotMode::kInitial);
  EXPECT_EQ(p.chunk_rows, 5000u);
  EXPECT_EQ(p.check.every_ms, 3'600'000u);
  EXPECT_TRUE(p.check.repair);
  EXPECT_EQ(p.tables[1].snapshot_where, "id >= 0 AND id < 1000000");
  EXPECT_EQ(p.tables[0].snapshot_where, "");

  EXPECT_EQ(c->pipelines[1].start, "binlog.000003:4");
  EXPECT_EQ(c->pipelines[1].queue_bytes, 2'000'000u);
  EXPECT_EQ(c->pipelines[1].detach_after_ms, 0u);
  EXPECT_EQ(c->pipelines[1].takeover_after_ms, 0u);
  EXPECT_EQ(c->pipelines[2].takeover_after_ms, 30'000u) << "the default";
  EXPECT_EQ(c->pipelines[1].parallel, 4u);
  EXPECT_EQ(c->pipelines[1].lua_threads, 0u) << "unset: the cores - 1, at most 4";
  EXPECT_EQ(c->pipelines[1].snapshot, SnapshotMode::kNever);
  EXPECT_EQ(c->pipelines[1].chunk_rows, 10000u);
  EXPECT_EQ(c->pipelines[1].check.every_ms, 0u);
  EXPECT_EQ(c->pipelines[1].skip_log, "/data/sluice/second.skipped.jsonl");
  EXPECT_EQ(c->pipelines[2].queue_bytes, 1048576u);
  unsetenv("SLUICE_CONFIG_TEST_PW");
}

TEST(ConfigLoad, EnumNames) {
  EXPECT_STREQ(DdlModeName(DdlMode::kUnset), "unset");
  EXPECT_STREQ(DdlModeName(DdlMode::kApply), "apply");
  EXPECT_STREQ(DdlModeName(DdlMode::kIgnore), "ignore");
  EXPECT_STREQ(DdlModeName(DdlMode::kStop), "stop");
  EXPECT_STREQ(OnErrorName(OnError::kStop), "stop");
  EXPECT_STREQ(OnErrorName(OnError::kSkip), "skip");
}

// A valid config whose lines the error cases below refer to. Extra lines
// appended by a case start at line 12: pipeline keys at column 5, keys of the
// table rule at column 9.
constexpr const char* kBase =
    "sources:\n"                                                                   // 1
    "  main: {url: \"mysql://repl:topsecret@127.0.0.1:3306\", server_id: 4242}\n"  // 2
    "targets:\n"                                                                   // 3
    "  search: {url: \"mysql://app:topsecret@127.0.0.1:3307\"}\n"                  // 4
    "  report: {url: \"mysql://app:topsecret@127.0.0.1:3308\"}\n"                  // 5
    "pipelines:\n"                                                                 // 6
    "  - name: p1\n"                                                               // 7
    "    source: main\n"                                                           // 8
    "    targets: [search]\n"                                                      // 9
    "    tables:\n"                                                                // 10
    "      - match: \"shop.*\"\n";                                                 // 11

std::string Base(std::string_view extra = "") { return std::string(kBase) + std::string(extra); }

// kBase with one line replaced (line numbers stay).
std::string BaseWith(std::string_view line, std::string_view replacement) {
  std::string s = kBase;
  size_t at = s.find(line);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no line " << line;
    return s;
  }
  return s.replace(at, line.size(), replacement);
}

TEST(ConfigLoad, BaseIsValid) {
  auto c = ParseConfig(Base(), "sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
}

// A PostgreSQL source is checked (and repaired) into ClickHouse and Redis
// targets as into PostgreSQL and MySQL ones.
// `check:` without `every`: no periodic check, but `repair` rules the
// checks that run on request and after a copy of newly selected tables.
TEST(ConfigLoad, CheckRepairWithoutPeriodicChecks) {
  auto c = ParseConfig(Base("    check: {repair: true}\n"), "sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pipelines[0].check.every_ms, 0u);
  EXPECT_TRUE(c->pipelines[0].check.repair);
}

TEST(ConfigLoad, PostgresSourceChecksClickhouseAndRedisTargets) {
  for (const char* url : {"\"clickhouse://default@127.0.0.1:8123/dw\"}", "\"redis://127.0.0.1:6379/0\"}"}) {
    std::string yaml = BaseWith("\"mysql://repl:topsecret@127.0.0.1:3306\"", "\"postgres://repl:topsecret@db/shop\"");
    const std::string from = "\"mysql://app:topsecret@127.0.0.1:3307\"}";
    yaml.replace(yaml.find(from), from.size(), url);
    auto c = ParseConfig(yaml + "    check: {every: 1h, repair: true}\n", "sluice.yaml");
    EXPECT_TRUE(c.ok()) << url << ": " << c.status().message();
  }
}

struct ErrorCase {
  std::string name;
  std::string yaml;
  std::string message;  // exact
};

std::vector<ErrorCase> ErrorCases() {
  return {
      // YAML syntax.
      {"yaml_syntax", "sources: [a, b\n", "sluice.yaml:2:1: YAML syntax error: end of sequence flow not found"},
      {"yaml_tab_indent", Base("    parallel: 4\n\t- x\n"),
       "sluice.yaml:13:1: YAML syntax error: illegal tab when looking for indentation"},
      {"empty_file", "# nothing\n",
       "sluice.yaml: the configuration is empty; it needs sources:, targets: and pipelines:"},
      {"two_documents", Base("---\nsources: {}\n"), "sluice.yaml:13:1: expected one YAML document, found 2"},
      {"root_not_a_map", "- a\n- b\n",
       "sluice.yaml:1:1: expected a map with sources:, targets: and pipelines:, got a list"},

      // Unknown keys, at every level.
      {"unknown_key_rule", Base("        colums: [id]\n"),
       "sluice.yaml:12:9: pipelines[0].tables[0].colums: unknown key (did you mean \"columns\"?)"},
      {"unknown_key_root", "sotre: x.db\n" + Base(), "sluice.yaml:1:1: sotre: unknown key (did you mean \"store\"?)"},
      {"unknown_key_root_far", "logging: debug\n" + Base(),
       "sluice.yaml:1:1: logging: unknown key (expected one of: store, http, sources, targets, pipelines, cluster, "
       "auth, http_tls, audit, alarms)"},
      {"unknown_key_source", BaseWith("server_id: 4242}", "serverid: 4242}"),
       "sluice.yaml:2:56: sources.main.serverid: unknown key (did you mean \"server_id\"?)"},
      {"unknown_key_target", BaseWith("  search: {url:", "  search: {uri:"),
       "sluice.yaml:4:12: targets.search.uri: unknown key (did you mean \"url\"?)"},
      {"unknown_key_pipeline", Base("    target: [report]\n"),
       "sluice.yaml:12:5: pipelines[0].target: unknown key (did you mean \"targets\"?)"},
      {"unknown_key_batch", Base("    batch: {size: 10, timeout: 5}\n"),
       "sluice.yaml:12:23: pipelines[0].batch.timeout: unknown key (expected one of: size, timeout_ms)"},
      {"duplicate_key", Base("    parallel: 2\n    parallel: 3\n"),
       "sluice.yaml:13:5: pipelines[0].parallel: duplicate key (first at sluice.yaml:12:5)"},

      // Wrong types.
      {"list_for_map", Base("    batch: [1000, 200]\n"),
       "sluice.yaml:12:12: pipelines[0].batch: expected a map, got a list"},
      {"map_for_string", BaseWith("    source: main\n", "    source: {name: main}\n"),
       "sluice.yaml:8:13: pipelines[0].source: expected a string, got a map"},
      {"sources_list", BaseWith("  main: {url:", "  - {url:"),
       "sluice.yaml:2:3: sources: expected a map of NAME: {url: ...}, got a list"},
      {"pipelines_map", Base().substr(0, Base().find("pipelines:")) + "pipelines:\n  p1: {}\n",
       "sluice.yaml:7:3: pipelines: expected a list of pipelines (- name: ...), got a map"},
      {"string_for_integer", Base("    parallel: abc\n"),
       "sluice.yaml:12:15: pipelines[0].parallel: expected an integer from 1 to 64, got \"abc\""},
      {"float_for_integer", Base("    parallel: 1.5\n"),
       "sluice.yaml:12:15: pipelines[0].parallel: expected an integer from 1 to 64, got \"1.5\""},
      {"negative_integer", Base("    batch: {size: -5}\n"),
       "sluice.yaml:12:19: pipelines[0].batch.size: expected an integer from 1 to 100000, got a negative number (-5)"},
      {"boolean_for_integer", Base("    parallel: true\n"),
       "sluice.yaml:12:15: pipelines[0].parallel: expected an integer from 1 to 64, got a boolean (true)"},
      {"list_for_integer", Base("    parallel: [1]\n"),
       "sluice.yaml:12:15: pipelines[0].parallel: expected an integer from 1 to 64, got a list"},
      {"null_integer", Base("    parallel:\n"),
       "sluice.yaml:12:5: pipelines[0].parallel: expected an integer from 1 to 64, got nothing"},
      {"rule_list", Base("      - [a, b]\n"),
       "sluice.yaml:12:9: pipelines[0].tables[1]: expected a table rule (match: \"db.table\" ...), got a list"},

      // Required values.
      {"missing_sources", Base().substr(Base().find("targets:")), "sluice.yaml:1:1: sources: required key is missing"},
      {"missing_targets", Base().substr(0, Base().find("targets:")) + Base().substr(Base().find("pipelines:")),
       "sluice.yaml:1:1: targets: required key is missing"},
      {"missing_pipelines", Base().substr(0, Base().find("pipelines:")),
       "sluice.yaml:1:1: pipelines: required key is missing"},
      {"no_sources", "sources: {}\n" + Base().substr(Base().find("targets:")),
       "sluice.yaml:1:10: sources: no sources defined"},
      {"no_targets", "sources:\n  main: {url: \"mysql://h\"}\ntargets: {}\npipelines: []\n",
       "sluice.yaml:3:10: targets: no targets defined"},
      {"no_pipelines", Base().substr(0, Base().find("pipelines:")) + "pipelines: []\n",
       "sluice.yaml:6:12: pipelines: no pipelines defined"},
      {"empty_source_value", BaseWith("    source: main\n", "    source:\n"),
       "sluice.yaml:8:5: pipelines[0].source: empty value"},
      {"empty_string_value", BaseWith("    source: main\n", "    source: \"\"\n"),
       "sluice.yaml:8:13: pipelines[0].source: empty value"},
      {"missing_url", BaseWith("  search: {url: \"mysql://app:topsecret@127.0.0.1:3307\"}", "  search: {}"),
       "sluice.yaml:4:11: targets.search.url: required key is missing"},
      {"empty_url", BaseWith("  search: {url: \"mysql://app:topsecret@127.0.0.1:3307\"}", "  search: {url: }"),
       "sluice.yaml:4:12: targets.search.url: empty value"},
      {"typo_in_name_key", BaseWith("  - name: p1\n", "  - nam: p1\n"),
       "sluice.yaml:7:5: pipelines[0].nam: unknown key (did you mean \"name\"?)"},
      {"missing_name_key", BaseWith("  - name: p1\n    source: main\n", "  - source: main\n    parallel: 2\n"),
       "sluice.yaml:7:5: pipelines[0].name: required key is missing"},
      {"missing_tables", Base().substr(0, Base().find("    tables:")),
       "sluice.yaml:7:5: pipelines[0].tables: required key is missing"},
      {"empty_tables", Base().substr(0, Base().find("    tables:")) + "    tables: []\n",
       "sluice.yaml:10:13: pipelines[0].tables: no table rules"},
      {"rule_without_match", Base("      - to: \"a.b\"\n"),
       "sluice.yaml:12:9: pipelines[0].tables[1].match: required key is missing"},

      // Pipeline names, sources and targets.
      {"bad_pipeline_name", BaseWith("  - name: p1\n", "  - name: \"orders to search\"\n"),
       "sluice.yaml:7:11: pipelines[0].name: invalid pipeline name \"orders to search\": use letters, digits, \"_\", "
       "\".\" and \"-\""},
      {"duplicate_pipeline_name", Base("  - name: p1\n    source: main\n    targets: report\n    tables: [\"a.*\"]\n"),
       "sluice.yaml:12:11: pipelines[1].name: duplicate pipeline name \"p1\" (first at sluice.yaml:7:5)"},
      {"unknown_source", BaseWith("    source: main\n", "    source: mian\n"),
       "sluice.yaml:8:13: pipelines[0].source: unknown source \"mian\" (did you mean \"main\"?)"},
      {"unknown_source_far", BaseWith("    source: main\n", "    source: primary\n"),
       "sluice.yaml:8:13: pipelines[0].source: unknown source \"primary\" (defined: main)"},
      {"no_pipeline_targets", BaseWith("    targets: [search]\n", "    targets: []\n"),
       "sluice.yaml:9:14: pipelines[0].targets: empty list"},
      {"unknown_target", BaseWith("    targets: [search]\n", "    targets: [search, reprot]\n"),
       "sluice.yaml:9:23: pipelines[0].targets[1]: unknown target \"reprot\" (did you mean \"report\"?)"},
      {"unknown_single_target", BaseWith("    targets: [search]\n", "    targets: elastic\n"),
       "sluice.yaml:9:14: pipelines[0].targets: unknown target \"elastic\" (defined: search, report)"},
      {"duplicate_target", BaseWith("    targets: [search]\n", "    targets: [search, search]\n"),
       "sluice.yaml:9:23: pipelines[0].targets[1]: target \"search\" is listed twice"},
      {"bad_source_name", BaseWith("  main: {", "  \"a b\": {"),
       "sluice.yaml:2:3: sources.a b: invalid source name \"a b\": use letters, digits, \"_\", \".\" and \"-\""},

      // URLs.
      {"unparsable_url", BaseWith("\"mysql://app:topsecret@127.0.0.1:3307\"", "\"app:topsecret@127.0.0.1:3307\""),
       "sluice.yaml:4:17: targets.search.url: invalid URL: expected SCHEME://[USER[:PASSWORD]@]HOST[:PORT][/DB]"
       "[?PARAMS] or file:///PATH"},
      {"bad_port", BaseWith("127.0.0.1:3306\"", "127.0.0.1:99999\""),
       "sluice.yaml:2:15: sources.main.url: invalid URL mysql://127.0.0.1: port \"99999\" is not a number from 1 to "
       "65535"},
      {"unknown_target_kind",
       BaseWith("\"mysql://app:topsecret@127.0.0.1:3307\"", "\"elastic://app:topsecret@es:9200\""),
       "sluice.yaml:4:17: targets.search.url: unknown target type \"elastic\" in elastic://app:***@es:9200 "
       "(supported: " +
           sink::SinkSchemes() + ")"},
      // Settings of one target kind on another.
      {"topic_on_mysql", BaseWith("3307\"}", "3307\", topic: \"x\"}"),
       "sluice.yaml:4:57: targets.search.topic: \"topic\" is a setting of kafka targets, not of mysql://"},
      {"bad_format", BaseWith("\"mysql://app:topsecret@127.0.0.1:3307\"}", "\"kafka://b1:9092\", format: avro}"),
       "sluice.yaml:4:44: targets.search.format: expected one of json, canal, maxwell, debezium, got \"avro\""},
      {"bad_topic_placeholder",
       BaseWith("\"mysql://app:topsecret@127.0.0.1:3307\"}", "\"kafka://b1:9092\", topic: \"${schema}.x\"}"),
       "sluice.yaml:4:43: targets.search.topic: unknown placeholder in \"${schema}.x\" (known: ${pipeline}, ${db}, "
       "${table})"},
      {"bad_redis_mode", BaseWith("\"mysql://app:topsecret@127.0.0.1:3307\"}", "\"redis://cache:6379\", mode: list}"),
       "sluice.yaml:4:45: targets.search.mode: expected one of hash, string, stream, got \"list\""},
      {"check_of_kafka",
       BaseWith("\"mysql://app:topsecret@127.0.0.1:3307\"}", "\"kafka://b1:9092\"}") + "    check: {every: 1h}\n",
       "sluice.yaml:12:5: pipelines[0].check: target \"search\" is kafka://: `check` does not work for this kind of "
       "target; run a separate pipeline for it without check:"},
      {"check_of_redis_stream",
       BaseWith("\"mysql://app:topsecret@127.0.0.1:3307\"}", "\"redis://cache:6379\", mode: stream}") +
           "    check: {every: 1h}\n",
       "sluice.yaml:12:5: pipelines[0].check: target \"search\" is a Redis stream (a log of changes, not a copy of "
       "the tables): `check` does not work for it; run a separate pipeline for it without check:"},
      {"pg_source_binlog_start",
       BaseWith("\"mysql://repl:topsecret@127.0.0.1:3306\"", "\"postgres://repl:topsecret@db/shop\"") +
           "    start: \"binlog.000003:4\"\n",
       "sluice.yaml:12:12: pipelines[0].start: source \"main\" is PostgreSQL: start is latest, earliest or an LSN such "
       "as 0/16B3748, not \"binlog.000003:4\""},
      {"lsn_start_of_mysql_source", Base("    start: \"0/16B3748\"\n"),
       "sluice.yaml:12:12: pipelines[0].start: \"0/16B3748\" is a PostgreSQL LSN; source \"main\" is MySQL (a GTID "
       "position or FILE:POS)"},
      {"kafka_source", BaseWith("\"mysql://repl:topsecret@127.0.0.1:3306\"", "\"kafka://repl:topsecret@b1:9092\""),
       "sluice.yaml:2:15: sources.main.url: unknown source type \"kafka\" in kafka://repl:***@b1:9092 (supported: "
       "mysql://, mariadb://, postgres://)"},
      {"url_as_key",
       BaseWith("{url: \"mysql://repl:topsecret@127.0.0.1:3306\", server_id: 4242}",
                "{\"mysql://repl:topsecret@127.0.0.1:3306\"}"),
       "sluice.yaml:2:10: sources.main.mysql://repl:***@127.0.0.1:3306: unknown key (expected one of: url, server_id, "
       "password_env, heartbeat_ms)"},

      // Numbers with ranges.
      {"server_id_zero", BaseWith("server_id: 4242", "server_id: 0"),
       "sluice.yaml:2:67: sources.main.server_id: expected an integer from 1 to 4294967295, got 0"},
      {"server_id_too_big", BaseWith("server_id: 4242", "server_id: 4294967296"),
       "sluice.yaml:2:67: sources.main.server_id: expected an integer from 1 to 4294967295, got 4294967296"},
      {"server_id_huge", BaseWith("server_id: 4242", "server_id: 99999999999999999999999"),
       "sluice.yaml:2:67: sources.main.server_id: expected an integer from 1 to 4294967295, got "
       "99999999999999999999999"},
      {"server_id_duplicate", BaseWith("targets:\n", "  other: {url: \"mysql://h2\", server_id: 4242}\ntargets:\n"),
       "sluice.yaml:3:41: sources.other.server_id: server_id 4242 is already used by source \"main\"; each source "
       "needs its own replica id"},
      {"heartbeat_zero", BaseWith("server_id: 4242}", "server_id: 4242, heartbeat_ms: 0}"),
       "sluice.yaml:2:87: sources.main.heartbeat_ms: expected an integer from 1 to 3600000, got 0"},
      {"batch_size_zero", Base("    batch: {size: 0}\n"),
       "sluice.yaml:12:19: pipelines[0].batch.size: expected an integer from 1 to 100000, got 0"},
      {"batch_size_too_big", Base("    batch: {size: 100001}\n"),
       "sluice.yaml:12:19: pipelines[0].batch.size: expected an integer from 1 to 100000, got 100001"},
      {"batch_timeout_zero", Base("    batch:\n      timeout_ms: 0\n"),
       "sluice.yaml:13:19: pipelines[0].batch.timeout_ms: expected an integer from 1 to 60000, got 0"},
      {"batch_timeout_too_big", Base("    batch: {timeout_ms: 60001}\n"),
       "sluice.yaml:12:25: pipelines[0].batch.timeout_ms: expected an integer from 1 to 60000, got 60001"},
      {"parallel_zero", Base("    parallel: 0\n"),
       "sluice.yaml:12:15: pipelines[0].parallel: expected an integer from 1 to 64, got 0"},
      {"parallel_too_big", Base("    parallel: 65\n"),
       "sluice.yaml:12:15: pipelines[0].parallel: expected an integer from 1 to 64, got 65"},
      {"lua_threads_zero", Base("    lua_threads: 0\n"),
       "sluice.yaml:12:18: pipelines[0].lua_threads: expected an integer from 1 to 64, got 0"},
      {"queue_bytes_too_small", Base("    queue_bytes: 512KiB\n"),
       "sluice.yaml:12:18: pipelines[0].queue_bytes: must be at least 1MiB, got \"512KiB\""},
      {"queue_bytes_bad_unit", Base("    queue_bytes: 64 furlongs\n"),
       "sluice.yaml:12:18: pipelines[0].queue_bytes: expected a size such as 64MiB (units: B, KiB, MiB, GiB, KB, MB, "
       "GB), got \"64 furlongs\""},
      {"queue_bytes_overflow", Base("    queue_bytes: 99999999999999GiB\n"),
       "sluice.yaml:12:18: pipelines[0].queue_bytes: size \"99999999999999GiB\" is too large"},

      {"detach_after_bad", Base("    detach_after: later\n"),
       "sluice.yaml:12:19: pipelines[0].detach_after: expected a duration such as 30s or 5m (at least 1s), or never, "
       "got \"later\""},
      {"takeover_after_bad", Base("    takeover_after: soon\n"),
       "sluice.yaml:12:21: pipelines[0].takeover_after: expected a duration such as 30s or 5m (at least 1s), or "
       "never, got \"soon\""},
      {"detach_after_too_short", Base("    detach_after: 10ms\n"),
       "sluice.yaml:12:19: pipelines[0].detach_after: expected a duration such as 30s or 5m (at least 1s), or never, "
       "got \"10ms\""},

      {"bad_snapshot", Base("    snapshot: inital\n"),
       "sluice.yaml:12:15: pipelines[0].snapshot: expected one of initial, never, got \"inital\" (did you mean "
       "\"initial\"?)"},
      {"chunk_rows_too_small", Base("    chunk_rows: 1\n"),
       "sluice.yaml:12:17: pipelines[0].chunk_rows: expected an integer from 10 to 10000000, got 1"},
      {"check_bad_duration", Base("    check: {every: soon}\n"),
       "sluice.yaml:12:20: pipelines[0].check.every: expected a duration such as 30s, 15m, 1h or 1d (at least 1s), "
       "got \"soon\""},
      {"check_too_often", Base("    check: {every: 500ms}\n"),
       "sluice.yaml:12:20: pipelines[0].check.every: expected a duration such as 30s, 15m, 1h or 1d (at least 1s), "
       "got \"500ms\""},
      {"check_bad_repair", Base("    check: {every: 1h, repair: maybe}\n"),
       "sluice.yaml:12:32: pipelines[0].check.repair: expected true or false, got \"maybe\""},
      {"check_unknown_key", Base("    check: {every: 1h, repiar: true}\n"),
       "sluice.yaml:12:24: pipelines[0].check.repiar: unknown key (did you mean \"repair\"?)"},
      // Start positions and enums.
      {"bad_start", Base("    start: yesterday\n"),
       "sluice.yaml:12:12: pipelines[0].start: invalid start position \"yesterday\": expected latest, earliest, a "
       "MariaDB GTID list (0-1-42), a MySQL GTID set (UUID:1-42), FILE:OFFSET or a PostgreSQL LSN (0/16B3748)"},
      {"bad_ddl", Base("    ddl: aply\n"),
       "sluice.yaml:12:10: pipelines[0].ddl: expected one of apply, ignore, stop, got \"aply\" (did you mean "
       "\"apply\"?)"},
      {"bad_rule_ddl", Base("        ddl: replicate\n"),
       "sluice.yaml:12:14: pipelines[0].tables[0].ddl: expected one of apply, ignore, stop, got \"replicate\""},
      {"bad_on_error", Base("    on_error: ignore\n"),
       "sluice.yaml:12:15: pipelines[0].on_error: expected one of stop, skip, got \"ignore\""},

      // Table rules.
      {"bad_regex", Base("      - match: \"/shop\\\\.(orders/\"\n"),
       "sluice.yaml:12:16: pipelines[0].tables[1].match: invalid regex \"/shop\\.(orders/\": " +
           std::string(std::regex_error(std::regex_constants::error_paren).what())},
      {"empty_regex", Base("      - match: //\n"),
       "sluice.yaml:12:16: pipelines[0].tables[1].match: empty regex \"//\""},
      {"glob_without_dot", Base("      - match: orders\n"),
       "sluice.yaml:12:16: pipelines[0].tables[1].match: pattern \"orders\" can never match: patterns match "
       "\"DB.TABLE\" (e.g. \"shop.orders\" or \"*.orders\"; \"/regex/\" for a regex)"},
      {"to_unknown_variable", Base("        to: \"${schema}.${table}\"\n"),
       "sluice.yaml:12:13: pipelines[0].tables[0].to: unknown variable ${schema} in \"${schema}.${table}\" (use "
       "${db} and ${table})"},
      {"to_unterminated", Base("        to: \"x.${table\"\n"),
       "sluice.yaml:12:13: pipelines[0].tables[0].to: unterminated \"${\" in \"x.${table\" (use ${db} and ${table})"},
      {"to_without_db", Base("        to: \"${table}\"\n"),
       "sluice.yaml:12:13: pipelines[0].tables[0].to: \"${table}\" does not name a table: expected \"DB.TABLE\" with "
       "both parts non-empty, e.g. \"search_db.${table}\""},
      {"to_empty_table", Base("        to: \"search_db.\"\n"),
       "sluice.yaml:12:13: pipelines[0].tables[0].to: \"search_db.\" does not name a table: expected \"DB.TABLE\" "
       "with both parts non-empty, e.g. \"search_db.${table}\""},
      {"to_three_parts", Base("        to: \"a.b.${table}\"\n"),
       "sluice.yaml:12:13: pipelines[0].tables[0].to: \"a.b.${table}\" does not name a table: expected \"DB.TABLE\" "
       "with both parts non-empty, e.g. \"search_db.${table}\""},
      {"columns_empty", Base("        columns: []\n"),
       "sluice.yaml:12:18: pipelines[0].tables[0].columns: empty list; remove the key to keep all columns"},
      {"columns_not_list", Base("        columns: id\n"),
       "sluice.yaml:12:18: pipelines[0].tables[0].columns: expected a list of names, got a scalar"},
      {"columns_duplicate", Base("        columns: [id, name, ID]\n"),
       "sluice.yaml:12:29: pipelines[0].tables[0].columns[2]: duplicate column \"ID\""},
      {"columns_empty_name", Base("        columns: [id, \"\"]\n"),
       "sluice.yaml:12:23: pipelines[0].tables[0].columns[1]: empty value"},
      {"columns_nested", Base("        columns: [id, [a]]\n"),
       "sluice.yaml:12:23: pipelines[0].tables[0].columns[1]: expected a name, got a list"},
      {"rename_not_in_columns", Base("        columns: [id, name]\n        rename_columns: {nme: title}\n"),
       "sluice.yaml:13:26: pipelines[0].tables[0].rename_columns.nme: column \"nme\" is not in columns (id, name)"},
      {"rename_targets_clash", Base("        rename_columns: {a: x, b: x}\n"),
       "sluice.yaml:12:35: pipelines[0].tables[0].rename_columns.b: columns \"a\" and \"b\" are both renamed to "
       "\"x\""},
      {"rename_onto_kept_column", Base("        columns: [id, name, title]\n        rename_columns: {name: title}\n"),
       "sluice.yaml:13:32: pipelines[0].tables[0].rename_columns.name: renaming \"name\" to \"title\" collides with "
       "column \"title\""},
      {"rename_empty_target", Base("        rename_columns: {a: }\n"),
       "sluice.yaml:12:26: pipelines[0].tables[0].rename_columns.a: empty value"},
      {"rename_list", Base("        rename_columns: [a, b]\n"),
       "sluice.yaml:12:25: pipelines[0].tables[0].rename_columns: expected a map of SOURCE_COLUMN: TARGET_COLUMN, got "
       "a list"},
      {"where_empty", Base("        where: \"  \"\n"), "sluice.yaml:12:16: pipelines[0].tables[0].where: empty value"},

      // http and store.
      {"http_no_port", "http: localhost\n" + Base(),
       "sluice.yaml:1:7: http: expected \"HOST:PORT\" with a port from 1 to 65535 (e.g. 127.0.0.1:8700), got "
       "\"localhost\""},
      {"http_bad_port", "http: \"127.0.0.1:http\"\n" + Base(),
       "sluice.yaml:1:7: http: expected \"HOST:PORT\" with a port from 1 to 65535 (e.g. 127.0.0.1:8700), got "
       "\"127.0.0.1:http\""},
      {"http_empty", "http:\n" + Base(), "sluice.yaml:1:1: http: empty value; remove the key to turn the HTTP API off"},
      {"store_directory", "store: ./var/\n" + Base(),
       "sluice.yaml:1:8: store: \"./var/\" is a directory; name the SQLite file"},
      {"store_unknown_scheme", "store: \"mysql://u:topsecret@h/meta\"\n" + Base(),
       "sluice.yaml:1:8: store: store type \"mysql\" is not supported (a SQLite file path, or "
       "zk://HOST:PORT[,...]/ROOT)"},

      // Passwords from the environment.
      {"password_env_unset",
       BaseWith("{url: \"mysql://app:topsecret@127.0.0.1:3307\"}",
                "{url: \"mysql://app@127.0.0.1:3307\", password_env: SLUICE_CONFIG_TEST_UNSET}"),
       "sluice.yaml:4:61: targets.search.password_env: environment variable SLUICE_CONFIG_TEST_UNSET is not set (it "
       "should hold the password for mysql://app@127.0.0.1:3307)"},
      {"password_env_and_url_password",
       BaseWith("server_id: 4242}", "server_id: 4242, password_env: SLUICE_CONFIG_TEST_SET}"),
       "sluice.yaml:2:87: sources.main.password_env: mysql://repl:***@127.0.0.1:3306 already has a password; give it "
       "in url or in password_env, not both"},
      {"password_env_then_later_error",
       BaseWith("{url: \"mysql://repl:topsecret@127.0.0.1:3306\", server_id: 4242}",
                "{url: \"mysql://repl@127.0.0.1:3306\", password_env: SLUICE_CONFIG_TEST_SET, server_id: 0}"),
       "sluice.yaml:2:95: sources.main.server_id: expected an integer from 1 to 4294967295, got 0"},
      {"password_env_bad_name",
       BaseWith("{url: \"mysql://app:topsecret@127.0.0.1:3307\"}",
                "{url: \"mysql://app@127.0.0.1:3307\", password_env: \"$PW\"}"),
       "sluice.yaml:4:61: targets.search.password_env: \"$PW\" is not an environment variable name (letters, digits "
       "and \"_\")"},
  };
}

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ConfigError : public ::testing::TestWithParam<ErrorCase> {
 protected:
  static void SetUpTestSuite() {
    setenv("SLUICE_CONFIG_TEST_SET", "topsecret", 1);
    unsetenv("SLUICE_CONFIG_TEST_UNSET");
  }
  static void TearDownTestSuite() { unsetenv("SLUICE_CONFIG_TEST_SET"); }
};

TEST_P(ConfigError, NamesFileLineColumnAndKey) {
  auto c = ParseConfig(GetParam().yaml, "sluice.yaml");
  ASSERT_FALSE(c.ok()) << "accepted:\n" << GetParam().yaml;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), GetParam().message) << GetParam().yaml;
}

TEST_P(ConfigError, NeverShowsAPassword) {
  auto c = ParseConfig(GetParam().yaml, "sluice.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("topsecret"), std::string::npos) << c.status().message();
}

INSTANTIATE_TEST_SUITE_P(Config, ConfigError, ::testing::ValuesIn(ErrorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(ConfigPaths, RelativeStoreIsRelativeToTheConfigDirectory) {
  auto with_store = [](const std::string& store, const std::string& config_path) {
    auto c = ParseConfig(store.empty() ? Base() : "store: " + store + "\n" + Base(), config_path);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? c->store : std::string();
  };
  EXPECT_EQ(with_store("./var/sluice.db", "/etc/sluice/sluice.yaml"), "/etc/sluice/var/sluice.db");
  EXPECT_EQ(with_store("var/sluice.db", "/etc/sluice/sluice.yaml"), "/etc/sluice/var/sluice.db");
  EXPECT_EQ(with_store("../state/s.db", "/etc/sluice/sluice.yaml"), "/etc/state/s.db");
  EXPECT_EQ(with_store("/var/lib/sluice/s.db", "/etc/sluice/sluice.yaml"), "/var/lib/sluice/s.db");
  EXPECT_EQ(with_store("", "/etc/sluice/sluice.yaml"), "/etc/sluice/sluice.db");
  EXPECT_EQ(with_store("\"file:///srv/s.db\"", "/etc/sluice/sluice.yaml"), "/srv/s.db");
  EXPECT_EQ(with_store("zk://h1:2181,h2:2181/sluice", "/etc/sluice/sluice.yaml"), "zk://h1:2181,h2:2181/sluice");
  // A config named relative to the working directory.
  fs::path cwd = fs::current_path();
  EXPECT_EQ(with_store("./var/sluice.db", "conf/sluice.yaml"), (cwd / "conf/var/sluice.db").string());
  EXPECT_EQ(with_store("", "sluice.yaml"), (cwd / "sluice.db").string());
}

TEST(ConfigPaths, SkipLogDefaultsBesideTheStore) {
  auto c = ParseConfig("store: /srv/db/s.db\n" + Base(), "/etc/sluice/sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pipelines[0].skip_log, "/srv/db/p1.skipped.jsonl");
  c = ParseConfig("store: zk://h1:2181/sluice\n" + Base(), "/etc/sluice/sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pipelines[0].skip_log, "/etc/sluice/p1.skipped.jsonl");
  c = ParseConfig(Base("    skip_log: ../log/skipped.jsonl\n"), "/etc/sluice/sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pipelines[0].skip_log, "/etc/log/skipped.jsonl");
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice_config_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ConfigFile, LoadsAndResolvesAgainstItsDirectory) {
  fs::path path = dir_ / "sluice.yaml";
  std::ofstream(path) << kDesignExample;
  auto c = LoadConfig(path.string());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->path, path.string());
  EXPECT_EQ(c->store, (dir_ / "var/sluice.db").string());
  EXPECT_EQ(c->pipelines[0].name, "orders_to_search");
}

TEST_F(ConfigFile, ErrorsNameTheFileAsGiven) {
  fs::path path = dir_ / "bad.yaml";
  std::ofstream(path) << Base("        colums: [id]\n");
  auto c = LoadConfig(path.string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            path.string() + ":12:9: pipelines[0].tables[0].colums: unknown key (did you mean \"columns\"?)");
}

TEST_F(ConfigFile, MissingFile) {
  auto c = LoadConfig((dir_ / "nope.yaml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kIoError);
  EXPECT_EQ(c.status().message(), "config file " + (dir_ / "nope.yaml").string() + ": does not exist");
  auto d = LoadConfig(dir_.string());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kIoError);
}

TEST(ConfigYaml, AnchorsAndAliasesWork) {
  auto c = ParseConfig(R"(
sources:
  main: {url: "mysql://h:3306"}
targets:
  a: &tgt {url: "mysql://t:3306"}
  b: *tgt
pipelines:
  - name: p
    source: main
    targets: [a, b]
    tables: &rules
      - match: "shop.*"
  - name: q
    source: main
    targets: b
    tables: *rules
)",
                       "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->targets[1].endpoint.host, "t");
  EXPECT_EQ(c->pipelines[1].tables[0].match, "shop.*");
}

TEST(ConfigRules, GlobMatching) {
  TableRule r;
  r.match = "shop.order_*";
  EXPECT_TRUE(MatchesTableRule(r, "shop", "order_items"));
  EXPECT_TRUE(MatchesTableRule(r, "shop", "order_"));
  EXPECT_FALSE(MatchesTableRule(r, "shop", "orders"));
  EXPECT_FALSE(MatchesTableRule(r, "Shop", "order_items"));  // case-sensitive
  EXPECT_FALSE(MatchesTableRule(r, "shop2", "order_items"));
  r.match = "shop.order_?";
  EXPECT_TRUE(MatchesTableRule(r, "shop", "order_1"));
  EXPECT_FALSE(MatchesTableRule(r, "shop", "order_12"));
  r.match = "*.users";
  EXPECT_TRUE(MatchesTableRule(r, "a", "users"));
  EXPECT_TRUE(MatchesTableRule(r, "b.c", "users"));
  EXPECT_FALSE(MatchesTableRule(r, "a", "users_old"));
  r.match = "shop*";  // '*' runs across the dot
  EXPECT_TRUE(MatchesTableRule(r, "shop", "x"));
  EXPECT_TRUE(MatchesTableRule(r, "shopfloor", "x"));
  r.match = "*";
  EXPECT_TRUE(MatchesTableRule(r, "any", "thing"));
  r.match = "a*b*c.d";
  EXPECT_TRUE(MatchesTableRule(r, "aXbYbZc", "d"));
  EXPECT_FALSE(MatchesTableRule(r, "aXbYbZc", "e"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
}

TEST(ConfigRules, RegexMatchingIsAnchoredOnTheWholeName) {
  auto c = ParseConfig(Base("      - match: \"/shop\\\\.order_(items|lines)/\"\n"), "sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const TableRule& r = c->pipelines[0].tables[1];
  ASSERT_TRUE(r.is_regex);
  ASSERT_NE(r.regex, nullptr);
  EXPECT_TRUE(MatchesTableRule(r, "shop", "order_items"));
  EXPECT_TRUE(MatchesTableRule(r, "shop", "order_lines"));
  EXPECT_FALSE(MatchesTableRule(r, "shop", "order_itemsx"));
  EXPECT_FALSE(MatchesTableRule(r, "xshop", "order_items"));
  EXPECT_FALSE(MatchesTableRule(r, "shopX", "order_items"));
  EXPECT_FALSE(MatchesTableRule(r, "SHOP", "order_items"));

  // A rule built in code, without the compiled regex.
  TableRule manual;
  manual.is_regex = true;
  manual.match = "db[0-9]+\\.t";
  EXPECT_TRUE(MatchesTableRule(manual, "db12", "t"));
  EXPECT_FALSE(MatchesTableRule(manual, "db", "t"));
  manual.match = "(";
  EXPECT_FALSE(MatchesTableRule(manual, "(", ""));
}

TEST(ConfigRules, TemplateExpansion) {
  EXPECT_EQ(ExpandTableTemplate("search_db.${table}", "shop", "orders"), "search_db.orders");
  EXPECT_EQ(ExpandTableTemplate("${db}.${table}", "shop", "orders"), "shop.orders");
  EXPECT_EQ(ExpandTableTemplate("${db}_copy.t_${table}_${db}", "shop", "orders"), "shop_copy.t_orders_shop");
  EXPECT_EQ(ExpandTableTemplate("archive.fixed", "shop", "orders"), "archive.fixed");
  EXPECT_EQ(ExpandTableTemplate("", "shop", "orders"), "shop.orders");  // no `to`: same name
  EXPECT_EQ(ExpandTableTemplate("$db.${table}", "shop", "orders"), "$db.orders");
  EXPECT_EQ(ExpandTableTemplate("x.${other}_${table}", "shop", "orders"), "x.${other}_orders");
  EXPECT_EQ(ExpandTableTemplate("x.${table", "shop", "orders"), "x.${table");
}

TEST(ConfigRules, FormatMark) {
  EXPECT_EQ(FormatMark(Mark{"sluice.yaml", 12, 7}), "sluice.yaml:12:7");
  EXPECT_EQ(FormatMark(Mark{"sluice.yaml", 0, 0}), "sluice.yaml");
  EXPECT_EQ(FormatConfigError(Mark{"s.yaml", 3, 9}, "pipelines[0].tables[1].match", "matches no table"),
            "s.yaml:3:9: pipelines[0].tables[1].match: matches no table");
}

}  // namespace
}  // namespace sluice::pipeline
