// `sluice snapshot` and `snapshot: initial` into a real redis-server (issue
// 10): every type family copied as the stream writes it, in modes hash,
// string and stream, then `sluice run` streams on from the snapshot's start;
// a snapshot beside a running stream converges; a snapshot killed with
// kill -9 resumes with the chunks not done; a chunk whose EXEC a stream
// batch aborted (the WATCHed checkpoint changed) is refused, retryably, and
// written by its next attempt.
#include <signal.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/run_command.h"
#include "client/mysql/connection.h"
#include "sink/redis/redis_chunk_target.h"
#include "sink/redis/redis_fixture.h"

namespace sluice::testing {
namespace {

using Json = nlohmann::json;

constexpr const char* kSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.types (
  id INT PRIMARY KEY, ti TINYINT, ub BIGINT UNSIGNED, de DECIMAL(12,2), fl FLOAT, db DOUBLE,
  vc VARCHAR(40), lat VARCHAR(20) CHARACTER SET latin1, vb VARBINARY(8), bl BLOB,
  d DATE, dt DATETIME(3), ts TIMESTAMP(6) NULL, tm TIME, y YEAR, b BIT(8),
  e ENUM('small','large'), s SET('a','b','c'), j JSON);
CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT NULL, note VARCHAR(40));
)sql";

constexpr const char* kTypesRow =
    "SET time_zone = '+00:00'; INSERT INTO shop.types VALUES (1, -5, 18446744073709551615, 19.90, 1.5, 2.25, "
    "'a:b \"q\" \xe2\x9c\x93', 'caf\xc3\xa9', 0x00FF10, 'blob', '2024-01-31', '2024-01-31 12:34:56.789', "
    "'2024-01-31 12:34:56.123456', '-838:59:59', 2024, b'101', 'large', 'a,c', '{\"k\": [1, 2]}'); "
    "INSERT INTO shop.types (id, vc) VALUES (2, '')";

const RedisMap kTypesHash = {
    {"id", "1"},          {"ti", "-5"},
    {"ub", "18446744073709551615"},
    {"de", "19.90"},      {"fl", "1.5"},
    {"db", "2.25"},       {"vc", "a:b \"q\" \xe2\x9c\x93"},
    {"lat", "caf\xc3\xa9"},
    {"vb", "AP8Q"},       {"bl", "YmxvYg=="},
    {"d", "2024-01-31"},  {"dt", "2024-01-31 12:34:56.789"},
    {"ts", "2024-01-31 12:34:56.123456"},
    {"tm", "-838:59:59"}, {"y", "2024"},
    {"b", "5"},           {"e", "large"},
    {"s", "a,c"},         {"j", "{\"k\": [1, 2]}"},
};

constexpr const char* kOrdersQuery = "SELECT id, amount, note FROM shop.orders ORDER BY id";
const std::vector<std::string> kOrderColumns = {"id", "amount", "note"};

Status Orders(MariadbServer& src, int first, int n) {
  for (int t = first; t < first + n; ++t) {
    std::string sql = fmt::format("BEGIN; INSERT INTO shop.orders VALUES ({0}, {0}, 'order {0}'); "
                                  "UPDATE shop.orders SET amount = amount + 1, note = 'paid' WHERE id = {1}; ",
                                  t, t / 2);
    if (t % 7 == 0) sql += fmt::format("UPDATE shop.orders SET note = NULL WHERE id = {}; ", t / 3);
    if (t % 11 == 0) sql += fmt::format("DELETE FROM shop.orders WHERE id = {}; ", t / 5);
    sql += "COMMIT";
    RETURN_IF_ERROR(src.Execute(sql));
  }
  return Status::Ok();
}

class RedisSnapshotTest : public RedisTargetTest {
 protected:
  void StartWith(const std::string& mode, uint64_t chunk_rows, const std::string& extra = "") {
    RedisTargetOptions o;
    o.mode = mode;
    o.extra = fmt::format("    chunk_rows: {}\n{}", chunk_rows, extra);
    ASSERT_NO_FATAL_FAILURE(StartServers(kSchema, o));
    ASSERT_TRUE(src_->Execute(kTypesRow).ok());
  }
  CommandResult Snapshot(const std::string& args = "", int timeout_s = 120) {
    return RunSluice("snapshot -c " + ShellQuote(config_) + " --pipeline p --progress plain " + args, timeout_s);
  }
  // The fields of the plan hash: how many chunks of `table` are recorded done.
  int DoneChunks(const std::string& table) {
    int done = 0;
    RedisMap plan = Hash(sink::redis::RedisChunkTarget::PlanKey("p", "dst"));
    for (const auto& [field, value] : plan) {
      if (!field.starts_with(table + "\n")) continue;
      Json v = Json::parse(value, nullptr, false);
      if (v.is_object() && v.value("done", false)) ++done;
    }
    return done;
  }
  std::vector<Json> Entries(const std::string& key) {
    std::vector<Json> out;
    auto r = RedisCommand({"XRANGE", key, "-", "+"});
    if (!r.ok() || r->is_error()) return out;
    for (const auto& entry : r->elements) {
      Json fields = Json::object();
      const auto& kv = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) fields[kv[i].str] = kv[i + 1].str;
      out.push_back(std::move(fields));
    }
    return out;
  }
};

TEST_F(RedisSnapshotTest, HashSnapshotOfEveryTypeThenRunStreamsOnFromTheSnapshotStart) {
  ASSERT_NO_FATAL_FAILURE(StartWith("hash", 20));
  ASSERT_TRUE(Orders(*src_, 1, 300).ok());
  CommandResult r = Snapshot("--parallel 2");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Hash("shop:types:1"), kTypesHash);
  EXPECT_EQ(Hash("shop:types:2"), (RedisMap{{"id", "2"}, {"vc", ""}}));
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns, std::chrono::seconds(5)));
  // The start position is the pipeline's checkpoint; the plan is forgotten.
  RedisMap cp = Hash("_sluice:checkpoint:p:dst");
  EXPECT_TRUE(cp["resume_position"].starts_with("binlog.")) << cp["resume_position"];
  EXPECT_TRUE(cp["position"].starts_with("binlog.")) << cp["position"];
  EXPECT_TRUE(Hash(sink::redis::RedisChunkTarget::PlanKey("p", "dst")).empty());

  // Changes made after the snapshot, before `sluice run` starts, and while it runs.
  ASSERT_TRUE(src_->Execute("UPDATE shop.types SET vc = NULL, de = 0.5 WHERE id = 1").ok());
  ASSERT_TRUE(Orders(*src_, 301, 50).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Orders(*src_, 351, 50).ok());
  RedisMap updated = kTypesHash;
  updated.erase("vc");
  updated["de"] = "0.50";
  EXPECT_TRUE(HashBecomes("shop:types:1", updated));
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  // Resumed from the snapshot's start (not `start: earliest`): the copied
  // rows were not rewritten by a replay of their inserts.
  EXPECT_EQ(sluice_->FullLog().find("is gone"), std::string::npos) << sluice_->FullLog();
}

TEST_F(RedisSnapshotTest, StringModeSnapshotSetsEachRowsJson) {
  ASSERT_NO_FATAL_FAILURE(StartWith("string", 20));
  ASSERT_TRUE(Orders(*src_, 1, 50).ok());
  CommandResult r = Snapshot();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto v = RedisCommand({"GET", "shop:types:2"});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->str, R"({"id":2,"ti":null,"ub":null,"de":null,"fl":null,"db":null,"vc":"","lat":null,"vb":null,)"
                    R"("bl":null,"d":null,"dt":null,"ts":null,"tm":null,"y":null,"b":null,"e":null,"s":null,"j":null})");
  v = RedisCommand({"GET", "shop:orders:14"});
  ASSERT_TRUE(v.ok());
  auto want = src_->QueryValue("SELECT JSON_OBJECT('id', id, 'amount', amount, 'note', note) FROM shop.orders WHERE id = 14");
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(Json::parse(v->str, nullptr, false), Json::parse(*want, nullptr, false)) << v->str;
  EXPECT_EQ(Keys("shop:orders:*").size(), std::stoul(*src_->QueryValue("SELECT COUNT(*) FROM shop.orders")));
}

TEST_F(RedisSnapshotTest, StreamModeSnapshotAppendsReadEntriesThenTheChanges) {
  RedisTargetOptions o;
  o.mode = "stream";
  o.extra = "    chunk_rows: 10\n";
  ASSERT_NO_FATAL_FAILURE(StartServers(R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40));
CREATE TABLE shop.audit (msg VARCHAR(40));
INSERT INTO shop.orders SELECT seq, CONCAT('n', seq) FROM shop.seq_1_to_30;
INSERT INTO shop.audit VALUES ('a'), ('b');
)sql",
                                       o));
  CommandResult r = Snapshot();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<Json> entries = Entries("shop:orders");
  ASSERT_EQ(entries.size(), 30u);
  // Chunks are copied in parallel: each row once, in any order of chunks.
  std::set<std::string> want, got;
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i]["op"], "read") << entries[i].dump();
    EXPECT_EQ(entries[i]["before"], "null");
    EXPECT_EQ(entries[i]["pos"], "");
    got.insert(entries[i]["after"].get<std::string>());
    want.insert(fmt::format(R"({{"id":{0},"note":"n{0}"}})", i + 1));
  }
  EXPECT_EQ(got, want);
  // A table without a key is read whole into its stream.
  auto audit = Entries("shop:audit");
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0]["op"], "read");

  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET note = 'x' WHERE id = 3; DELETE FROM shop.orders WHERE id = 4").ok());
  ASSERT_TRUE(WaitUntil([&] { return (entries = Entries("shop:orders")).size() >= 32; }, std::chrono::seconds(60)))
      << sluice_->Log();
  ASSERT_EQ(entries.size(), 32u);  // the snapshot's rows are not streamed again
  EXPECT_EQ(entries[30]["op"], "update");
  EXPECT_EQ(entries[31]["op"], "delete");
}

TEST_F(RedisSnapshotTest, SnapshotAlongsideARunningStreamConverges) {
  ASSERT_NO_FATAL_FAILURE(StartWith("hash", 10));
  ASSERT_TRUE(Orders(*src_, 1, 300).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  Status written;
  std::thread writer([&] { written = Orders(*src_, 301, 500); });
  CommandResult r = Snapshot("--parallel 4");
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  EXPECT_TRUE(HashBecomes("shop:types:1", kTypesHash));
}

TEST_F(RedisSnapshotTest, RunWithInitialSnapshotCopiesThenStreams) {
  ASSERT_NO_FATAL_FAILURE(StartWith("hash", 25, "    snapshot: initial\n"));
  ASSERT_TRUE(Orders(*src_, 1, 300).ok());
  StartSluice();
  ASSERT_TRUE(Orders(*src_, 301, 200).ok());
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  EXPECT_TRUE(HashBecomes("shop:types:1", kTypesHash));
  EXPECT_TRUE(WaitUntil([&] { return sluice_->FullLog().find("snapshot done") != std::string::npos; },
                        std::chrono::seconds(60)))
      << sluice_->FullLog();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Orders(*src_, 501, 20).ok());
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns));
  EXPECT_EQ(sluice_->FullLog().find("copying the existing rows"), std::string::npos) << sluice_->FullLog();
}

TEST_F(RedisSnapshotTest, KilledSnapshotResumesWithTheChunksNotDone) {
  ASSERT_NO_FATAL_FAILURE(StartWith("hash", 10));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders SELECT seq, seq, CONCAT('order ', seq) FROM shop.seq_1_to_3000")
                  .ok());
  // Killed (-9, by a sync point) right after its fifth chunk committed:
  // most chunks are not done.
  ::setenv("SLUICE_SYNC_POINTS", "snapshot.chunk.committed=crash@5", 1);
  CommandResult killed = Snapshot("--parallel 1");
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_NE(killed.exit_code, 0) << killed.out << killed.err;
  int done = DoneChunks("shop.orders");
  EXPECT_GE(done, 1);
  EXPECT_LT(done, 300);
  // Exactly the done chunks' rows are there (the mark travels with them).
  EXPECT_EQ(static_cast<int>(Keys("shop:orders:*").size()), done * 10);

  CommandResult r = Snapshot("--parallel 2");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("resuming the snapshot"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(RowsConverge(kOrdersQuery, "shop:orders:*", kOrderColumns, std::chrono::seconds(5)));
}

// A ChunkTarget as the snapshot drives it, against a running `sluice run`:
// a stream batch between BeginChunk (the read) and Commit aborts the EXEC.
TEST_F(RedisSnapshotTest, ChunkWhoseExecAStreamBatchAbortedIsRefusedRetryablyThenRewritten) {
  RedisTargetOptions o;
  ASSERT_NO_FATAL_FAILURE(Start(kSchema, o));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (1, 1, 'first')").ok());
  ASSERT_TRUE(HashBecomes("shop:orders:1", {{"id", "1"}, {"amount", "1"}, {"note", "first"}}));

  sink::SinkOptions so;
  so.pipeline = "p";
  so.target = "dst";
  so.url = *Url::Parse(redis_->Url(0));
  auto opened = sink::redis::RedisChunkTarget::Open(so);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto& target = **opened;
  auto table = std::make_shared<TargetTable>();
  table->db = "shop";
  table->table = "orders";
  table->columns = {"id", "amount", "note"};
  table->key = {0};
  table->source = "shop.orders";
  auto row = [&](int amount, const char* note) {
    SinkChange c;
    c.kind = SinkChange::Kind::kUpsert;
    c.snapshot = true;
    c.table = table;
    c.values = {Value::Int(1), Value::Int(amount), Value::Str(ValueKind::kText, note)};
    return std::vector<SinkChange>{c};
  };
  sink::ChunkRecord chunk;
  chunk.pipeline = "p";
  chunk.target = "dst";
  chunk.table = "shop.orders";
  chunk.chunk = 0;

  // The chunk "reads" id 1 as (1, 'first'); then the stream applies a newer change.
  ASSERT_TRUE(target.BeginChunk("p", "dst").ok());
  std::vector<SinkChange> stale = row(1, "first");
  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET amount = 2, note = 'newer' WHERE id = 1").ok());
  ASSERT_TRUE(HashBecomes("shop:orders:1", {{"id", "1"}, {"amount", "2"}, {"note", "newer"}}));
  ASSERT_TRUE(target.Write(stale).ok());
  ASSERT_TRUE(target.MarkChunkDone(chunk, 1).ok());
  Status st = target.Commit();
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(st.retryable()) << st.message();
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st.message();
  target.Rollback();
  // Nothing of the chunk was applied: neither the stale row nor the done mark.
  EXPECT_EQ(Hash("shop:orders:1"), (RedisMap{{"id", "1"}, {"amount", "2"}, {"note", "newer"}}));
  EXPECT_TRUE(Hash(sink::redis::RedisChunkTarget::PlanKey("p", "dst")).empty());

  // The next attempt reads again and commits (as the snapshot retries: a
  // checkpoint the stream advances meanwhile aborts it again).
  for (int attempt = 0; attempt < 20; ++attempt) {
    ASSERT_TRUE(target.BeginChunk("p", "dst").ok());
    std::vector<SinkChange> fresh = row(2, "newer");
    ASSERT_TRUE(target.Write(fresh).ok());
    ASSERT_TRUE(target.MarkChunkDone(chunk, 1).ok());
    st = target.Commit();
    if (st.ok()) break;
    ASSERT_EQ(st.code(), StatusCode::kAborted) << st.message();
    target.Rollback();
  }
  EXPECT_TRUE(st.ok()) << st.message();
  auto plan = target.LoadPlan("p", "dst", "shop.orders", "");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_TRUE((*plan)[0].done);
  EXPECT_EQ((*plan)[0].rows, 1u);
}

}  // namespace
}  // namespace sluice::testing
