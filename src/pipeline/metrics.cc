#include "pipeline/metrics.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace sluice::pipeline {

const char* MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// ---- text format helpers ---------------------------------------------------

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Integral values print as integers: "1e+06" parses, but "1000000" is what
  // people grep for and what golden tests compare. 2^63 bounds the cast.
  constexpr double kInt64Limit = 9223372036854775808.0;
  if (v == std::trunc(v) && std::fabs(v) < kInt64Limit) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  // fmt's default for double is the shortest string that reads back to the
  // same value ("0.1", "2.5e-07"); Go's ParseFloat accepts all of its forms.
  return fmt::format("{}", v);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
        break;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
        break;
    }
  }
  return out;
}

namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Appends `{a="x",b="y"` (no closing brace) or nothing for no labels; the
// caller closes it, possibly after adding le="...".
void AppendLabels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values) {
  for (size_t i = 0; i < names.size(); ++i) {
    out += i == 0 ? '{' : ',';
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
}

void AppendSample(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, std::string_view value) {
  out += name;
  AppendLabels(out, label_names, label_values);
  if (!label_names.empty()) out += '}';
  out += ' ';
  out += value;
  out += '\n';
}

[[noreturn]] void Misuse(const std::string& message) { throw std::invalid_argument("metrics: " + message); }

void ValidateLabelNames(const std::string& family, const std::vector<std::string>& names, bool histogram) {
  std::set<std::string_view> seen;
  for (const std::string& n : names) {
    if (!IsValidLabelName(n)) Misuse(fmt::format("metric \"{}\": invalid label name \"{}\"", family, n));
    if (histogram && n == "le") {
      Misuse(fmt::format("histogram \"{}\": label name \"le\" is reserved for buckets", family));
    }
    if (!seen.insert(n).second) Misuse(fmt::format("metric \"{}\": label \"{}\" given twice", family, n));
  }
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = IsAlpha(c) || c == '_' || c == ':' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = IsAlpha(c) || c == '_' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

// ---- histogram ---------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // First bound >= v: the bucket whose le includes v. NaN compares false with
  // everything, so it would land in bucket 0; it belongs only in +Inf (as
  // Prometheus' own clients do), and it makes the sum NaN, which is the truth.
  size_t i = std::isnan(v) ? bounds_.size()
                           : static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Collect() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (start <= 0 || factor <= 1 || count < 1) {
    Misuse(fmt::format("ExponentialBuckets({}, {}, {}): need start > 0, factor > 1, count >= 1", start, factor, count));
  }
  std::vector<double> out;
  out.reserve(static_cast<size_t>(count));
  for (double b = start; static_cast<int>(out.size()) < count; b *= factor) out.push_back(b);
  return out;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  if (width <= 0 || count < 1) {
    Misuse(fmt::format("LinearBuckets({}, {}, {}): need width > 0, count >= 1", start, width, count));
  }
  std::vector<double> out;
  out.reserve(static_cast<size_t>(count));
  // start + i*width rather than repeated addition, so that rounding errors
  // do not accumulate from one bound to the next.
  for (int i = 0; i < count; ++i) out.push_back(start + width * i);
  return out;
}

// ---- families ----------------------------------------------------------------

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}

void FamilyBase::RenderHeader(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  out += EscapeHelp(help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += MetricTypeName(type_);
  out += '\n';
}

template <typename T>
Family<T>::Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                  std::function<std::unique_ptr<T>()> make)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)), make_(std::move(make)) {
  // The unlabelled child exists from the start so that a counter nobody has
  // incremented yet is scraped as 0, not missing (rate() needs the 0).
  if (this->label_names().empty()) Lookup({});
}

template <typename T>
T& Family<T>::WithLabelValues(std::initializer_list<std::string_view> values) {
  return Lookup(std::vector<std::string>(values.begin(), values.end()));
}

template <typename T>
T& Family<T>::WithLabelValues(const std::vector<std::string>& values) {
  return Lookup(values);
}

template <typename T>
T& Family<T>::WithLabels(std::initializer_list<LabelPair> labels) {
  const std::vector<std::string>& names = label_names();
  if (labels.size() != names.size()) {
    Misuse(fmt::format("metric \"{}\": {} labels given, it has {} ({})", name(), labels.size(), names.size(),
                       fmt::join(names, ", ")));
  }
  std::vector<std::string> values(names.size());
  std::vector<bool> filled(names.size(), false);
  for (const LabelPair& l : labels) {
    auto it = std::find(names.begin(), names.end(), l.first);
    if (it == names.end()) {
      Misuse(fmt::format("metric \"{}\" has no label \"{}\" (it has {})", name(), l.first, fmt::join(names, ", ")));
    }
    auto i = static_cast<size_t>(it - names.begin());
    if (filled[i]) Misuse(fmt::format("metric \"{}\": label \"{}\" given twice", name(), l.first));
    filled[i] = true;
    values[i] = std::string(l.second);
  }
  return Lookup(std::move(values));
}

template <typename T>
T& Family<T>::Lookup(std::vector<std::string> values) {
  if (values.size() != label_names().size()) {
    Misuse(fmt::format("metric \"{}\": {} label values given, it has {} labels ({})", name(), values.size(),
                       label_names().size(), fmt::join(label_names(), ", ")));
  }
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(std::move(values), make_()).first;
  return *it->second;
}

template <>
void Family<Counter>::Render(std::string& out) const {
  std::lock_guard lock(mu_);
  if (children_.empty()) return;
  RenderHeader(out);
  for (const auto& [values, counter] : children_) {
    AppendSample(out, name(), label_names(), values, fmt::format("{}", counter->value()));
  }
}

template <>
void Family<Gauge>::Render(std::string& out) const {
  std::lock_guard lock(mu_);
  if (children_.empty()) return;
  RenderHeader(out);
  for (const auto& [values, gauge] : children_) {
    AppendSample(out, name(), label_names(), values, FormatMetricValue(gauge->value()));
  }
}

template <>
void Family<Histogram>::Render(std::string& out) const {
  std::lock_guard lock(mu_);
  if (children_.empty()) return;
  RenderHeader(out);
  const std::string bucket_name = name() + "_bucket";
  for (const auto& [values, histogram] : children_) {
    Histogram::Snapshot snap = histogram->Collect();
    const std::vector<double>& bounds = histogram->bounds();
    for (size_t i = 0; i < snap.cumulative.size(); ++i) {
      out += bucket_name;
      AppendLabels(out, label_names(), values);
      out += label_names().empty() ? "{le=\"" : ",le=\"";
      out += i < bounds.size() ? FormatMetricValue(bounds[i]) : "+Inf";
      out += "\"} ";
      out += fmt::format("{}", snap.cumulative[i]);
      out += '\n';
    }
    AppendSample(out, name() + "_sum", label_names(), values, FormatMetricValue(snap.sum));
    AppendSample(out, name() + "_count", label_names(), values, fmt::format("{}", snap.count));
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

namespace {

// Gauges (or counters) computed at scrape time. Not a Family<T>: there are no
// children to hand out, only a function to call.
class CallbackGaugeFamily final : public FamilyBase {
 public:
  CallbackGaugeFamily(std::string name, std::string help, std::vector<std::string> label_names,
                      std::function<std::vector<GaugeSample>()> collect, MetricType type = MetricType::kGauge)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)), collect_(std::move(collect)) {}

  void Render(std::string& out) const override {
    std::vector<GaugeSample> samples;
    try {
      samples = collect_();
    } catch (const std::exception& e) {
      spdlog::warn("metrics: gauge \"{}\" callback failed: {}", name(), e.what());
      samples.clear();
    }
    std::erase_if(samples, [&](const GaugeSample& s) {
      if (s.label_values.size() == label_names().size()) return false;
      spdlog::warn("metrics: gauge \"{}\": dropped a sample with {} label values, it has {} labels", name(),
                   s.label_values.size(), label_names().size());
      return true;
    });
    // Same order and uniqueness as the other families: sorted by label
    // values, first sample of a combination wins (a duplicate would make the
    // page invalid).
    std::stable_sort(samples.begin(), samples.end(),
                     [](const GaugeSample& a, const GaugeSample& b) { return a.label_values < b.label_values; });
    auto dup = std::unique(samples.begin(), samples.end(),
                           [](const GaugeSample& a, const GaugeSample& b) { return a.label_values == b.label_values; });
    samples.erase(dup, samples.end());

    RenderHeader(out);
    for (const GaugeSample& s : samples) {
      AppendSample(out, name(), label_names(), s.label_values, FormatMetricValue(s.value));
    }
  }

 private:
  std::function<std::vector<GaugeSample>()> collect_;
};

}  // namespace

// ---- registry ----------------------------------------------------------------

FamilyBase& MetricsRegistry::Register(std::unique_ptr<FamilyBase> family,
                                      const std::vector<std::string>& sample_names) {
  const std::string& name = family->name();
  if (!IsValidMetricName(name)) Misuse(fmt::format("invalid metric name \"{}\"", name));
  if (family->help().empty()) Misuse(fmt::format("metric \"{}\" needs help text", name));
  ValidateLabelNames(name, family->label_names(), family->type() == MetricType::kHistogram);

  std::lock_guard lock(mu_);
  for (const std::string& s : sample_names) {
    auto it = sample_names_.find(s);
    if (it != sample_names_.end()) {
      Misuse(it->second == s ? fmt::format("metric \"{}\" registered twice", s)
                             : fmt::format("metric \"{}\" clashes with the samples of \"{}\"", name, it->second));
    }
  }
  for (const std::string& s : sample_names) sample_names_.emplace(s, name);
  FamilyBase& ref = *family;
  families_.emplace(name, std::move(family));
  return ref;
}

Family<Counter>& MetricsRegistry::AddCounter(std::string name, std::string help, std::vector<std::string> label_names) {
  if (!name.ends_with("_total")) name += "_total";
  std::vector<std::string> samples{name};
  std::unique_ptr<Family<Counter>> f(new Family<Counter>(std::move(name), std::move(help), MetricType::kCounter,
                                                         std::move(label_names),
                                                         [] { return std::make_unique<Counter>(); }));
  return static_cast<Family<Counter>&>(Register(std::move(f), samples));
}

Family<Gauge>& MetricsRegistry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names) {
  std::vector<std::string> samples{name};
  std::unique_ptr<Family<Gauge>> f(new Family<Gauge>(std::move(name), std::move(help), MetricType::kGauge,
                                                     std::move(label_names), [] { return std::make_unique<Gauge>(); }));
  return static_cast<Family<Gauge>&>(Register(std::move(f), samples));
}

Family<Histogram>& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                                 std::vector<std::string> label_names, std::vector<double> bounds) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      Misuse(fmt::format("histogram \"{}\": bucket bound {} is not finite", name, bounds[i]));
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      Misuse(fmt::format("histogram \"{}\": bucket bounds must increase strictly ({} then {})", name, bounds[i - 1],
                         bounds[i]));
    }
  }
  std::vector<std::string> samples{name, name + "_bucket", name + "_sum", name + "_count"};
  std::unique_ptr<Family<Histogram>> f(
      new Family<Histogram>(std::move(name), std::move(help), MetricType::kHistogram, std::move(label_names),
                            [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); }));
  return static_cast<Family<Histogram>&>(Register(std::move(f), samples));
}

void MetricsRegistry::AddGaugeCallback(std::string name, std::string help, std::function<double()> value) {
  AddGaugeCollector(std::move(name), std::move(help), {}, [value = std::move(value)] {
    return std::vector<GaugeSample>{{{}, value()}};
  });
}

void MetricsRegistry::AddGaugeCollector(std::string name, std::string help, std::vector<std::string> label_names,
                                        std::function<std::vector<GaugeSample>()> collect) {
  std::vector<std::string> samples{name};
  Register(std::make_unique<CallbackGaugeFamily>(std::move(name), std::move(help), std::move(label_names),
                                                 std::move(collect)),
           samples);
}

void MetricsRegistry::AddCounterCollector(std::string name, std::string help, std::vector<std::string> label_names,
                                          std::function<std::vector<GaugeSample>()> collect) {
  if (!name.ends_with("_total")) name += "_total";
  std::vector<std::string> samples{name};
  Register(std::make_unique<CallbackGaugeFamily>(std::move(name), std::move(help), std::move(label_names),
                                                 std::move(collect), MetricType::kCounter),
           samples);
}

std::vector<std::string> MetricsRegistry::SampleNames() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [sample, family] : sample_names_) out.push_back(sample);
  return out;
}

std::string MetricsRegistry::RenderPrometheus() const {
  // Render outside the registry lock: callbacks may be slow or take their
  // own locks, and must not block registration. Families are never removed,
  // so the pointers stay valid.
  std::vector<const FamilyBase*> families;
  {
    std::lock_guard lock(mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) families.push_back(family.get());
  }
  std::string out;
  for (const FamilyBase* f : families) f->Render(out);
  return out;
}

}  // namespace sluice::pipeline
