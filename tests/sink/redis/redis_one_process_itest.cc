// Two `sluice run` processes of the same configuration against one Redis
// target (a copy on a second host, a deploy overlapping the old instance):
// before, each applied every change (a stream got every entry twice; a
// lagging one put older values back over newer hashes). Now one applies and
// the other waits, naming it, and takes over once the first is gone
// (killed, stopped) or frozen for takeover_after; a thawed former owner
// waits in turn.
#include <fstream>
#include <set>
#include <thread>

#include "sink/redis/redis_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kOrdersSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT NULL, note VARCHAR(40));
)sql";
constexpr int kBatch = 25;

class RedisOneProcessTest : public RedisTargetTest {
 protected:
  static RedisTargetOptions StreamOptions() {
    RedisTargetOptions o;
    o.mode = "stream";
    o.batch_size = kBatch;
    o.extra = "    takeover_after: 2s\n";
    return o;
  }
  // sluice_ applying, 50 transactions in, and a second process waiting for
  // it. `before_start` runs on the servers before sluice starts; with
  // `sync_points`, sluice runs with those from the 51st transaction on.
  void StartOwnerAndStandby(const RedisTargetOptions& o = StreamOptions(),
                            const std::function<void()>& before_start = {}, const std::string& sync_points = "") {
    ASSERT_NO_FATAL_FAILURE(StartServers(kOrdersSchema, o));
    if (before_start) {
      ASSERT_NO_FATAL_FAILURE(before_start());
    }
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    ASSERT_TRUE(Write(1, 50).ok());
    ASSERT_TRUE(EveryChangeOnce(50, 0)) << sluice_->Log();
    if (!sync_points.empty()) {
      EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
      StartSluiceWithSyncPoints(sync_points);
      ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    }
    second_.Start(dir_ / "second", [&](const std::filesystem::path& dir, uint16_t port) { return Config(dir, port); });
    ASSERT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(second_.port); }, seconds(30))) << second_.process->Log();
  }
  // Transactions first..last: an insert and an update of that row (two stream entries each).
  Status Write(int first, int last, milliseconds pause = milliseconds(0)) {
    for (int t = first; t <= last; ++t) {
      RETURN_IF_ERROR(
          src_->Execute(fmt::format("BEGIN; INSERT INTO shop.orders VALUES ({0}, {0}, NULL); UPDATE shop.orders SET "
                                    "amount = -{0} WHERE id = {0}; "
                                    "COMMIT",
                                    t)));
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
    return Status::Ok();
  }
  long long Length() {
    auto r = RedisCommand({"XLEN", "shop:orders"});
    return r.ok() ? r->integer : 0;
  }
  // Waits until the stream holds every change of `txns` transactions;
  // then no more than `repeats` entries may come twice (the batches in
  // flight where a process was killed or taken over from).
  ::testing::AssertionResult EveryChangeOnce(int txns, size_t repeats) {
    std::set<std::string> positions;
    size_t entries = 0;
    auto read = [&] {
      positions.clear();
      entries = 0;
      auto r = RedisCommand({"XRANGE", "shop:orders", "-", "+"});
      if (!r.ok()) return false;
      for (const auto& entry : r->elements) {
        const auto& kv = entry.elements[1].elements;
        for (size_t i = 0; i + 1 < kv.size(); i += 2) {
          if (kv[i].str != "pos") continue;
          positions.insert(kv[i + 1].str);
          ++entries;
        }
      }
      return positions.size() >= 2u * txns;
    };
    if (!WaitUntil(read, seconds(90))) {
      return ::testing::AssertionFailure() << positions.size() << " distinct changes of " << 2 * txns;
    }
    if (positions.size() != 2u * txns || entries - positions.size() > repeats) {
      return ::testing::AssertionFailure()
             << positions.size() << " distinct changes of " << 2 * txns << ", " << entries << " entries";
    }
    return ::testing::AssertionSuccess();
  }
  SecondSluice second_;
};

TEST_F(RedisOneProcessTest, ASecondProcessWaitsAndTakesOverOnlyOnceTheFirstIsGone) {
  ASSERT_NO_FATAL_FAILURE(StartOwnerAndStandby());
  const std::string waiting = HttpGet(second_.port, "/api/pipelines/p/status").body;
  EXPECT_NE(waiting.find("since"), std::string::npos) << waiting;
  // While it waits, it writes nothing: the stream grows by the first's entries alone.
  ASSERT_TRUE(Write(51, 100).ok());
  ASSERT_TRUE(EveryChangeOnce(100, 0)) << sluice_->Log() << second_.process->Log();

  Status written;
  std::jthread writer([&] { written = Write(101, 400, milliseconds(5)); });
  // The first dies (kill -9): the second takes over from where it got to.
  ASSERT_TRUE(WaitUntil([&] { return Length() >= 2 * 160; }, seconds(60))) << sluice_->Log();
  sluice_->Kill();
  EXPECT_TRUE(LogsWithin(*second_.process, "taking over from a sluice process that is gone", seconds(30)));
  // Started again, the first now waits for the second.
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(http_port_); }, seconds(30))) << sluice_->Log();

  // The second stops, which lets go of the target: the first goes on.
  ASSERT_TRUE(WaitUntil([&] { return Length() >= 2 * 300; }, seconds(60))) << second_.process->Log();
  EXPECT_EQ(second_.process->Stop(), 0) << second_.process->Log();
  EXPECT_FALSE(RedisCommand({"HGET", "_sluice:owner:p:dst", "token"})->type == sink::redis::RedisReply::Type::kString);
  EXPECT_TRUE(WaitUntil([&] { return !WaitsForAnotherProcess(http_port_); }, seconds(15))) << sluice_->Log();
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  // Repeats: the batch in flight at the kill.
  EXPECT_TRUE(EveryChangeOnce(400, 2 * kBatch)) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The owner frozen with its connections open (a host that died without
// closing them, a paused virtual machine): Redis would keep them for good.
// The waiting process takes over once they have been idle for
// takeover_after, closing them; the owner, thawed, finds another alive and
// waits.
TEST_F(RedisOneProcessTest, AFrozenOwnerIsTakenOverAfterTakeoverAfterAndWaitsOnceThawed) {
  ASSERT_NO_FATAL_FAILURE(StartOwnerAndStandby());
  // A live owner with nothing to write for longer than takeover_after is not taken over.
  std::this_thread::sleep_for(seconds(4));
  EXPECT_TRUE(WaitsForAnotherProcess(second_.port)) << second_.process->Log();

  Status written;
  std::jthread writer([&] { written = Write(51, 300, milliseconds(5)); });
  ASSERT_TRUE(WaitUntil([&] { return Length() >= 2 * 100; }, seconds(60))) << sluice_->Log();
  sluice_->Freeze();
  EXPECT_TRUE(LogsWithin(*second_.process, "taking over from a sluice process that is gone", seconds(30)));
  sluice_->Thaw();
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(http_port_); }, seconds(30))) << sluice_->Log();
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  // Repeats: the batch the frozen owner had in flight.
  EXPECT_TRUE(EveryChangeOnce(300, 2 * kBatch)) << sluice_->Log() << second_.process->Log();
  EXPECT_EQ(second_.process->Stop(), 0) << second_.process->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The exact moment that matters: the owner frozen with a batch built and
// not yet sent. The takeover closes its connections, so what it sends once
// thawed goes nowhere: not one entry comes twice.
TEST_F(RedisOneProcessTest, AFrozenOwnersBatchNotYetSentNeverLands) {
  const std::string go = (dir_ / "go").string();
  ASSERT_NO_FATAL_FAILURE(StartOwnerAndStandby(StreamOptions(), {}, "redis.batch.send=wait:" + go));
  ASSERT_TRUE(Write(51, 60).ok());
  EXPECT_TRUE(LogsWithin(*sluice_, "sync point redis.batch.send: waiting", seconds(30)));
  sluice_->Freeze();
  std::ofstream(go).flush();  // it may go on once thawed
  EXPECT_TRUE(LogsWithin(*second_.process, "taking over from a sluice process that is gone", seconds(30)));
  EXPECT_TRUE(EveryChangeOnce(60, 0)) << second_.process->Log();
  sluice_->Thaw();
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(http_port_); }, seconds(30))) << sluice_->Log();
  ASSERT_TRUE(Write(61, 80).ok());
  EXPECT_TRUE(EveryChangeOnce(80, 0)) << sluice_->Log() << second_.process->Log();
  EXPECT_EQ(second_.process->Stop(), 0) << second_.process->Log();
}

// A user whose ACL denies CLIENT (a managed Redis, a locked-down account):
// the target is applied as before; a second process cannot tell whether the
// owner lives, so it waits until the owner is known gone (here: it ran on
// this host and its pid is gone), never taking over from a live one.
TEST_F(RedisOneProcessTest, AUserWithoutClientCommandsAppliesAndATakeoverWaitsForTheOwnerToBeGone) {
  RedisTargetOptions o = StreamOptions();
  o.user = "limited";
  o.url_password = "secret";
  ASSERT_NO_FATAL_FAILURE(StartOwnerAndStandby(o, [&] {
    auto acl = RedisCommand({"ACL", "SETUSER", "limited", "on", ">secret", "~*", "+@all", "-client"});
    ASSERT_TRUE(acl.ok() && !acl->is_error()) << (acl.ok() ? acl->str : acl.status().message());
  }));
  const std::string waiting = HttpGet(second_.port, "/api/pipelines/p/status").body;
  EXPECT_NE(waiting.find("CLIENT SETNAME is not allowed"), std::string::npos) << waiting;
  // Quiet for longer than takeover_after: still the first's.
  std::this_thread::sleep_for(seconds(3));
  ASSERT_TRUE(Write(51, 100).ok());
  ASSERT_TRUE(EveryChangeOnce(100, 0)) << sluice_->Log() << second_.process->Log();
  EXPECT_TRUE(WaitsForAnotherProcess(second_.port)) << second_.process->Log();

  Status written;
  std::jthread writer([&] { written = Write(101, 300, milliseconds(5)); });
  ASSERT_TRUE(WaitUntil([&] { return Length() >= 2 * 150; }, seconds(60))) << sluice_->Log();
  sluice_->Kill();
  EXPECT_TRUE(LogsWithin(*second_.process, "its process on this host no longer runs", seconds(30)));
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(EveryChangeOnce(300, 2 * kBatch)) << second_.process->Log();
  EXPECT_EQ(second_.process->Stop(), 0) << second_.process->Log();
}

}  // namespace
}  // namespace sluice::testing
