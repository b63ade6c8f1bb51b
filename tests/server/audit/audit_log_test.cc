#include "server/audit/audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "server/audit/audit_verify.h"

namespace sluice::server {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<std::string> Lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
void WriteLines(const fs::path& p, const std::vector<std::string>& lines) {
  std::ofstream out(p, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-audit-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    // 2026-12-04T10:00:00Z
    now_ = std::chrono::system_clock::time_point(std::chrono::seconds(1796378400));
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::unique_ptr<AuditLog> Open(uint32_t retention_days = 2555) {
    auto log = AuditLog::Open(dir_.string(), retention_days, [this] { return now_; });
    EXPECT_TRUE(log.ok()) << log.status().message();
    return log.ok() ? std::move(*log) : nullptr;
  }
  void Append(AuditLog& log, const std::string& action) {
    ASSERT_TRUE(log.Append({"alice", "operator", action, "pipeline/p", {{"state", "running"}}, {{"state", "stopped"}},
                            "ok"})
                    .ok());
  }
  AuditVerifyReport Verify(const fs::path& p) {
    auto r = VerifyAudit(p.string());
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : AuditVerifyReport{false, 0, 0, "error"};
  }

  fs::path dir_;
  std::chrono::system_clock::time_point now_;
};

TEST_F(AuditLogTest, LinesCarryTheContractFieldsAndAChain) {
  auto log = Open();
  Append(*log, "pipeline.stop");
  Append(*log, "pipeline.start");
  fs::path file = dir_ / "audit-2026-12-04.jsonl";
  ASSERT_EQ(AuditFileName(now_), file.filename().string());
  std::vector<std::string> lines = Lines(file);
  ASSERT_EQ(lines.size(), 2u);
  auto first = nlohmann::json::parse(lines[0]);
  for (const char* k : {"time", "who", "role", "action", "object", "before", "after", "result", "prev", "hash"}) {
    EXPECT_TRUE(first.contains(k)) << k << " in " << lines[0];
  }
  EXPECT_EQ(first["time"], "2026-12-04T10:00:00.000Z");
  EXPECT_EQ(first["prev"], std::string(kAuditGenesis));
  EXPECT_EQ(nlohmann::json::parse(lines[1])["prev"], first["hash"]);
  AuditVerifyReport r = Verify(dir_);
  EXPECT_TRUE(r.ok) << r.broken;
  EXPECT_EQ(r.lines, 2u);
}

TEST_F(AuditLogTest, ChainRunsAcrossDailyFilesAndReopens) {
  {
    auto log = Open();
    Append(*log, "a");
    now_ += 24h;
    Append(*log, "b");
  }
  auto log = Open();  // picks up the head of the chain from the newest file
  Append(*log, "c");
  EXPECT_EQ(Lines(dir_ / "audit-2026-12-04.jsonl").size(), 1u);
  EXPECT_EQ(Lines(dir_ / "audit-2026-12-05.jsonl").size(), 2u);
  AuditVerifyReport r = Verify(dir_);
  EXPECT_TRUE(r.ok) << r.broken;
  EXPECT_EQ(r.files, 2u);
  EXPECT_EQ(r.lines, 3u);
  // One file alone verifies too (its first prev taken as given).
  EXPECT_TRUE(Verify(dir_ / "audit-2026-12-05.jsonl").ok);
}

TEST_F(AuditLogTest, VerifyNamesTheFirstEditedDeletedOrReorderedLine) {
  {
    auto log = Open();
    for (const char* a : {"a", "b", "c", "d"}) Append(*log, a);
  }
  fs::path file = dir_ / "audit-2026-12-04.jsonl";
  const std::vector<std::string> good = Lines(file);

  std::vector<std::string> edited = good;
  edited[2].replace(edited[2].find("\"alice\""), 7, "\"mallory\"");
  WriteLines(file, edited);
  AuditVerifyReport r = Verify(dir_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken.rfind("audit-2026-12-04.jsonl:3: ", 0), 0u) << r.broken;
  EXPECT_NE(r.broken.find("edited"), std::string::npos) << r.broken;

  std::vector<std::string> deleted = good;
  deleted.erase(deleted.begin() + 1);
  WriteLines(file, deleted);
  r = Verify(file);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken.rfind("audit-2026-12-04.jsonl:2: ", 0), 0u) << r.broken;
  EXPECT_NE(r.broken.find("deleted"), std::string::npos) << r.broken;

  std::vector<std::string> reordered = good;
  std::swap(reordered[1], reordered[2]);
  WriteLines(file, reordered);
  r = Verify(dir_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken.rfind("audit-2026-12-04.jsonl:2: ", 0), 0u) << r.broken;

  // The first line deleted: its successor no longer starts from genesis.
  std::vector<std::string> head_gone(good.begin() + 1, good.end());
  WriteLines(file, head_gone);
  r = Verify(dir_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken.rfind("audit-2026-12-04.jsonl:1: ", 0), 0u) << r.broken;

  WriteLines(file, good);
  EXPECT_TRUE(Verify(dir_).ok);
}

TEST_F(AuditLogTest, RetentionRemovesWholeFilesAndLeavesTheAnchor) {
  auto log = Open(/*retention_days=*/2);
  Append(*log, "day1");
  now_ += 24h;
  Append(*log, "day2");
  std::string day2_last = nlohmann::json::parse(Lines(dir_ / "audit-2026-12-05.jsonl").back())["hash"];
  now_ += 24h;
  Append(*log, "day3");
  EXPECT_TRUE(fs::exists(dir_ / "audit-2026-12-04.jsonl"));  // exactly 2 days old: kept
  now_ += 24h;
  Append(*log, "day4");  // the date changed: 12-04 expired, 12-05 is two days old
  EXPECT_FALSE(fs::exists(dir_ / "audit-2026-12-04.jsonl"));
  EXPECT_TRUE(fs::exists(dir_ / "audit-2026-12-05.jsonl"));
  now_ += 24h;
  Append(*log, "day5");
  EXPECT_FALSE(fs::exists(dir_ / "audit-2026-12-05.jsonl"));
  auto anchor = nlohmann::json::parse(Lines(dir_ / kAuditAnchorFile).at(0));
  EXPECT_EQ(anchor["file"], "audit-2026-12-05.jsonl");
  EXPECT_EQ(anchor["last_hash"], day2_last);
  // The next file starts from that hash, and the directory verifies.
  EXPECT_EQ(nlohmann::json::parse(Lines(dir_ / "audit-2026-12-06.jsonl").at(0))["prev"], day2_last);
  AuditVerifyReport r = Verify(dir_);
  EXPECT_TRUE(r.ok) << r.broken;
  EXPECT_EQ(r.files, 3u);

  // Removing the oldest remaining file by hand is not retention: detected.
  fs::remove(dir_ / "audit-2026-12-06.jsonl");
  r = Verify(dir_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken.rfind("audit-2026-12-07.jsonl:1: ", 0), 0u) << r.broken;
}

}  // namespace
}  // namespace sluice::server
