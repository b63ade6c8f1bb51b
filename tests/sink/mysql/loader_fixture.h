#pragma once
// The MysqlLoader tests' fixture: a private MariaDB target and helpers that
// build batches by hand (exact positions, tables, values).

#include <gtest/gtest.h>

#include <signal.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/url.h"
#include "harness/mariadb_server.h"
#include "sink/merge.h"
#include "sink/mysql/mysql_loader.h"

namespace sluice::sink::mysql {

using sluice::testing::MariadbServer;

class MysqlLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MariadbServer::Start({.server_id = 2});
    ASSERT_TRUE(s.ok()) << s.status().message();
    dst_ = std::move(s).value();
  }
  void TearDown() override {
    if (stopped_) ::kill(dst_->pid(), SIGCONT);
  }
  std::unique_ptr<MysqlLoader> Open(uint32_t parallel, const std::string& params = "") {
    auto url = Url::Parse(dst_->Url() + params);
    EXPECT_TRUE(url.ok());
    auto co = sluice::mysql::ConnectOptions::FromUrl(*url);
    EXPECT_TRUE(co.ok()) << co.status().message();
    LoaderOptions o;
    o.pipeline = "p";
    o.target = "dst";
    o.connect = *co;
    o.parallel = parallel;
    auto loader = MysqlLoader::Open(o);
    EXPECT_TRUE(loader.ok()) << loader.status().message();
    return loader.ok() ? std::move(loader).value() : nullptr;
  }
  TargetTablePtr Table(const std::string& db, const std::string& name, std::vector<std::string> columns,
                       std::vector<uint32_t> key) {
    auto t = std::make_shared<TargetTable>();
    t->db = db;
    t->table = name;
    t->columns = std::move(columns);
    t->key = std::move(key);
    t->source = db + "." + name;
    t->name_hash = TableNameHash(*t);
    return t;
  }
  // Source transaction `txn` (its start at offset 1000 + 100 * txn), row `index`.
  static StreamPos Pos(uint64_t txn, uint64_t index = 1) { return StreamPos{"binlog.000001", 1000 + 100 * txn, index}; }
  static BatchEnd EndOf(uint64_t txn) {
    return BatchEnd{StreamPos{"binlog.000001", 1000 + 100 * txn, StreamPos::kWholeTransaction},
                    "binlog.000001:" + std::to_string(1100 + 100 * txn), ""};
  }
  Value Text(std::string s) { return Value::Str(ValueKind::kText, texts_.emplace_back(std::move(s))); }
  SinkChange Change(SinkChange::Kind kind, const TargetTablePtr& t, std::vector<Value> values, StreamPos pos) {
    SinkChange c;
    c.kind = kind;
    c.table = t;
    c.values = std::move(values);
    c.pos = std::move(pos);
    return c;
  }
  std::string Ids(const std::string& table) {
    auto v = dst_->QueryValue("SELECT GROUP_CONCAT(id ORDER BY id) FROM " + table);
    return v.ok() ? *v : "";
  }

  std::unique_ptr<MariadbServer> dst_;
  std::unique_ptr<MysqlLoader> loader_;
  std::deque<std::string> texts_;  // the bytes text Values point at
  bool stopped_ = false;
};

}  // namespace sluice::sink::mysql
