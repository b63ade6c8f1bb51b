// Cluster mode's files (design section 10): `cluster:` and `nodes:` in the
// manager's configuration, and a node's own file.
#include <string>

#include <gtest/gtest.h>

#include "pipeline/config.h"

namespace sluice::pipeline {
namespace {

// Design section 10's cluster.yaml, completed with a source, targets and tables.
constexpr const char* kClusterYaml = R"(cluster: {name: prod, zookeeper: "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183", session_timeout_ms: 6000}
http: 127.0.0.1:8700
store: ./var/manager.db
sources:
  main: {url: "mysql://repl:secret@127.0.0.1:3306"}
targets:
  search: {url: "mysql://app:secret@127.0.0.1:3307"}
pipelines:
  - name: orders_to_search
    nodes: {labels: [heavy]}
    source: main
    targets: [search]
    tables: [{match: "shop.*"}]
  - name: anywhere
    source: main
    targets: [search]
    tables: [{match: "crm.*"}]
)";

// Design section 10's node.yaml, verbatim.
constexpr const char* kNodeYaml = R"(cluster: {name: prod, zookeeper: "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183", session_timeout_ms: 6000}
node: {id: n1, labels: [heavy]}
http: 127.0.0.1:8711                  # the node's own status and /metrics
)";

TEST(ClusterConfig, TheManagersFile) {
  auto c = ParseConfig(kClusterYaml, "/etc/sluice/cluster.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->cluster.has_value());
  EXPECT_EQ(c->cluster->name, "prod");
  EXPECT_EQ(c->cluster->zookeeper, "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183");
  EXPECT_EQ(c->cluster->session_timeout_ms, 6000u);
  EXPECT_EQ(c->store, "/etc/sluice/var/manager.db");
  ASSERT_EQ(c->pipelines.size(), 2u);
  EXPECT_EQ(c->pipelines[0].node_labels, std::vector<std::string>{"heavy"});
  EXPECT_TRUE(c->pipelines[1].node_labels.empty());
}

TEST(ClusterConfig, ARunFileHasNoCluster) {
  std::string yaml(kClusterYaml);
  yaml.erase(0, yaml.find('\n') + 1);
  auto c = ParseConfig(yaml, "sluice.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->cluster.has_value());
}

TEST(ClusterConfig, TheNodesFile) {
  auto n = ParseNodeConfig(kNodeYaml, "/etc/sluice/node.yaml");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->path, "/etc/sluice/node.yaml");
  EXPECT_EQ(n->cluster.name, "prod");
  EXPECT_EQ(n->cluster.zookeeper, "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183");
  EXPECT_EQ(n->id, "n1");
  EXPECT_EQ(n->labels, std::vector<std::string>{"heavy"});
  EXPECT_EQ(n->http, "127.0.0.1:8711");
  EXPECT_EQ(n->store, "/etc/sluice/n1.db");  // beside the file, named after the node
}

TEST(ClusterConfig, NodeDefaultsAndStore) {
  auto n = ParseNodeConfig("cluster: {name: c, zookeeper: 'localhost:2181'}\nnode: {id: w-2}\nstore: var/w.db\n",
                           "/srv/node.yaml");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->cluster.session_timeout_ms, 6000u);
  EXPECT_TRUE(n->labels.empty());
  EXPECT_EQ(n->http, "");
  EXPECT_EQ(n->store, "/srv/var/w.db");
}

struct ErrorCase {
  const char* name;
  std::string yaml;
  bool node_file;
  std::string message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ClusterConfigError : public ::testing::TestWithParam<ErrorCase> {};

std::string Manager(const std::string& cluster_line, const std::string& pipeline_extra = "") {
  return cluster_line +
         "sources: {main: {url: 'mysql://r@h:3306'}}\ntargets: {t: {url: 'mysql://a@h:3307'}}\npipelines:\n"
         "  - name: p\n    source: main\n    targets: [t]\n    tables: [{match: 'a.*'}]\n" +
         pipeline_extra;
}

TEST_P(ClusterConfigError, NamesFileLineColumnAndKey) {
  const ErrorCase& c = GetParam();
  Status st = c.node_file ? ParseNodeConfig(c.yaml, "f.yaml").status() : ParseConfig(c.yaml, "f.yaml").status();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ClusterConfigError,
    ::testing::Values(
        ErrorCase{"ClusterNeedsZookeeper", Manager("cluster: {name: prod}\n"), false,
                  "f.yaml:1:10: cluster.zookeeper: required key is missing"},
        ErrorCase{"ZookeeperAddress", Manager("cluster: {name: prod, zookeeper: 'h1:2181,h2'}\n"), false,
                  "f.yaml:1:34: cluster.zookeeper: expected \"HOST:PORT,HOST:PORT,...\" (the ensemble's client "
                  "addresses), and \"h2\" is not HOST:PORT"},
        ErrorCase{"ClusterName", Manager("cluster: {name: 'a/b', zookeeper: 'h:1'}\n"), false,
                  "f.yaml:1:17: cluster.name: invalid cluster name \"a/b\": use letters, digits, \"_\", \".\" and "
                  "\"-\""},
        ErrorCase{"SessionTimeout", Manager("cluster: {name: c, zookeeper: 'h:1', session_timeout_ms: 10}\n"),
                  false, "f.yaml:1:58: cluster.session_timeout_ms: expected an integer from 500 to 600000, got 10"},
        ErrorCase{"UnknownClusterKey", Manager("cluster: {name: c, zookeeper: 'h:1', sesion_timeout_ms: 10}\n"),
                  false, "f.yaml:1:38: cluster.sesion_timeout_ms: unknown key (did you mean \"session_timeout_ms\"?)"},
        ErrorCase{"NodesLabels", Manager("", "    nodes: {labels: heavy}\n"), false,
                  "f.yaml:8:21: pipelines[0].nodes.labels: expected a list of names, got a scalar"},
        ErrorCase{"NodesKey", Manager("", "    nodes: {label: [heavy]}\n"), false,
                  "f.yaml:8:13: pipelines[0].nodes.label: unknown key (did you mean \"labels\"?)"},
        ErrorCase{"NodeNeedsId", "cluster: {name: c, zookeeper: 'h:1'}\nnode: {labels: [a]}\n", true,
                  "f.yaml:2:7: node.id: required key is missing"},
        ErrorCase{"NodeNeedsCluster", "node: {id: n1}\n", true, "f.yaml:1:1: cluster: required key is missing"},
        ErrorCase{"NodeFileHasNoPipelines",
                  "cluster: {name: c, zookeeper: 'h:1'}\nnode: {id: n1}\npipelines: []\n", true,
                  "f.yaml:3:1: pipelines: unknown key (expected one of: cluster, node, http, store, auth, http_tls, audit)"},
        ErrorCase{"NodeStoreIsAFile", "cluster: {name: c, zookeeper: 'h:1'}\nnode: {id: n1}\nstore: zk://h:1/x\n",
                  true, "f.yaml:3:8: store: a node keeps its local state in a SQLite file; name its path"},
        ErrorCase{"EmptyNodeFile", "# nothing\n", true,
                  "f.yaml: the configuration is empty; it needs cluster: and node:"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sluice::pipeline
