#include "pipeline/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::pipeline {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Checks the page the way a Prometheus text-format parser would: every line
// a HELP, a TYPE or a sample `name{label="value",...} value`; each family's
// HELP and TYPE before its samples; every sample belongs to the family
// declared last (histograms through their three suffixes); values parse as
// floats.
void ExpectParsesBack(const std::string& page) {
  ASSERT_FALSE(page.empty());
  ASSERT_EQ(page.back(), '\n') << "the last line must end with a newline";
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*))");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::string kLabel = R"([a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*")";
  static const std::regex kSample("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{" + kLabel + "(?:," + kLabel +
                                  ")*\\})? (NaN|[+-]Inf|-?[0-9]+(?:\\.[0-9]+)?(?:e[+-][0-9]+)?)");
  std::string family;
  std::string type;
  for (const std::string& line : Lines(page)) {
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      family = m[1];
      type.clear();
      continue;
    }
    if (std::regex_match(line, m, kType)) {
      EXPECT_EQ(m[1], family) << "TYPE without its HELP: " << line;
      type = m[2];
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, kSample)) << "not a sample line: " << line;
    ASSERT_FALSE(type.empty()) << "sample before its TYPE: " << line;
    std::string name = m[1];
    if (type == "histogram") {
      EXPECT_TRUE(name == family + "_bucket" || name == family + "_sum" || name == family + "_count") << line;
    } else {
      EXPECT_EQ(name, family) << line;
    }
    std::string value = m[3];
    if (value != "NaN" && value != "+Inf" && value != "-Inf") {
      size_t used = 0;
      (void)std::stod(value, &used);
      EXPECT_EQ(used, value.size()) << line;
    }
  }
}

TEST(MetricsFormat, Values) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(-0.0), "0");
  EXPECT_EQ(FormatMetricValue(42), "42");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(1e6), "1000000");
  EXPECT_EQ(FormatMetricValue(123456789012.0), "123456789012");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(2.5), "2.5");
  EXPECT_EQ(FormatMetricValue(1.5e-7), "1.5e-07");
  EXPECT_EQ(FormatMetricValue(1e300), "1e+300");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  // Shortest round trip: the text reads back as the same double.
  for (double v : {0.1 + 0.2, 1.0 / 3.0, 6.02214076e23, 2.2250738585072014e-308}) {
    EXPECT_EQ(std::stod(FormatMetricValue(v)), v) << FormatMetricValue(v);
  }
}

TEST(MetricsFormat, Escaping) {
  EXPECT_EQ(EscapeLabelValue(R"(a"b\c)"
                             "\n"
                             "d"),
            R"(a\"b\\c\nd)");
  EXPECT_EQ(EscapeLabelValue("plain 订单"), "plain 订单");
  // Help text keeps double quotes: only backslash and newline are special.
  EXPECT_EQ(EscapeHelp("say \"hi\"\\\nbye"), R"(say "hi"\\\nbye)");
}

TEST(MetricsFormat, Names) {
  EXPECT_TRUE(IsValidMetricName("sluice_rows_total"));
  EXPECT_TRUE(IsValidMetricName(":recording:rule"));
  EXPECT_TRUE(IsValidMetricName("_x9"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("9lives"));
  EXPECT_FALSE(IsValidMetricName("has-dash"));
  EXPECT_FALSE(IsValidMetricName("has space"));
  EXPECT_TRUE(IsValidLabelName("pipeline"));
  EXPECT_TRUE(IsValidLabelName("_private"));
  EXPECT_FALSE(IsValidLabelName("__reserved"));
  EXPECT_FALSE(IsValidLabelName("with:colon"));
  EXPECT_FALSE(IsValidLabelName("1st"));
  EXPECT_FALSE(IsValidLabelName(""));
}

TEST(MetricsRegistry, GoldenExposition) {
  MetricsRegistry r;
  Family<Counter>& rows = r.AddCounter("sluice_rows", "Rows applied.\nPer target \\ pipeline.", {"pipeline", "target"});
  rows.WithLabels({{"target", "search"}, {"pipeline", "orders"}}).Inc(3);
  rows.WithLabelValues({"a\"b\\c\nd", "x"}).Inc();
  Family<Gauge>& queue = r.AddGauge("sluice_queue_bytes", "Bytes waiting in the queue.", {"pipeline"});
  queue.WithLabelValues({"orders"}).Set(1048576);
  queue.WithLabelValues({"p2"}).Set(0.25);
  Family<Histogram>& apply = r.AddHistogram("sluice_apply_seconds", "Apply latency.", {"target"}, {0.005, 0.1, 1});
  Histogram& search = apply.WithLabelValues({"search"});
  // Powers of two: the sum is exact and the golden string stable.
  for (double v : {0.00390625, 0.0625, 0.5, 3.0}) search.Observe(v);
  r.AddCounter("sluice_errors_total", "Errors.");                          // unlabelled: scraped as 0 before any error
  r.AddGauge("sluice_labelled_unused", "No children yet.", {"pipeline"});  // renders nothing

  const std::string expected =
      "# HELP sluice_apply_seconds Apply latency.\n"
      "# TYPE sluice_apply_seconds histogram\n"
      "sluice_apply_seconds_bucket{target=\"search\",le=\"0.005\"} 1\n"
      "sluice_apply_seconds_bucket{target=\"search\",le=\"0.1\"} 2\n"
      "sluice_apply_seconds_bucket{target=\"search\",le=\"1\"} 3\n"
      "sluice_apply_seconds_bucket{target=\"search\",le=\"+Inf\"} 4\n"
      "sluice_apply_seconds_sum{target=\"search\"} 3.56640625\n"
      "sluice_apply_seconds_count{target=\"search\"} 4\n"
      "# HELP sluice_errors_total Errors.\n"
      "# TYPE sluice_errors_total counter\n"
      "sluice_errors_total 0\n"
      "# HELP sluice_queue_bytes Bytes waiting in the queue.\n"
      "# TYPE sluice_queue_bytes gauge\n"
      "sluice_queue_bytes{pipeline=\"orders\"} 1048576\n"
      "sluice_queue_bytes{pipeline=\"p2\"} 0.25\n"
      "# HELP sluice_rows_total Rows applied.\\nPer target \\\\ pipeline.\n"
      "# TYPE sluice_rows_total counter\n"
      "sluice_rows_total{pipeline=\"a\\\"b\\\\c\\nd\",target=\"x\"} 1\n"
      "sluice_rows_total{pipeline=\"orders\",target=\"search\"} 3\n";
  std::string page = r.RenderPrometheus();
  EXPECT_EQ(page, expected);
  ExpectParsesBack(page);
  EXPECT_EQ(rows.name(), "sluice_rows_total");
}

TEST(MetricsRegistry, UnlabelledHistogramAndSpecialValues) {
  MetricsRegistry r;
  Histogram& h = r.AddHistogram("batch_rows", "Rows per batch.", {}, {10, 100, std::numeric_limits<double>::infinity()})
                     .WithLabelValues({});
  h.Observe(10);  // le is inclusive: lands in le="10"
  h.Observe(11);
  h.Observe(1e9);
  Gauge& g = r.AddGauge("odd", "Odd values.").WithLabelValues({});
  g.Set(-std::numeric_limits<double>::infinity());
  std::string page = r.RenderPrometheus();
  EXPECT_EQ(page,
            "# HELP batch_rows Rows per batch.\n"
            "# TYPE batch_rows histogram\n"
            "batch_rows_bucket{le=\"10\"} 1\n"
            "batch_rows_bucket{le=\"100\"} 2\n"
            "batch_rows_bucket{le=\"+Inf\"} 3\n"
            "batch_rows_sum 1000000021\n"
            "batch_rows_count 3\n"
            "# HELP odd Odd values.\n"
            "# TYPE odd gauge\n"
            "odd -Inf\n");
  ExpectParsesBack(page);

  h.Observe(std::nan(""));  // counts only in +Inf, and the sum says NaN
  Histogram::Snapshot s = h.Collect();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(s.count, 4u);
  EXPECT_TRUE(std::isnan(s.sum));
  ExpectParsesBack(r.RenderPrometheus());
}

TEST(MetricsRegistry, GaugeOperations) {
  MetricsRegistry r;
  Gauge& g = r.AddGauge("conns", "Connections.").WithLabelValues({});
  g.Set(5);
  g.Inc();
  g.Add(2.5);
  g.Dec();
  g.Sub(0.5);
  EXPECT_DOUBLE_EQ(g.value(), 7);
  EXPECT_NE(r.RenderPrometheus().find("conns 7\n"), std::string::npos);
}

TEST(MetricsRegistry, HandlesAreStable) {
  MetricsRegistry r;
  Family<Counter>& f = r.AddCounter("x", "X.", {"pipeline", "target"});
  Counter& a = f.WithLabelValues({"orders", "search"});
  for (int i = 0; i < 100; ++i) {
    f.WithLabelValues({"p" + std::to_string(i), "t"});
  }  // map grows
  EXPECT_EQ(&a, &f.WithLabels({{"target", "search"}, {"pipeline", "orders"}}));
  EXPECT_EQ(&a, &f.WithLabelValues(std::vector<std::string>{"orders", "search"}));
  EXPECT_NE(&a, &f.WithLabelValues({"orders", "report"}));
}

TEST(MetricsRegistry, CallbackGauges) {
  MetricsRegistry r;
  double bytes = 4096;
  r.AddGaugeCallback("sluice_queue_bytes", "Queued bytes.", [&] { return bytes; });
  r.AddGaugeCollector("sluice_target_delay_seconds", "Delay.", {"pipeline", "target"}, [] {
    return std::vector<GaugeSample>{
        {{"orders", "search"}, 0.5},
        {{"orders", "report"}, 1.25},
        {{"orders"}, 9},             // wrong arity: dropped
        {{"orders", "search"}, 99},  // duplicate: the first wins
    };
  });
  r.AddGaugeCollector("broken", "Throws.", {},
                      []() -> std::vector<GaugeSample> { throw std::runtime_error("controller gone"); });
  std::string page = r.RenderPrometheus();
  EXPECT_EQ(page,
            "# HELP broken Throws.\n"
            "# TYPE broken gauge\n"
            "# HELP sluice_queue_bytes Queued bytes.\n"
            "# TYPE sluice_queue_bytes gauge\n"
            "sluice_queue_bytes 4096\n"
            "# HELP sluice_target_delay_seconds Delay.\n"
            "# TYPE sluice_target_delay_seconds gauge\n"
            "sluice_target_delay_seconds{pipeline=\"orders\",target=\"report\"} 1.25\n"
            "sluice_target_delay_seconds{pipeline=\"orders\",target=\"search\"} 0.5\n");
  ExpectParsesBack(page);
  bytes = 0;  // computed at scrape time
  EXPECT_NE(r.RenderPrometheus().find("sluice_queue_bytes 0\n"), std::string::npos);
}

TEST(MetricsRegistry, RegistrationMistakesThrow) {
  MetricsRegistry r;
  EXPECT_THROW(r.AddGauge("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("9x", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("ok", "x", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("ok", "x", {"__name__"}), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("ok", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("ok", ""), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", "x", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", "x", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", "x", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", "x", {}, {1, std::nan("")}), std::invalid_argument);
  EXPECT_THROW(ExponentialBuckets(0, 2, 3), std::invalid_argument);
  EXPECT_THROW(LinearBuckets(0, 0, 3), std::invalid_argument);

  // One family per name, including the names a histogram's samples use.
  r.AddCounter("rows_total", "x");
  EXPECT_THROW(r.AddCounter("rows", "x"), std::invalid_argument);  // same exposed name
  EXPECT_THROW(r.AddGauge("rows_total", "x"), std::invalid_argument);
  r.AddHistogram("lat", "x", {}, {1});
  EXPECT_THROW(r.AddGauge("lat_count", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddGaugeCallback("lat_sum", "x", [] { return 0.0; }), std::invalid_argument);
  r.AddGauge("q_bucket", "x");
  EXPECT_THROW(r.AddHistogram("q", "x", {}, {1}), std::invalid_argument);

  Family<Gauge>& g = r.AddGauge("g", "x", {"pipeline", "target"});
  EXPECT_THROW(g.WithLabelValues({"only-one"}), std::invalid_argument);
  EXPECT_THROW(g.WithLabels({{"pipeline", "a"}, {"tagret", "b"}}), std::invalid_argument);
  EXPECT_THROW(g.WithLabels({{"pipeline", "a"}, {"pipeline", "b"}}), std::invalid_argument);
  EXPECT_THROW(g.WithLabels({{"pipeline", "a"}}), std::invalid_argument);
  ExpectParsesBack(r.RenderPrometheus());
}

TEST(MetricsRegistry, BucketHelpers) {
  EXPECT_EQ(ExponentialBuckets(0.001, 10, 4), (std::vector<double>{0.001, 0.01, 0.1, 1.0}));
  EXPECT_EQ(LinearBuckets(100, 100, 3), (std::vector<double>{100, 200, 300}));
}

TEST(MetricsRegistry, ConcurrentUpdatesAreExact) {
  MetricsRegistry r;
  Family<Counter>& rows = r.AddCounter("rows", "Rows.", {"pipeline"});
  Family<Histogram>& lat = r.AddHistogram("lat", "Latency.", {"pipeline"}, {1, 10, 100});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::atomic<bool> stop_scraping{false};
  // A scraper running throughout: renders must be safe while writers run.
  std::thread scraper([&] {
    while (!stop_scraping.load()) {
      // Empty until a thread creates the first child: a labelled family
      // without children is not rendered.
      std::string page = r.RenderPrometheus();
      if (!page.empty()) ExpectParsesBack(page);
    }
  });
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Every thread looks the handles up itself: lookups race too.
      Counter& c = rows.WithLabels({{"pipeline", "orders"}});
      Histogram& h = lat.WithLabelValues({"orders"});
      for (int i = 0; i < kPerThread; ++i) {
        c.Inc();
        h.Observe(static_cast<double>(i % 200));  // integers: the double sum is exact
      }
    });
  }
  for (std::thread& t : threads) t.join();
  stop_scraping = true;
  scraper.join();

  EXPECT_EQ(rows.WithLabelValues({"orders"}).value(), uint64_t{kThreads} * kPerThread);
  Histogram::Snapshot s = lat.WithLabelValues({"orders"}).Collect();
  const uint64_t total = uint64_t{kThreads} * kPerThread;
  EXPECT_EQ(s.count, total);
  // i % 200 over 100000 values: 500 rounds of 0..199.
  constexpr uint64_t kRounds = kPerThread / 200;
  EXPECT_EQ(s.cumulative[0], kThreads * kRounds * 2);    // 0, 1
  EXPECT_EQ(s.cumulative[1], kThreads * kRounds * 11);   // 0..10
  EXPECT_EQ(s.cumulative[2], kThreads * kRounds * 101);  // 0..100
  EXPECT_EQ(s.cumulative[3], total);
  constexpr uint64_t kSumOfRound = 199 * 200 / 2;  // 0 + 1 + ... + 199
  EXPECT_EQ(s.sum, static_cast<double>(kThreads * kRounds * kSumOfRound));
  EXPECT_NE(r.RenderPrometheus().find("rows_total{pipeline=\"orders\"} 800000\n"), std::string::npos);
}

}  // namespace
}  // namespace sluice::pipeline
