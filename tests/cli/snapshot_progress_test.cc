// The progress line `sluice snapshot` draws per table (FormatSnapshotProgressLine).

#include <gtest/gtest.h>

#include "cli/commands.h"

namespace sluice::cli {
namespace {

pipeline::SnapshotTableProgress Table() {
  pipeline::SnapshotTableProgress t;
  t.source = "shop.orders";
  t.target = "copy.orders";
  return t;
}

TEST(SnapshotProgressLineTest, HalfDoneTableShowsBarRowsChunksRateAndEta) {
  auto t = Table();
  t.rows_copied = 5000;
  t.rows_estimate = 10000;
  t.chunks_done = 5;
  t.chunks_total = 10;
  t.rows_per_second = 1234.7;
  t.eta_seconds = 4.05;
  EXPECT_EQ(FormatSnapshotProgressLine(t),
            "shop.orders -> copy.orders [############------------]  50% 5,000/10,000 rows, chunk 5/10, "
            "1,234 rows/s, ETA 0:04");
}

TEST(SnapshotProgressLineTest, LongEtaShowsHours) {
  auto t = Table();
  t.rows_copied = 1;
  t.rows_estimate = 4000000;
  t.chunks_done = 0;
  t.chunks_total = 400;
  t.rows_per_second = 1;
  t.eta_seconds = 2 * 3600 + 5 * 60 + 9;
  std::string line = FormatSnapshotProgressLine(t);
  EXPECT_NE(line.find("[------------------------]   0% 1/4,000,000 rows, chunk 0/400, 1 rows/s, ETA 2:05:09"),
            std::string::npos)
      << line;
}

TEST(SnapshotProgressLineTest, FinishedTableIsFullAndDone) {
  auto t = Table();
  t.rows_copied = 1234567;
  t.rows_estimate = 1234567;
  t.chunks_done = 124;
  t.chunks_total = 124;
  t.rows_per_second = 250000;
  t.eta_seconds = 0;
  t.finished = true;
  EXPECT_EQ(FormatSnapshotProgressLine(t),
            "shop.orders -> copy.orders [########################] 100% 1,234,567/1,234,567 rows, chunk 124/124, "
            "250,000 rows/s, ETA done");
}

TEST(SnapshotProgressLineTest, FinishedBelowTheEstimateStillShowsFull) {
  // Statistics overestimated the table: the bar is full once it is finished.
  auto t = Table();
  t.rows_copied = 90;
  t.rows_estimate = 100;
  t.chunks_done = 1;
  t.chunks_total = 1;
  t.finished = true;
  std::string line = FormatSnapshotProgressLine(t);
  EXPECT_NE(line.find("[########################] 100% 90/100 rows"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA done"), std::string::npos) << line;
}

TEST(SnapshotProgressLineTest, UnknownEtaAndEstimateFallBackToChunks) {
  // No statistics (estimate 0) and no rate yet: progress by chunks, ETA unknown.
  auto t = Table();
  t.rows_copied = 0;
  t.rows_estimate = 0;
  t.chunks_done = 1;
  t.chunks_total = 4;
  t.rows_per_second = 0;
  t.eta_seconds = -1;
  EXPECT_EQ(FormatSnapshotProgressLine(t),
            "shop.orders -> copy.orders [######------------------]  25% 0/0 rows, chunk 1/4, 0 rows/s, ETA --:--");
}

TEST(SnapshotProgressLineTest, EmptyPlanIsComplete) {
  auto t = Table();
  t.chunks_total = 0;
  t.eta_seconds = -1;
  std::string line = FormatSnapshotProgressLine(t);
  EXPECT_NE(line.find("[########################] 100%"), std::string::npos) << line;
}

}  // namespace
}  // namespace sluice::cli
