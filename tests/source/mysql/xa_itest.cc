// XA transactions against a real MariaDB: rows logged at XA PREPARE count at
// their XA COMMIT (in its place in the stream) and never after XA ROLLBACK;
// a commit whose prepare came before the stream's start, or whose group was
// too large to hold, is read again from the server or from the binlog files.
// And row changes a session logged as statements stop the stream, never a gap.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "client/mysql/connection.h"
#include "harness/mariadb_server.h"
#include "source/mysql/binlog_file_source.h"
#include "source/mysql/binlog_stream_source.h"
#include "source/mysql/recording_handler.h"

namespace sluice::mysql {
namespace {

using nlohmann::json;
using testing::MariadbServer;

constexpr int kSentinel = 999;

class LockedRecorder : public testing::RecordingHandler {
 public:
  Status OnRow(const RowChange& row) override {
    std::lock_guard lock(mu);
    return RecordingHandler::OnRow(row);
  }
  // The ids of the rows seen, in order, as "op:id".
  std::vector<std::string> Ids() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& line : rows) {
      json j = json::parse(line);
      const json& image = j["after"].is_null() ? j["before"] : j["after"];
      out.push_back(j["op"].get<std::string>() + ":" + std::to_string(image["id"].get<int>()));
    }
    return out;
  }
  std::mutex mu;
};

class XaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MariadbServer::Start({});
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
    ASSERT_TRUE(server_->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)").ok());
    auto other = MysqlConnection::Connect(Connect());
    ASSERT_TRUE(other.ok()) << other.status().message();
    other_ = std::move(other).value();
  }

  ConnectOptions Connect() const { return *ConnectOptions::FromUrl(*Url::Parse(server_->Url())); }

  std::string MasterPos() {
    auto rows = server_->Query("SHOW MASTER STATUS");
    EXPECT_TRUE(rows.ok());
    return *(*rows)[0][0] + ":" + *(*rows)[0][1];
  }

  // Streams from `start` until the sentinel row arrives; the ids seen.
  std::vector<std::string> StreamUntilSentinel(const std::string& start, BinlogDecoder::Options decoder = {},
                                               Status* status = nullptr) {
    EXPECT_TRUE(server_->Execute(fmt::format("INSERT INTO shop.t VALUES ({}, 0)", kSentinel)).ok());
    BinlogStreamSource::Options o;
    o.connect = Connect();
    o.start = *StartPosition::Parse(start);
    o.server_id = 777;
    o.heartbeat = std::chrono::milliseconds(200);
    o.decoder = std::move(decoder);
    o.decoder.tables = TableFilter({"shop.*"});
    BinlogStreamSource source(o);
    LockedRecorder h;
    std::atomic<bool> stop{false};
    Status st;
    std::thread runner([&] { st = source.Run(h, stop); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::vector<std::string> ids;
    while (std::chrono::steady_clock::now() < deadline) {
      ids = h.Ids();
      if (!ids.empty() && ids.back() == fmt::format("insert:{}", kSentinel)) break;
      {
        std::lock_guard lock(h.mu);
        if (!st.ok()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop = true;
    runner.join();
    if (status) *status = st;
    EXPECT_EQ(h.nested_begins, 0);
    EXPECT_EQ(h.rows_outside_txn, 0);
    return ids;
  }

  std::vector<std::string> ReplayFiles(const std::string& start, Status* status) {
    auto pos = BinlogFilePos::Parse(start);
    EXPECT_TRUE(pos.ok());
    BinlogFileSource::Options o;
    o.path = server_->datadir() + "/" + pos->file;
    o.start_offset = pos->offset;
    o.decoder.tables = TableFilter({"shop.*"});
    BinlogFileSource source(o);
    LockedRecorder h;
    std::atomic<bool> stop{false};
    *status = source.Run(h, stop);
    return h.Ids();
  }

  // The server's stream and its binlog files from `start` deliver `want`.
  void ExpectStreamAndFilesSee(const std::string& start, const std::vector<std::string>& want) {
    Status st;
    EXPECT_EQ(StreamUntilSentinel(start, {}, &st), want);
    EXPECT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(ReplayFiles(start, &st), want);
    EXPECT_EQ(st.code(), StatusCode::kEndOfStream) << st.message();
  }

  // Runs an XA transaction up to XA PREPARE in a session of its own, which
  // ends it later (End).
  std::unique_ptr<MysqlConnection> Prepare(const std::string& xid, const std::string& statements) {
    auto session = MysqlConnection::Connect(Connect());
    EXPECT_TRUE(session.ok()) << session.status().message();
    if (!session.ok()) return nullptr;
    for (const std::string& sql : {fmt::format("XA START '{}'", xid), statements, fmt::format("XA END '{}'", xid),
                                   fmt::format("XA PREPARE '{}'", xid)}) {
      for (std::string_view one : Split(sql)) EXPECT_TRUE((*session)->Execute(one).ok()) << one;
    }
    return std::move(session).value();
  }
  static void End(std::unique_ptr<MysqlConnection>& session, const std::string& how) {
    ASSERT_TRUE(session);
    Status st = session->Execute(how);
    EXPECT_TRUE(st.ok()) << how << ": " << st.message();
  }
  static std::vector<std::string_view> Split(std::string_view sql) {
    std::vector<std::string_view> out;
    while (!sql.empty()) {
      size_t semi = sql.find(';');
      std::string_view one = sql.substr(0, semi);
      if (one.find_first_not_of(' ') != std::string_view::npos) out.push_back(one);
      if (semi == std::string_view::npos) break;
      sql.remove_prefix(semi + 1);
    }
    return out;
  }

  std::unique_ptr<MariadbServer> server_;
  std::unique_ptr<MysqlConnection> other_;  // a second session, for work while the admin one holds a prepared XA
};

TEST_F(XaTest, RowsCountAtTheCommitAndARolledBackTransactionNever) {
  ASSERT_TRUE(server_->Execute("INSERT INTO shop.t VALUES (5, 0), (6, 0)").ok());
  const std::string start = MasterPos();
  auto x1 = Prepare("x1", "INSERT INTO shop.t VALUES (1, 1); UPDATE shop.t SET v = 1 WHERE id = 5");
  ASSERT_TRUE(other_->Execute("INSERT INTO shop.t VALUES (10, 0)").ok());  // commits while x1 is prepared
  End(x1, "XA COMMIT 'x1'");
  auto x2 = Prepare("x2", "INSERT INTO shop.t VALUES (2, 2); DELETE FROM shop.t WHERE id = 6");
  End(x2, "XA ROLLBACK 'x2'");
  ASSERT_TRUE(server_->Execute("XA START 'x3'; INSERT INTO shop.t VALUES (3, 3); XA END 'x3'; XA COMMIT 'x3' ONE PHASE")
                  .ok());
  // A prepared transaction with the xid of one that ended before.
  auto again = Prepare("x1", "INSERT INTO shop.t VALUES (4, 4)");
  End(again, "XA ROLLBACK 'x1'");

  const std::vector<std::string> want = {"insert:10", "insert:1", "update:5", "insert:3",
                                         fmt::format("insert:{}", kSentinel)};
  ExpectStreamAndFilesSee(start, want);
}

// A restart between XA PREPARE and XA COMMIT: the stream starts after the
// prepare (here in an older binlog file) and reads its rows again at the commit.
TEST_F(XaTest, ACommitWhosePrepareCameBeforeTheStartIsReadAgain) {
  auto early = Prepare("early", "INSERT INTO shop.t VALUES (1, 1), (2, 2); UPDATE shop.t SET v = 7 WHERE id = 1");
  auto gone = Prepare("gone", "INSERT INTO shop.t VALUES (3, 3)");
  ASSERT_TRUE(other_->Execute("FLUSH BINARY LOGS").ok());
  ASSERT_TRUE(other_->Execute("INSERT INTO shop.t VALUES (10, 0)").ok());
  const std::string start = MasterPos();
  ASSERT_TRUE(other_->Execute("INSERT INTO shop.t VALUES (11, 0)").ok());
  End(early, "XA COMMIT 'early'");
  End(gone, "XA ROLLBACK 'gone'");

  const std::vector<std::string> want = {"insert:11", "insert:1", "insert:2", "update:1",
                                         fmt::format("insert:{}", kSentinel)};
  ExpectStreamAndFilesSee(start, want);
}

// A group over the memory limit is not held: its commit reads it again from
// where it began.
TEST_F(XaTest, AGroupOverTheMemoryLimitIsReadAgainAtItsCommit) {
  const std::string start = MasterPos();
  auto big = Prepare("big",
                     "INSERT INTO shop.t WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 500) "
                     "SELECT n, n FROM s");
  ASSERT_TRUE(other_->Execute("INSERT INTO shop.t VALUES (1000, 0)").ok());
  End(big, "XA COMMIT 'big'");
  BinlogDecoder::Options tiny;
  tiny.xa_memory_limit = 100;
  Status st;
  std::vector<std::string> ids = StreamUntilSentinel(start, tiny, &st);
  EXPECT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(ids.size(), 502u);
  EXPECT_EQ(ids[0], "insert:1000");
  for (int i = 1; i <= 500; ++i) EXPECT_EQ(ids[static_cast<size_t>(i)], fmt::format("insert:{}", i));
}

// The prepare's binlog is gone (purged; here: a directory holding only the
// later file): the commit is an error naming the xid, not rows silently lost.
// (A server does not purge a file holding a prepared XA transaction, so the
// files are copied.)
TEST_F(XaTest, ACommitWhosePrepareIsGoneIsAnError) {
  auto lost = Prepare("lost", "INSERT INTO shop.t VALUES (1, 1)");
  ASSERT_TRUE(other_->Execute("FLUSH BINARY LOGS").ok());
  const std::string start = MasterPos();
  End(lost, "XA COMMIT 'lost'");
  ASSERT_TRUE(other_->Execute("INSERT INTO shop.t VALUES (2, 2)").ok());
  auto pos = BinlogFilePos::Parse(start);
  ASSERT_TRUE(pos.ok());
  const std::filesystem::path dir = std::filesystem::path(server_->datadir()).parent_path() / "later-binlogs";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(std::filesystem::path(server_->datadir()) / pos->file, dir / pos->file);
  BinlogFileSource::Options o;
  o.path = (dir / pos->file).string();
  o.start_offset = pos->offset;
  BinlogFileSource source(o);
  LockedRecorder h;
  std::atomic<bool> stop{false};
  Status st = source.Run(h, stop);
  EXPECT_TRUE(h.Ids().empty());
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.message();
  EXPECT_NE(st.message().find("XA COMMIT of xid 6c6f7374,,1"), std::string::npos) << st.message();  // 'lost'
}

// Changes of a session with its own binlog_format=STATEMENT, same servers.
class StatementLoggedTest : public XaTest {};

// A row change a session logged as a statement (binlog_format=STATEMENT):
// the stream stops naming it, unless it concerns tables the stream does not read.
TEST_F(StatementLoggedTest, ARowChangeLoggedAsAStatementIsAnErrorNotASilentGap) {
  ASSERT_TRUE(server_->Execute("CREATE DATABASE other; CREATE TABLE other.u (id INT PRIMARY KEY)").ok());
  const std::string start = MasterPos();
  ASSERT_TRUE(other_->Execute("SET SESSION binlog_format = 'STATEMENT'").ok());
  ASSERT_TRUE(other_->Execute("INSERT INTO other.u VALUES (1)").ok());  // not read: no error
  ASSERT_TRUE(server_->Execute("INSERT INTO shop.t VALUES (1, 1)").ok());
  ASSERT_TRUE(other_->Execute("UPDATE shop.t SET v = 2 WHERE id = 1").ok());
  Status st;
  std::vector<std::string> ids = StreamUntilSentinel(start, {}, &st);
  EXPECT_EQ(ids, std::vector<std::string>{"insert:1"});
  EXPECT_EQ(st.code(), StatusCode::kNotSupported) << st.message();
  EXPECT_NE(st.message().find("UPDATE of `shop`.`t` logged as a statement"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("UPDATE shop.t SET v = 2 WHERE id = 1"), std::string::npos) << st.message();
}

// LOAD DATA of such a session is logged as its own event kind (with the
// file's bytes in the binlog): the same error.
TEST_F(StatementLoggedTest, ALoadDataLoggedAsAStatementIsAnError) {
  auto priv = server_->QueryValue("SELECT COALESCE(@@secure_file_priv, '')");
  ASSERT_TRUE(priv.ok());
  const std::filesystem::path dir =
      priv->empty() ? std::filesystem::path(server_->datadir()).parent_path() : std::filesystem::path(*priv);
  const std::string file = (dir / "rows.tsv").string();
  std::ofstream(file) << "1\t1\n2\t2\n";
  const std::string start = MasterPos();
  ASSERT_TRUE(other_->Execute("SET SESSION binlog_format = 'STATEMENT'").ok());
  Status loaded = other_->Execute(fmt::format("LOAD DATA INFILE '{}' INTO TABLE shop.t", file));
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  Status st;
  std::vector<std::string> ids = StreamUntilSentinel(start, {}, &st);
  EXPECT_TRUE(ids.empty());
  EXPECT_EQ(st.code(), StatusCode::kNotSupported) << st.message();
  EXPECT_NE(st.message().find("LOAD DATA of `shop`.`t` logged as a statement"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace sluice::mysql
