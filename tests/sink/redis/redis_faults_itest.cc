// The Redis target under faults: sluice killed (kill -9) while the source
// writes, Redis crashed and restarted under load, Redis restarted without
// persistence (its data gone: copied again), sluice stopped while Redis hangs.
#include <atomic>
#include <set>
#include <thread>

#include "sink/redis/redis_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kOrdersSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT NULL, note VARCHAR(40));
)sql";
constexpr const char* kOrdersQuery = "SELECT id, amount, note FROM shop.orders ORDER BY id";
const std::vector<std::string> kOrderColumns = {"id", "amount", "note"};

// Source transactions first .. first+n-1: inserts, updates (to NULL too) and deletes.
Status Write(MariadbServer& src, int first, int n, std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
  for (int t = first; t < first + n; ++t) {
    std::string sql = fmt::format("BEGIN; INSERT INTO shop.orders VALUES ({0}, {0}, 'order {0}'); "
                                  "UPDATE shop.orders SET amount = amount + 1, note = 'paid' WHERE id = {1}; ",
                                  t, t / 2);
    if (t % 7 == 0) sql += fmt::format("UPDATE shop.orders SET note = NULL WHERE id = {}; ", t / 3);
    if (t % 11 == 0) sql += fmt::format("DELETE FROM shop.orders WHERE id = {}; ", t / 5);
    sql += "COMMIT";
    RETURN_IF_ERROR(src.Execute(sql));
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  return Status::Ok();
}

TEST_F(RedisTargetTest, KilledSluiceRestartsAndConverges) {
  RedisTargetOptions o;
  o.batch_size = 25;
  ASSERT_NO_FATAL_FAILURE(Start(kOrdersSchema, o));
  // Three rounds of 200 source transactions, each killed while it applies:
  // once it made progress since the last start. (One writer for all 600
  // could finish, and sluice catch up, before the last kill's wait.)
  for (int kill = 0; kill < 3; ++kill) {
    size_t before = Keys("shop:orders:*").size();
    Status written;
    std::thread writer([&] { written = Write(*src_, 1 + 200 * kill, 200); });
    EXPECT_TRUE(WaitUntil([&] { return Keys("shop:orders:*").size() > before + 30; }, std::chrono::seconds(60)))
        << sluice_->Log();
    sluice_->Kill();
    writer.join();
    ASSERT_TRUE(written.ok()) << written.message();
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
}

TEST_F(RedisTargetTest, KilledSluiceLosesNoStreamEntryAndARepeatCarriesTheSamePos) {
  RedisTargetOptions o;
  o.mode = "stream";
  o.batch_size = 25;
  ASSERT_NO_FATAL_FAILURE(Start(kOrdersSchema, o));
  constexpr int kTxns = 300;  // two changes each: an insert and an update of that row
  auto write = [&]() -> Status {
    for (int t = 1; t <= kTxns; ++t) {
      RETURN_IF_ERROR(src_->Execute(fmt::format(
          "BEGIN; INSERT INTO shop.orders VALUES ({0}, {0}, NULL); UPDATE shop.orders SET amount = -{0} WHERE id = {0}; "
          "COMMIT",
          t)));
    }
    return Status::Ok();
  };
  auto length = [&]() -> long long {
    auto r = RedisCommand({"XLEN", "shop:orders"});
    return r.ok() ? r->integer : 0;
  };
  Status written;
  std::thread writer([&] { written = write(); });
  for (int kill = 0; kill < 3; ++kill) {
    // Killed at a quarter, half and three quarters of the entries: reachable
    // even when the writer finished long before (sluice works off the backlog).
    const long long at = (kill + 1) * kTxns * 2 / 4;
    EXPECT_TRUE(WaitUntil([&] { return length() >= at; }, std::chrono::seconds(60))) << sluice_->Log();
    sluice_->Kill();
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  // Every change is there; a repeated one carries the same pos.
  std::set<std::string> positions;
  std::vector<std::string> all;
  auto read = [&] {
    positions.clear();
    all.clear();
    auto r = RedisCommand({"XRANGE", "shop:orders", "-", "+"});
    if (!r.ok()) return false;
    for (const auto& entry : r->elements) {
      const auto& kv = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) {
        if (kv[i].str == "pos") {
          positions.insert(kv[i + 1].str);
          all.push_back(kv[i + 1].str);
        }
      }
    }
    return positions.size() >= 2 * kTxns;
  };
  EXPECT_TRUE(WaitUntil(read, std::chrono::seconds(90))) << positions.size() << " distinct changes\n" << sluice_->Log();
  EXPECT_EQ(positions.size(), 2u * kTxns);
  // Repeats only come from the batch in flight at a kill: at most 3 batches' worth.
  EXPECT_LE(all.size() - positions.size(), 3u * 2 * 25 * 4) << all.size();
}

TEST_F(RedisTargetTest, RedisCrashedUnderLoadIsRetriedAndConverges) {
  RedisTargetOptions o;
  o.batch_size = 25;
  o.appendonly = true;  // what Redis acknowledged survives its crash
  ASSERT_NO_FATAL_FAILURE(Start(kOrdersSchema, o));
  std::atomic<bool> done{false};
  Status written;
  std::thread writer([&] {
    written = Write(*src_, 1, 400, std::chrono::milliseconds(5));
    done = true;
  });
  EXPECT_TRUE(WaitUntil([&] { return Keys("shop:orders:*").size() > 20; }, std::chrono::seconds(60)))
      << sluice_->Log();
  ASSERT_TRUE(redis_->Crash().ok());
  // Down: the target retries (and says so), the source keeps writing.
  EXPECT_TRUE(WaitForState("p", "retrying", std::chrono::seconds(60), "dst"));
  auto status = PipelineStatus("p");
  EXPECT_NE(status.dump().find("redis 127.0.0.1:" + std::to_string(redis_->port())), std::string::npos)
      << status.dump();
  ASSERT_TRUE(redis_->Restart().ok());
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(60), "dst"));
}

// Redis restarted without persistence (a cache) holds nothing, the
// checkpoint neither: the pipeline starts again, says so, and takes it as a
// new target: copied again (`snapshot: initial`) and streamed on. Before,
// the pipeline stopped until someone rebuilt the target by hand.
TEST_F(RedisTargetTest, RedisThatLostItsDataIsCopiedAgain) {
  RedisTargetOptions o;
  o.extra = "    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(Start(kOrdersSchema, o));  // no persistence: a restart empties Redis
  ASSERT_TRUE(Write(*src_, 1, 5).ok());
  ASSERT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(Write(*src_, 6, 5).ok());
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(30)));
  const std::string events = PipelineStatus("p")["events"].dump();
  for (const char* part : {"target dst went back", "_sluice:checkpoint:p:dst is gone"}) {
    EXPECT_NE(events.find(part), std::string::npos) << part << " not in: " << events;
  }
  const std::string copy = "copying the existing rows first";
  const size_t first = events.find(copy);
  EXPECT_NE(first == std::string::npos ? first : events.find(copy, first + 1), std::string::npos)
      << "not copied twice: " << events;
}

// A Redis that evicts any key when full (a cache's usual maxmemory policy)
// may drop rows sluice wrote, and its checkpoint: said at start.
TEST_F(RedisTargetTest, ARedisThatEvictsAnyKeyIsWarnedOf) {
  ASSERT_NO_FATAL_FAILURE(StartServers(kOrdersSchema));
  ASSERT_TRUE(RedisCommand({"CONFIG", "SET", "maxmemory", "100mb"}).ok());
  ASSERT_TRUE(RedisCommand({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(LogShows("evicts any key when full (maxmemory 104857600, maxmemory-policy allkeys-lru)"));
  ASSERT_TRUE(Write(*src_, 1, 5).ok());
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
}

// Redis with RDB snapshots only (its default persistence) loses what it
// acknowledged after the last one when it crashes: it comes back older,
// its checkpoint with it. sluice sees that when it reconnects and writes
// again what Redis lost, instead of going on from where it was.
TEST_F(RedisTargetTest, RedisBackFromAnOlderSnapshotGetsWhatItLostAgain) {
  ASSERT_NO_FATAL_FAILURE(Start(kOrdersSchema));
  ASSERT_TRUE(Write(*src_, 1, 20).ok());
  ASSERT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  auto saved = RedisCommand({"SAVE"});
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  ASSERT_TRUE(Write(*src_, 21, 30).ok());
  ASSERT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  ASSERT_TRUE(redis_->Crash().ok());
  ASSERT_TRUE(redis_->Restart().ok());  // loads the snapshot: transactions 21..50 are gone
  ASSERT_TRUE(Write(*src_, 51, 10).ok());
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  const std::string events = PipelineStatus("p")["events"].dump();
  EXPECT_NE(events.find("went back"), std::string::npos) << events;
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(30)));
}

// SIGTERM of sluice while Redis hangs (SIGSTOP) with a batch sent and its
// replies awaited (30 s command timeout): the stop cuts the connection
// instead of waiting it out; restarted, it converges.
TEST_F(RedisTargetTest, StopIsPromptWhileRedisHangs) {
  ASSERT_NO_FATAL_FAILURE(Start(kOrdersSchema));
  ASSERT_TRUE(Write(*src_, 1, 20).ok());
  ASSERT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  ASSERT_TRUE(redis_->Hang().ok());
  ASSERT_TRUE(Write(*src_, 21, 20).ok());
  // sluice is blocked once Redis holds bytes of it unread.
  EXPECT_TRUE(WaitUntil([&] { return redis_->UnreadBytes() > 0; }, std::chrono::seconds(30))) << sluice_->Log();
  auto t0 = std::chrono::steady_clock::now();
  sluice_->Stop();
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(redis_->Resume().ok());
  EXPECT_LT(took, std::chrono::seconds(15)) << sluice_->Log();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
}

}  // namespace
}  // namespace sluice::testing
