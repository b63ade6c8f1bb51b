// The file sink on a real file system: lines in the format, the recorded
// length and batch end, truncation of what a crash left after it, replays
// skipped, size rotation (and a crash inside one), rotation by logrotate.
#include "sink/file/file_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "format/change_builder.h"

namespace sluice::sink::file {
namespace {

namespace m = sluice::mysql;
using format::testing::Col;
using format::testing::MakeChange;
using format::testing::MakeTable;

std::vector<std::string> Lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class FileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-file-sink-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = dir_ / "out.jsonl";
    table_ = MakeTable("shop", "orders", {Col("id", m::kTypeLong), Col("note", m::kTypeVarchar, 160)}, {0});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<FileSink> Open(const std::string& format = "json", uint64_t rotate_bytes = 0) {
    SinkOptions o;
    o.pipeline = "p";
    o.target = "out";
    o.url.scheme = "file";
    o.url.path = path_.string();
    o.format = format;
    o.rotate_bytes = rotate_bytes;
    auto s = FileSink::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // Transaction `txn` (at offset txn*100): inserts of ids first..first+n-1.
  std::vector<SinkChange> Txn(uint64_t txn, int first, int n, BatchEnd* end) {
    std::vector<SinkChange> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(MakeChange(table_, Op::kInsert, {Value::Int(first + i), Value::Str(ValueKind::kText, "note")}, {},
                               1700000000000, StreamPos{"binlog.000001", txn * 100, static_cast<uint64_t>(i + 1)}));
    }
    *end = BatchEnd{StreamPos{"binlog.000001", txn * 100, StreamPos::kWholeTransaction},
                    fmt::format("binlog.000001:{}", txn * 100 + 99), ""};
    return out;
  }

  std::vector<int64_t> Ids() {
    std::vector<int64_t> ids;
    for (const auto& l : Lines(path_)) ids.push_back(nlohmann::json::parse(l)["after"]["id"].get<int64_t>());
    return ids;
  }

  std::filesystem::path dir_, path_;
  TargetTablePtr table_;
};

TEST_F(FileSinkTest, BatchesAreLinesAndTheirEndIsRecorded) {
  auto sink = Open();
  ASSERT_TRUE(sink);
  BatchEnd end;
  auto batch = Txn(1, 1, 3, &end);
  ASSERT_TRUE(sink->ApplyBatch(batch, end).ok());
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(sink->checkpoint().resume_position, "binlog.000001:199");

  // Reopened: the checkpoint is back, and a replay of the batch adds nothing.
  sink.reset();
  sink = Open();
  ASSERT_TRUE(sink);
  EXPECT_EQ(sink->checkpoint().global, end.pos);
  EXPECT_EQ(sink->checkpoint().resume_position, "binlog.000001:199");
  ASSERT_TRUE(sink->ApplyBatch(batch, end).ok());
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(FileSinkTest, WhatACrashLeftAfterTheLastRecordedBatchIsDropped) {
  auto sink = Open("maxwell");
  ASSERT_TRUE(sink);
  BatchEnd end1, end2;
  auto b1 = Txn(1, 1, 2, &end1);
  auto b2 = Txn(2, 3, 2, &end2);
  ASSERT_TRUE(sink->ApplyBatch(b1, end1).ok());
  sink.reset();
  // The second batch written but its end never recorded (killed between the
  // data and the sidecar), plus half a line.
  std::ofstream(path_, std::ios::app) << "{\"database\":\"shop\",\"table\":\"orders\",\"type\":\"insert\"}\n{\"datab";
  sink = Open("maxwell");
  ASSERT_TRUE(sink);
  EXPECT_EQ(Lines(path_).size(), 2u);
  ASSERT_TRUE(sink->ApplyBatch(b1, end1).ok());  // the source replays from the recorded resume position
  ASSERT_TRUE(sink->ApplyBatch(b2, end2).ok());
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(nlohmann::json::parse(lines[i])["data"]["id"], i + 1) << lines[i];
  // Maxwell's commit flag on the last row of each transaction.
  EXPECT_FALSE(nlohmann::json::parse(lines[0]).contains("commit"));
  EXPECT_EQ(nlohmann::json::parse(lines[1])["commit"], true);
}

TEST_F(FileSinkTest, ATruncatedFileIsAnErrorNotASilentGap) {
  auto sink = Open();
  BatchEnd end;
  ASSERT_TRUE(sink->ApplyBatch(Txn(1, 1, 3, &end), end).ok());
  sink.reset();
  std::filesystem::resize_file(path_, 10);
  SinkOptions o;
  o.target = "out";
  o.url.scheme = "file";
  o.url.path = path_.string();
  auto reopened = FileSink::Open(o);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find("truncated"), std::string::npos) << reopened.status().message();
}

// logrotate's create mode: the file renamed while the sink writes it. The
// renamed file keeps what was recorded; the next batch starts the file at
// the path anew (before, it went on into the renamed one, unseen).
TEST_F(FileSinkTest, AFileMovedAwayByALogRotationIsFollowedToANewFileAtThePath) {
  auto sink = Open();
  ASSERT_TRUE(sink);
  BatchEnd end1, end2, end3;
  auto b1 = Txn(1, 1, 2, &end1);
  ASSERT_TRUE(sink->ApplyBatch(b1, end1).ok());
  std::filesystem::rename(path_, dir_ / "out.jsonl.1");
  auto b2 = Txn(2, 3, 2, &end2);
  ASSERT_TRUE(sink->ApplyBatch(b2, end2).ok());
  EXPECT_EQ(Ids(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(Lines(dir_ / "out.jsonl.1").size(), 2u);
  // Restarted: the recorded length is the new file's; replays add nothing.
  sink.reset();
  sink = Open();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->ApplyBatch(b2, end2).ok());
  // Moved away again while sluice was stopped: it goes on in a new file.
  sink.reset();
  std::filesystem::rename(path_, dir_ / "out.jsonl.2");
  sink = Open();
  ASSERT_TRUE(sink);
  EXPECT_EQ(sink->checkpoint().global, end2.pos);
  ASSERT_TRUE(sink->ApplyBatch(Txn(3, 5, 1, &end3), end3).ok());
  EXPECT_EQ(Ids(), (std::vector<int64_t>{5}));
  EXPECT_EQ(Lines(dir_ / "out.jsonl.2").size(), 2u);
}

// logrotate's copytruncate: the file copied, then emptied in place. The
// next batch goes at its start (before, at the old offset: a hole of NUL
// bytes in front of it).
TEST_F(FileSinkTest, AFileEmptiedInPlaceByALogRotationGoesOnFromItsStart) {
  auto sink = Open();
  ASSERT_TRUE(sink);
  BatchEnd end1, end2;
  ASSERT_TRUE(sink->ApplyBatch(Txn(1, 1, 2, &end1), end1).ok());
  std::filesystem::copy_file(path_, dir_ / "out.jsonl.1");
  std::filesystem::resize_file(path_, 0);
  auto b2 = Txn(2, 3, 2, &end2);
  ASSERT_TRUE(sink->ApplyBatch(b2, end2).ok());
  std::ifstream in(path_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find('\0'), std::string::npos);
  EXPECT_EQ(Ids(), (std::vector<int64_t>{3, 4}));
  sink.reset();
  sink = Open();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->ApplyBatch(b2, end2).ok());
  EXPECT_EQ(Ids(), (std::vector<int64_t>{3, 4}));
}

TEST_F(FileSinkTest, RotatesBySizeAndFinishesARotationACrashInterrupted) {
  auto sink = Open("json", 4096);
  ASSERT_TRUE(sink);
  int id = 1;
  for (uint64_t txn = 1; txn <= 40; ++txn) {
    BatchEnd end;
    ASSERT_TRUE(sink->ApplyBatch(Txn(txn, id, 5, &end), end).ok());
    id += 5;
  }
  sink.reset();
  std::vector<int64_t> all;
  int files = 0;
  for (int n = 1;; ++n) {
    auto p = std::filesystem::path(fmt::format("{}.{:06}", path_.string(), n));
    if (!std::filesystem::exists(p)) break;
    ++files;
    EXPECT_GE(std::filesystem::file_size(p), 4096u);
    for (const auto& l : Lines(p)) all.push_back(nlohmann::json::parse(l)["after"]["id"].get<int64_t>());
  }
  EXPECT_GE(files, 2);
  for (int64_t i : Ids()) all.push_back(i);
  ASSERT_EQ(all.size(), 200u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int64_t>(i + 1));

  // Killed after renaming the full file but before recording the rotation.
  sink.reset();
  std::filesystem::rename(path_, fmt::format("{}.{:06}", path_.string(), files + 1));
  sink = Open("json", 4096);
  ASSERT_TRUE(sink);
  BatchEnd end;
  ASSERT_TRUE(sink->ApplyBatch(Txn(41, id, 1, &end), end).ok());
  EXPECT_EQ(Ids(), (std::vector<int64_t>{id}));
}

// Killed later inside the rotation: the full file renamed and the new one
// already created (empty), the rotation not yet recorded.
TEST_F(FileSinkTest, ARotationKilledAfterTheNewFileWasCreatedIsFinished) {
  auto sink = Open("json", 1);  // every batch rotates
  ASSERT_TRUE(sink);
  BatchEnd end;
  ASSERT_TRUE(sink->ApplyBatch(Txn(1, 1, 3, &end), end).ok());
  sink.reset();
  const std::string sidecar = path_.string() + ".sluice-pos";
  const std::string recorded = [&] {
    std::ifstream in(sidecar);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  // Rewind to the moment before the rotation was recorded: the sidecar of
  // the batch end (one rotation fewer, the full length), the file renamed,
  // a new empty one created.
  std::string before = recorded;
  before.replace(before.find("rotations 1"), 11, "rotations 0");
  before.replace(before.find("length 0"), 8, fmt::format("length {}", std::filesystem::file_size(path_.string() + ".000001")));
  std::ofstream(sidecar, std::ios::trunc) << before;
  std::ofstream(path_, std::ios::trunc).flush();

  sink = Open("json", 0);
  ASSERT_TRUE(sink) << "a rotation interrupted after the new file appeared must be finished, not refused";
  ASSERT_TRUE(sink->ApplyBatch(Txn(2, 4, 2, &end), end).ok());
  EXPECT_EQ(Ids(), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(Lines(path_.string() + ".000001").size(), 3u);
}

// The same file configured twice (the configuration run a second time, a
// deploy overlapping the old instance, two pipelines naming one path): the
// second writer waits, retrying, naming the first, instead of both
// appending every change; it opens once the first is gone.
TEST_F(FileSinkTest, ASecondWriterOfTheSameFileWaitsForTheFirst) {
  auto first = Open();
  ASSERT_TRUE(first);
  BatchEnd end;
  ASSERT_TRUE(first->ApplyBatch(Txn(1, 1, 2, &end), end).ok());
  SinkOptions o;
  o.pipeline = "p";
  o.target = "out";
  o.url.scheme = "file";
  o.url.path = path_.string();
  auto second = FileSink::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().retryable()) << second.status().message();
  EXPECT_NE(second.status().message().find("another sluice process or pipeline (pid " + std::to_string(::getpid())),
            std::string::npos)
      << second.status().message();
  EXPECT_EQ(Ids(), (std::vector<int64_t>{1, 2})) << "the waiting one wrote nothing, truncated nothing";

  first.reset();
  second = FileSink::Open(o);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ((*second)->checkpoint().global, end.pos);
}

TEST_F(FileSinkTest, DdlIsALineInTheFormat) {
  auto sink = Open("canal");
  ASSERT_TRUE(sink);
  DdlChange ddl;
  ddl.db = "shop";
  ddl.query = "ALTER TABLE orders ADD COLUMN x INT";
  ddl.target_db = "shop";
  ddl.target_table = "orders";
  ddl.pos = StreamPos{"binlog.000001", 500, StreamPos::kWholeTransaction};
  BatchEnd end{ddl.pos, "binlog.000001:600", ""};
  ASSERT_TRUE(sink->ApplyDdl(ddl, end).ok());
  ASSERT_TRUE(sink->ApplyDdl(ddl, end).ok());  // replayed: written once
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 1u);
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["isDdl"], true);
  EXPECT_EQ(j["type"], "ALTER");
  EXPECT_EQ(j["table"], "orders");
}

}  // namespace
}  // namespace sluice::sink::file
