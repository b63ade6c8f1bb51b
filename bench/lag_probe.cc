// lag_probe: steady insert load on a source, and the per-row delay until each
// row is visible on a target (bench/lag.sh runs it once against `sluice run`
// and once against a native MariaDB replica).
//
//   lag_probe --source-port P --target-port Q [--host 127.0.0.1] [--table bench.lag]
//             [--rate 8000] [--seconds 30] [--txn-rows 10] [--poll-ms 10]
//             [--drain-seconds 30] [--first-id 1] [--dump FILE]
//
// Two threads, two connections, one clock (system_clock, ms):
//   - the writer inserts `rate` rows per second into TABLE on the source, in
//     autocommit INSERTs of `txn-rows` rows sent on a fixed schedule (a
//     transaction every txn-rows/rate seconds; when it falls behind it sends
//     at once, and reports how far behind it got). Each row carries, in
//     column src_ms, the clock just before its INSERT was sent: its write time.
//   - the sampler asks the target every poll-ms `SELECT id FROM TABLE WHERE
//     id > LOW` (LOW: every id up to it already seen; autocommit, so each
//     query sees the latest commits) and stamps each id with the time the
//     answer arrived: its first-seen time. The row became visible between
//     the previous answer's query and this one, so the stamp is late by at
//     most poll-ms plus one query: delays are rounded up, never down.
// Delay of a row = first-seen time - write time (write time includes the
// source's own commit, ~1 ms). Printed as key=value lines for the script,
// then a per-window table; --dump writes "id write_ms seen_ms" per row.
//
// TABLE must exist on both servers with at least (id BIGINT PRIMARY KEY,
// src_ms BIGINT, k INT, name VARCHAR(64), amount DECIMAL(10,2)), and hold no
// id >= first-id. Exit status 0 when every row was seen within
// drain-seconds after the load ended, 1 otherwise, 2 on a usage or
// connection error.

#include <mysql.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
double WallMsPrecise() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Options {
  std::string host = "127.0.0.1";
  unsigned source_port = 0;
  unsigned target_port = 0;
  std::string table = "bench.lag";
  int64_t rate = 8000;
  int64_t seconds = 30;
  int64_t txn_rows = 10;
  int64_t poll_ms = 10;
  int64_t drain_seconds = 30;
  int64_t first_id = 1;
  std::string dump;
};

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "lag_probe: %s\nusage: lag_probe --source-port P --target-port Q [--host H] [--table DB.T] [--rate N] "
               "[--seconds N] [--txn-rows N] [--poll-ms N] [--drain-seconds N] [--first-id N] [--dump FILE]\n",
               msg);
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    auto num = [&]() -> int64_t {
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0) Usage(("bad number for " + a + ": " + v).c_str());
      return n;
    };
    if (a == "--host")
      o.host = v;
    else if (a == "--source-port")
      o.source_port = static_cast<unsigned>(num());
    else if (a == "--target-port")
      o.target_port = static_cast<unsigned>(num());
    else if (a == "--table")
      o.table = v;
    else if (a == "--rate")
      o.rate = num();
    else if (a == "--seconds")
      o.seconds = num();
    else if (a == "--txn-rows")
      o.txn_rows = num();
    else if (a == "--poll-ms")
      o.poll_ms = num();
    else if (a == "--drain-seconds")
      o.drain_seconds = num();
    else if (a == "--first-id")
      o.first_id = num();
    else if (a == "--dump")
      o.dump = v;
    else
      Usage(("unknown option " + a).c_str());
  }
  if (o.source_port == 0 || o.target_port == 0) Usage("--source-port and --target-port are required");
  if (o.rate <= 0 || o.seconds <= 0 || o.txn_rows <= 0 || o.poll_ms <= 0) Usage("rates and sizes must be positive");
  return o;
}

MYSQL* Connect(const Options& o, unsigned port, const char* what) {
  MYSQL* c = mysql_init(nullptr);
  if (c == nullptr || mysql_real_connect(c, o.host.c_str(), "root", nullptr, nullptr, port, nullptr, 0) == nullptr) {
    std::fprintf(stderr, "lag_probe: cannot connect to the %s at %s:%u: %s\n", what, o.host.c_str(), port,
                 c ? mysql_error(c) : "out of memory");
    std::exit(2);
  }
  if (mysql_query(c, "SET autocommit = 1") != 0) {
    std::fprintf(stderr, "lag_probe: %s: %s\n", what, mysql_error(c));
    std::exit(2);
  }
  return c;
}

double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least p of the samples at or below it.
  size_t rank = static_cast<size_t>(std::max(1.0, std::ceil(p * static_cast<double>(sorted.size()))));
  return static_cast<double>(sorted[std::min(rank, sorted.size()) - 1]);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  const int64_t rows = o.rate * o.seconds;
  const int64_t txns = (rows + o.txn_rows - 1) / o.txn_rows;
  std::vector<int64_t> write_ms(static_cast<size_t>(rows), 0);
  std::vector<int64_t> seen_ms(static_cast<size_t>(rows), 0);
  std::vector<double> stmt_ms(static_cast<size_t>(txns), 0);
  std::atomic<bool> writer_done{false};
  std::atomic<int64_t> written{0};
  int64_t max_behind_ms = 0;
  bool writer_failed = false;

  MYSQL* src = Connect(o, o.source_port, "source");
  MYSQL* dst = Connect(o, o.target_port, "target");
  if (mysql_query(dst, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED") != 0) {
    std::fprintf(stderr, "lag_probe: target: %s\n", mysql_error(dst));
    return 2;
  }

  int64_t load_start_ms = WallMs();
  std::thread writer([&] {
    const auto period = std::chrono::nanoseconds(o.txn_rows * 1'000'000'000LL / o.rate);
    const auto t0 = SteadyClock::now();
    std::string sql;
    for (int64_t t = 0; t < txns; ++t) {
      auto due = t0 + period * t;
      auto now = SteadyClock::now();
      if (now < due) {
        std::this_thread::sleep_until(due);
      } else {
        max_behind_ms =
            std::max<int64_t>(max_behind_ms, std::chrono::duration_cast<std::chrono::milliseconds>(now - due).count());
      }
      int64_t lo = t * o.txn_rows, hi = std::min(rows, lo + o.txn_rows);
      double before = WallMsPrecise();
      int64_t ms = static_cast<int64_t>(before);
      sql = "INSERT INTO " + o.table + " (id, src_ms, k, name, amount) VALUES ";
      for (int64_t r = lo; r < hi; ++r) {
        int64_t id = o.first_id + r;
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "%s(%" PRId64 ",%" PRId64 ",%" PRId64 ",'row %" PRId64 " of the lag probe',%" PRId64 ".%02" PRId64
                      ")",
                      r == lo ? "" : ",", id, ms, (id * 37) % 1000003, id, id % 10000, id % 100);
        sql += buf;
        write_ms[static_cast<size_t>(r)] = ms;
      }
      if (mysql_real_query(src, sql.data(), sql.size()) != 0) {
        std::fprintf(stderr, "lag_probe: source INSERT failed: %s\n", mysql_error(src));
        writer_failed = true;
        break;
      }
      stmt_ms[static_cast<size_t>(t)] = WallMsPrecise() - before;
      written.store(hi);
    }
    writer_done = true;
  });

  // Sampler (this thread).
  int64_t low = o.first_id - 1;  // every id <= low has been seen
  int64_t seen_count = 0, polls = 0, poll_errors = 0;
  int64_t deadline_ms = 0;
  std::string query;
  while (true) {
    auto tick = SteadyClock::now();
    if (writer_done && deadline_ms == 0) deadline_ms = WallMs() + o.drain_seconds * 1000;
    if (writer_done && seen_count >= written.load()) break;
    if (deadline_ms != 0 && WallMs() > deadline_ms) break;
    query = "SELECT id FROM " + o.table + " WHERE id > " + std::to_string(low);
    ++polls;
    if (mysql_real_query(dst, query.data(), query.size()) != 0) {
      if (poll_errors++ == 0) std::fprintf(stderr, "lag_probe: target query failed (retrying): %s\n", mysql_error(dst));
    } else if (MYSQL_RES* res = mysql_store_result(dst)) {
      int64_t now = WallMs();
      while (MYSQL_ROW row = mysql_fetch_row(res)) {
        int64_t id = std::strtoll(row[0], nullptr, 10);
        int64_t idx = id - o.first_id;
        if (idx < 0 || idx >= rows) continue;
        if (seen_ms[static_cast<size_t>(idx)] == 0) {
          seen_ms[static_cast<size_t>(idx)] = now;
          ++seen_count;
        }
      }
      mysql_free_result(res);
      while (low - o.first_id + 1 < rows && seen_ms[static_cast<size_t>(low - o.first_id + 1)] != 0) ++low;
    }
    std::this_thread::sleep_until(tick + std::chrono::milliseconds(o.poll_ms));
  }
  writer.join();
  int64_t load_end_ms = WallMs();
  mysql_close(src);
  mysql_close(dst);

  const int64_t n_written = written.load();
  std::vector<int64_t> delays;
  delays.reserve(static_cast<size_t>(n_written));
  int64_t unseen = 0;
  for (int64_t r = 0; r < n_written; ++r) {
    if (seen_ms[static_cast<size_t>(r)] == 0) {
      ++unseen;
      continue;
    }
    delays.push_back(seen_ms[static_cast<size_t>(r)] - write_ms[static_cast<size_t>(r)]);
  }
  std::vector<int64_t> sorted = delays;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (int64_t d : sorted) sum += static_cast<double>(d);
  std::vector<double> stmts(stmt_ms.begin(), stmt_ms.begin() + (n_written + o.txn_rows - 1) / o.txn_rows);
  std::sort(stmts.begin(), stmts.end());
  double load_s =
      n_written > 0 ? static_cast<double>(write_ms[static_cast<size_t>(n_written - 1)] - write_ms[0]) / 1000.0 : 0;

  std::printf("rows_written=%" PRId64 "\n", n_written);
  std::printf("rows_seen=%zu\n", sorted.size());
  std::printf("rows_unseen=%" PRId64 "\n", unseen);
  std::printf("load_seconds=%.3f\n", load_s);
  std::printf("achieved_rate=%.0f\n", load_s > 0 ? static_cast<double>(n_written) / load_s : 0);
  std::printf("writer_max_behind_ms=%" PRId64 "\n", max_behind_ms);
  std::printf("source_insert_p50_ms=%.2f\n", stmts.empty() ? 0 : stmts[stmts.size() / 2]);
  std::printf("source_insert_p99_ms=%.2f\n",
              stmts.empty() ? 0 : stmts[std::min(stmts.size() - 1, stmts.size() * 99 / 100)]);
  std::printf("polls=%" PRId64 "\n", polls);
  std::printf("poll_errors=%" PRId64 "\n", poll_errors);
  std::printf("delay_mean_ms=%.1f\n", sorted.empty() ? 0 : sum / static_cast<double>(sorted.size()));
  std::printf("delay_p50_ms=%.0f\n", Percentile(sorted, 0.50));
  std::printf("delay_p90_ms=%.0f\n", Percentile(sorted, 0.90));
  std::printf("delay_p99_ms=%.0f\n", Percentile(sorted, 0.99));
  std::printf("delay_p999_ms=%.0f\n", Percentile(sorted, 0.999));
  std::printf("delay_max_ms=%.0f\n", sorted.empty() ? 0 : static_cast<double>(sorted.back()));
  std::printf("run_ms=%" PRId64 "\n", load_end_ms - load_start_ms);

  // Steadiness: the same figures per 5-second window of write time.
  const int64_t window_ms = 5000;
  for (int64_t w0 = write_ms.empty() ? 0 : write_ms[0];
       n_written > 0 && w0 <= write_ms[static_cast<size_t>(n_written - 1)]; w0 += window_ms) {
    std::vector<int64_t> win;
    for (int64_t r = 0; r < n_written; ++r) {
      int64_t wm = write_ms[static_cast<size_t>(r)];
      if (wm >= w0 && wm < w0 + window_ms && seen_ms[static_cast<size_t>(r)] != 0) {
        win.push_back(seen_ms[static_cast<size_t>(r)] - wm);
      }
    }
    std::sort(win.begin(), win.end());
    std::printf("window=%" PRId64 "s rows=%zu p50_ms=%.0f p99_ms=%.0f max_ms=%.0f\n", (w0 - write_ms[0]) / 1000,
                win.size(), Percentile(win, 0.5), Percentile(win, 0.99),
                win.empty() ? 0 : static_cast<double>(win.back()));
  }

  if (!o.dump.empty()) {
    std::ofstream out(o.dump);
    for (int64_t r = 0; r < n_written; ++r) {
      out << o.first_id + r << ' ' << write_ms[static_cast<size_t>(r)] << ' ' << seen_ms[static_cast<size_t>(r)]
          << '\n';
    }
  }
  return (writer_failed || unseen > 0) ? 1 : 0;
}
