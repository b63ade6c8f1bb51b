// The capture side's connections against a source that restarts or is
// killed: a held connection reconnects on demand, a one-shot query waits a
// restart out, and the stream source's metadata connection survives a
// restart (issue 9, case 1) without a reconnect storm.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "core/url.h"
#include "harness/mariadb_server.h"
#include "source/mysql/binlog_stream_source.h"
#include "client/mysql/connection.h"
#include "source/mysql/recording_handler.h"

namespace sluice::mysql {
namespace {

using testing::MariadbServer;

std::unique_ptr<MariadbServer> StartServer() {
  auto s = MariadbServer::Start({});
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

ConnectOptions OptionsFor(MariadbServer& s) {
  auto url = Url::Parse(s.Url());
  EXPECT_TRUE(url.ok());
  auto o = ConnectOptions::FromUrl(*url);
  EXPECT_TRUE(o.ok());
  return *o;
}

TEST(SourceReconnect, HeldConnectionReconnectsAfterRestartAndCrash) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto conn = MysqlConnection::Connect(OptionsFor(*server));
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  MysqlConnection& c = **conn;
  ASSERT_TRUE(c.Query("SELECT 1").ok());

  ASSERT_TRUE(server->Restart().ok());
  auto dead = c.Query("SELECT 1");
  ASSERT_FALSE(dead.ok());
  EXPECT_TRUE(dead.status().retryable()) << dead.status().message();
  ASSERT_TRUE(c.Reconnect().ok());
  EXPECT_TRUE(c.Query("SELECT 1").ok());

  // Down: the reconnect fails, retryably, and can be tried again later.
  ASSERT_TRUE(server->Crash().ok());
  Status down = c.Reconnect();
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(down.retryable()) << down.message();
  ASSERT_TRUE(server->Restart().ok());
  ASSERT_TRUE(c.Reconnect().ok());
  EXPECT_TRUE(c.Query("SELECT 1").ok());
}

TEST(SourceReconnect, OneShotQueryWaitsOutARestart) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  ConnectOptions o = OptionsFor(*server);
  ASSERT_TRUE(server->Crash().ok());
  std::atomic<bool> done{false};
  Result<std::vector<Row>> rows = Status::Error(StatusCode::kCancelled, "not run");
  std::thread q([&] {
    rows = QueryWithRetry(o, "SELECT 42", std::chrono::seconds(30));
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_FALSE(done.load()) << "gave up on a server that is merely restarting";
  Status restarted = server->Restart();
  q.join();
  ASSERT_TRUE(restarted.ok()) << restarted.message();
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ((*rows)[0][0].value_or(""), "42");

  // Not retried: an error the server means (a bad query).
  auto bad = QueryWithRetry(o, "SELECT * FROM no_such_db.no_such_table", std::chrono::seconds(30));
  ASSERT_FALSE(bad.ok());
  EXPECT_FALSE(bad.status().retryable());
}

class LockedRecorder : public testing::RecordingHandler {
 public:
  Status OnRow(const RowChange& row) override {
    std::lock_guard lock(mu);
    return RecordingHandler::OnRow(row);
  }
  size_t size() {
    std::lock_guard lock(mu);
    return rows.size();
  }
  std::mutex mu;
};

// The reproduction on the stream source alone: a keyless table's
// TABLE_MAP makes the source read information_schema; after a restart that
// read must go through a new connection.
TEST(SourceReconnect, StreamMetadataConnectionSurvivesRestart) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Execute("CREATE DATABASE other").ok());
  auto pos = server->Query("SHOW MASTER STATUS");
  ASSERT_TRUE(pos.ok());
  BinlogStreamSource::Options o;
  o.connect = OptionsFor(*server);
  o.start = *StartPosition::Parse(*(*pos)[0][0] + ":" + *(*pos)[0][1]);
  o.server_id = 778;
  o.heartbeat = std::chrono::milliseconds(200);
  BinlogStreamSource source(o);
  LockedRecorder rec;
  std::atomic<bool> stop{false};
  Status result;
  std::thread t([&] { result = source.Run(rec, stop); });
  auto wait_rows = [&](size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (rec.size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return rec.size();
  };

  ASSERT_TRUE(server->Execute("CREATE TABLE other.zz2 (a INT NOT NULL, b INT); INSERT INTO other.zz2 VALUES (1, 1)")
                  .ok());
  EXPECT_EQ(wait_rows(1), 1u);
  ASSERT_TRUE(server->Restart().ok());
  ASSERT_TRUE(server->Execute("CREATE TABLE other.zz3 (a INT NOT NULL, b INT); INSERT INTO other.zz3 VALUES (2, 2)")
                  .ok());
  EXPECT_EQ(wait_rows(2), 2u);
  ASSERT_TRUE(server->Crash().ok());
  ASSERT_TRUE(server->Restart().ok());
  ASSERT_TRUE(server->Execute("CREATE TABLE other.zz4 (a INT NOT NULL, b INT); INSERT INTO other.zz4 VALUES (3, 3)")
                  .ok());
  EXPECT_EQ(wait_rows(3), 3u);
  stop = true;
  t.join();
  EXPECT_TRUE(result.ok()) << result.message();
  // One reconnect per restart, give or take a failed attempt while down.
  EXPECT_LE(source.reconnects(), 4u);
}

}  // namespace
}  // namespace sluice::mysql
