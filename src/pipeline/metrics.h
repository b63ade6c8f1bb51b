#pragma once
// Metrics for `sluice run` (design §6 `GET /metrics`): a registry of metric
// families rendered in the Prometheus text exposition format 0.0.4.
//
// Ownership and threading. The `run` command owns one MetricsRegistry for the
// life of the process; families are registered at start-up and never removed,
// so the references Add*() and WithLabels() return stay valid for as long as
// the registry lives. Everything here is thread-safe.
//
// Cost. Label lookup (a mutex and a map search) happens once, when a stage
// obtains its handle: `Counter& rows = family.WithLabels({{"pipeline", "orders"}});`
// After that Counter::Inc is one relaxed atomic add, Gauge::Set one relaxed
// store and Histogram::Observe a binary search over the bucket bounds plus two
// relaxed atomic adds; none of them locks or allocates. Scrapes read the
// atomics without stopping writers, so a histogram's _sum may be one
// observation ahead of or behind its buckets; _count always equals the +Inf
// bucket because both come from the same read.
//
// Registration mistakes (a malformed name, a duplicate name, the wrong number
// of label values) are programmer errors and throw std::invalid_argument.

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::pipeline {

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram };

// "counter" | "gauge" | "histogram", as written on the # TYPE line.
const char* MetricTypeName(MetricType type);

// A monotonically increasing count (rows, bytes, errors). Integral because
// everything sluice counts is; each counter sits on its own cache line so that
// two stages' counters never bounce the same line between cores.
class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (queue bytes, connections, last batch size).
// A double holds both integers (exactly up to 2^53) and fractions, so one type
// serves both; Set(int) converts implicitly.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void Sub(double d) { value_.fetch_sub(d, std::memory_order_relaxed); }
  void Inc() { Add(1); }
  void Dec() { Sub(1); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (apply latency, batch sizes).
// Bucket i counts observations v <= bounds[i]; a last, implicit bucket counts
// everything (le="+Inf"). Counts are stored per bucket, not cumulatively, so
// Observe touches one bucket; the exposition accumulates them.
class Histogram {
 public:
  // `bounds` are the finite upper bounds, strictly increasing (validated by
  // MetricsRegistry::AddHistogram).
  explicit Histogram(std::vector<double> bounds);

  void Observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    uint64_t count = 0;                // == cumulative.back()
    double sum = 0;
  };
  Snapshot Collect() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Bucket bounds start, start*factor, ... (count of them), e.g. latencies.
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// Bucket bounds start, start+width, ... (count of them).
std::vector<double> LinearBuckets(double start, double width, int count);

// What every family has: a name, help text, a type and label names. The
// registry renders families through this interface.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends "# HELP", "# TYPE" and every sample line. A labelled family with
  // no children yet renders nothing: a family without samples tells a scraper
  // nothing and only clutters the page.
  virtual void Render(std::string& out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names);
  void RenderHeader(std::string& out) const;

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
};

// A family of one metric type; one child per combination of label values.
// Children are created on first lookup and never removed, so the returned
// references are stable; callers keep them and increment without lookups.
template <typename T>
class Family final : public FamilyBase {
 public:
  using LabelPair = std::pair<std::string_view, std::string_view>;

  // Label values in the order of label_names(): WithLabelValues({"orders", "search"}).
  T& WithLabelValues(std::initializer_list<std::string_view> values);
  T& WithLabelValues(const std::vector<std::string>& values);
  // Name/value pairs in any order; the names must be exactly label_names():
  // WithLabels({{"pipeline", "orders"}, {"target", "search"}}).
  T& WithLabels(std::initializer_list<LabelPair> labels);

  void Render(std::string& out) const override;

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make);
  T& Lookup(std::vector<std::string> values);

  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  // Ordered by label values: the exposition is stable from scrape to scrape.
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// Each type renders its own sample lines (metrics.cc).
template <>
void Family<Counter>::Render(std::string& out) const;
template <>
void Family<Gauge>::Render(std::string& out) const;
template <>
void Family<Histogram>::Render(std::string& out) const;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// One sample of a gauge computed at scrape time.
struct GaugeSample {
  std::vector<std::string> label_values;  // in the family's label_names() order
  double value = 0;
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // A counter's exposed name ends in "_total" (Prometheus convention); the
  // suffix is appended when `name` lacks it, and name() returns the full name.
  Family<Counter>& AddCounter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `bounds`: finite, strictly increasing upper bounds; a trailing +Inf is
  // accepted and dropped because the +Inf bucket is always there. Also
  // reserves name_bucket, name_sum and name_count.
  Family<Histogram>& AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                  std::vector<double> bounds);

  // A gauge whose value is computed at scrape time, on the scraping thread
  // (e.g. queue bytes read from the queue). `value` must be thread-safe and
  // cheap, and must outlive the registry's scrapes.
  void AddGaugeCallback(std::string name, std::string help, std::function<double()> value);
  // A counter read at scrape time from a count kept elsewhere (e.g. checks
  // run, from the controller); `collect` must never return a smaller value
  // for a label combination than before. "_total" is appended as for
  // AddCounter. Same rules as AddGaugeCollector otherwise.
  void AddCounterCollector(std::string name, std::string help, std::vector<std::string> label_names,
                           std::function<std::vector<GaugeSample>()> collect);
  // The labelled form: `collect` returns one sample per label combination
  // (e.g. delay per pipeline and target, from the controller). Samples with
  // the wrong number of label values are dropped with a warning; duplicates
  // keep the first. An exception from `collect` drops that family's samples
  // from the scrape (logged), never the whole page.
  void AddGaugeCollector(std::string name, std::string help, std::vector<std::string> label_names,
                         std::function<std::vector<GaugeSample>()> collect);

  // The whole registry in the text exposition format 0.0.4, families sorted
  // by name, samples by label values.
  std::string RenderPrometheus() const;
  // Every sample name the registry can expose ("x_total", "h_bucket",
  // "h_sum", "h_count", ...), sorted; also those of families that have no
  // sample yet (which RenderPrometheus leaves out). For checking that
  // dashboards and alert rules name real metrics.
  std::vector<std::string> SampleNames() const;

 private:
  // Validates names and takes ownership; throws on a clash.
  FamilyBase& Register(std::unique_ptr<FamilyBase> family, const std::vector<std::string>& sample_names);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;  // by name: sorted output
  // Every sample name in use (a histogram owns three), so that a gauge named
  // "x_count" cannot collide with histogram "x".
  std::map<std::string, std::string> sample_names_;  // sample name -> family name
};

// Text-format helpers, exposed for tests and for other exporters.
// A sample value as Prometheus parses it: "+Inf", "-Inf", "NaN", integral
// values without exponent or fraction, others in shortest round-trip form.
std::string FormatMetricValue(double v);
// Escapes backslash, double quote and newline (label values).
std::string EscapeLabelValue(std::string_view v);
// Escapes backslash and newline (help text).
std::string EscapeHelp(std::string_view v);
// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus).
bool IsValidLabelName(std::string_view name);

}  // namespace sluice::pipeline
