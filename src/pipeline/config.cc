#include "pipeline/config.h"

#include <algorithm>
#include <span>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/position.h"
#include "sink/registry.h"

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// ---------------------------------------------------------------------------
// Text helpers

// Optimal string alignment distance (Levenshtein plus adjacent
// transpositions): "colums" -> "columns" is 1, "tagrets" -> "targets" is 1.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The closest candidate within edit distance 2 (the first one on a tie), or "".
template <typename Range>
std::string Closest(std::string_view word, const Range& candidates) {
  std::string best;
  size_t best_distance = 3;
  for (const auto& c : candidates) {
    std::string_view candidate(c);
    size_t dist = EditDistance(word, candidate);
    if (dist < best_distance) {
      best_distance = dist;
      best = std::string(candidate);
    }
  }
  return best;
}

template <typename Range>
std::string JoinNames(const Range& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += std::string_view(n);
  }
  return out;
}

// User text fit for a message. Anything with an '@' may be a URL with
// credentials (say, a URL written as a map key by mistake): it is shown
// redacted, or not at all.
std::string Printable(std::string_view text) {
  std::string s;
  if (text.find('@') != std::string_view::npos) {
    auto url = Url::Parse(text);
    if (!url.ok()) return "<hidden: may contain a password>";
    s = url->ToRedactedString();
  } else {
    s = std::string(text);
  }
  constexpr size_t kMaxShown = 120;
  if (s.size() > kMaxShown) s = s.substr(0, kMaxShown) + "...";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

std::string Quoted(std::string_view text) { return "\"" + Printable(text) + "\""; }

// "unknown KIND "NAME" (did you mean "X"?)", or the defined names when none is close.
std::string UnknownName(std::string_view kind, const std::string& name, const std::vector<std::string>& defined) {
  std::string suggestion = Closest(name, defined);
  return fmt::format("unknown {} {} ({})", kind, Quoted(name),
                     suggestion.empty() ? "defined: " + JoinNames(defined)
                                        : fmt::format("did you mean \"{}\"?", suggestion));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IsYamlBoolean(std::string_view s) {
  for (std::string_view b : {"true", "false", "yes", "no", "on", "off"}) {
    if (EqualsIgnoreCase(s, b)) return true;
  }
  return false;
}

// Digits only: no sign, no spaces, no base prefixes.
std::optional<uint64_t> ParseDigits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool IsValidName(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool IsValidEnvName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s.front()))) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Why a "to:" template cannot name a table, or nullopt when it can.
std::optional<std::string> CheckTableTemplate(std::string_view tmpl) {
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$' || i + 1 >= tmpl.size() || tmpl[i + 1] != '{') continue;
    size_t close = tmpl.find('}', i + 2);
    if (close == std::string_view::npos) {
      return fmt::format("unterminated \"${{\" in {} (use ${{db}} and ${{table}})", Quoted(tmpl));
    }
    std::string_view var = tmpl.substr(i + 2, close - i - 2);
    if (var != "db" && var != "table") {
      return fmt::format("unknown variable ${{{}}} in {} (use ${{db}} and ${{table}})", Printable(var), Quoted(tmpl));
    }
    i = close;
  }
  // Variables always expand to non-empty names without dots, so one sample
  // expansion tells the shape of every result.
  std::string sample = ExpandTableTemplate(tmpl, "d", "t");
  size_t dot = sample.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == sample.size() ||
      sample.find('.', dot + 1) != std::string::npos) {
    return fmt::format(
        "{} does not name a table: expected \"DB.TABLE\" with both parts non-empty, e.g. "
        "\"search_db.${{table}}\"",
        Quoted(tmpl));
  }
  return std::nullopt;
}

// "host:port" or "[v6]:port".
bool IsHostPort(std::string_view s) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return false;  // a bare IPv6 address needs brackets
  }
  if (host.empty() || host.find_first_of(" \t/@") != std::string_view::npos) return false;
  auto p = ParseDigits(port);
  return p && *p >= 1 && *p <= 65535;
}

// ---------------------------------------------------------------------------
// YAML access

const char* Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// One key: value pair of a map, with where each is.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  Mark key_mark;
  Mark value_mark;  // the key's mark when the value is null: yaml-cpp puts a null's mark on the next token
};

struct MapView {
  std::vector<Entry> entries;
  Mark mark;
  const Entry* Find(std::string_view key) const {
    for (const auto& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }
};

using KeyList = std::initializer_list<std::string_view>;

std::string Child(std::string_view path, std::string_view key) {
  std::string k = Printable(key);
  return path.empty() ? k : fmt::format("{}.{}", path, k);
}
std::string Index(std::string_view path, size_t i) { return fmt::format("{}[{}]", path, i); }

class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  Result<Config> Load(std::string_view text);
  Result<NodeConfig> LoadNode(std::string_view text);

 private:
  // The one YAML document of `text`; `needs` completes "it needs ..." for an empty file.
  Result<YAML::Node> Document(std::string_view text, std::string_view needs) const;
  Mark MarkOf(const YAML::Node& n) const {
    YAML::Mark m = n.Mark();
    if (m.is_null()) return Mark{file_, 0, 0};
    return Mark{file_, m.line + 1, m.column + 1};
  }

  Status Fail(const Mark& mark, std::string_view path, std::string_view message) const {
    return Status::Invalid("{}", FormatConfigError(mark, path, message));
  }

  // `n` as a map whose keys are all in `known` (when non-empty), with no
  // duplicate keys. `where` locates `n` when it is null.
  Result<MapView> AsMap(const YAML::Node& n, const Mark& where, const std::string& path, KeyList known,
                        std::string_view expected = "a map") const;
  Result<MapView> AsMap(const Entry& e, const std::string& path, KeyList known,
                        std::string_view expected = "a map") const {
    return AsMap(e.value, e.value_mark, path, known, expected);
  }
  Status RequireKeys(const MapView& m, const std::string& path, KeyList required) const;

  Result<std::string> String(const Entry& e, const std::string& path) const;
  Result<uint64_t> Unsigned(const Entry& e, const std::string& path, uint64_t min, uint64_t max) const;
  Result<uint64_t> Size(const Entry& e, const std::string& path, uint64_t min) const;
  // "90s", "30m", "1h", "500ms", "1d": milliseconds, at least a second.
  Result<uint64_t> Duration(const Entry& e, const std::string& path) const;
  Result<bool> Bool(const Entry& e, const std::string& path) const;
  // A list of non-empty strings; a single string when `allow_single`.
  Result<std::vector<std::pair<std::string, Mark>>> StringList(const Entry& e, const std::string& path,
                                                               bool allow_single) const;
  Result<DdlMode> Ddl(const Entry& e, const std::string& path) const;
  // The index of the entry's value in `names` (trimmed first when `trim`);
  // else "expected one of ..., got X (did you mean ...?)".
  Result<size_t> OneOf(const Entry& e, const std::string& path, std::span<const std::string_view> names,
                       bool trim = false) const;
  Result<Url> Endpoint(const MapView& m, const std::string& path, bool is_source, std::string* password_env) const;
  std::string ResolvePath(std::string_view p) const;
  // `lua: FILE`: the script read (relative to the configuration file) and
  // compiled in a sandboxed state, so a missing file or a syntax error fails here.
  Result<std::shared_ptr<const transform::lua::LuaScript>> LoadLuaScript(const Entry& e, const std::string& path) const;

  Status LoadStore(const MapView& root, Config& config) const;
  Status LoadHttp(const MapView& root, Config& config) const;
  Result<ClusterConfig> LoadCluster(const Entry& e) const;
  Result<AuthConfig> LoadAuth(const Entry& e) const;
  Result<HttpTlsConfig> LoadHttpTls(const Entry& e) const;
  // A token (>= 16 characters) from the environment variable `env` names.
  Result<std::string> TokenFromEnv(const Entry& env, const std::string& path, std::string_view what,
                                   std::string* env_name) const;
  Result<AuditConfig> LoadAudit(const Entry& e) const;
  Result<AlarmsConfig> LoadAlarms(const Entry& e, bool cluster_manager) const;
  Status CheckHttpAccess(const MapView& root, const Config& config) const;
  Result<std::vector<std::string>> Labels(const Entry& e, const std::string& path) const;
  Status LoadSources(const MapView& root, Config& config) const;
  Status LoadTargets(const MapView& root, Config& config) const;
  Status TargetOptions(const MapView& m, const std::string& path, TargetConfig& target) const;
  Status LoadPipelines(const MapView& root, Config& config) const;
  Status CheckPeer(const PipelineConfig& p, const Config& config) const;
  Result<PipelineConfig> LoadPipeline(const YAML::Node& n, const std::string& path, const Config& config) const;
  Result<TableRule> LoadRule(const YAML::Node& n, const std::string& path) const;

  std::string file_;
};

Result<MapView> Loader::AsMap(const YAML::Node& n, const Mark& where, const std::string& path, KeyList known,
                              std::string_view expected) const {
  if (!n.IsMap()) {
    return Fail(n.IsNull() ? where : MarkOf(n), path, fmt::format("expected {}, got {}", expected, Describe(n)));
  }
  MapView view;
  view.mark = MarkOf(n);
  for (auto it = n.begin(); it != n.end(); ++it) {
    Entry e;
    e.key_node = it->first;
    e.value = it->second;
    e.key_mark = MarkOf(e.key_node);
    if (!e.key_node.IsScalar()) {
      return Fail(e.key_mark, path, fmt::format("keys must be plain names, got {}", Describe(e.key_node)));
    }
    e.key = e.key_node.Scalar();
    e.value_mark = e.value.IsNull() ? e.key_mark : MarkOf(e.value);
    std::string key_path = Child(path, e.key);
    if (known.size() != 0 && std::find(known.begin(), known.end(), e.key) == known.end()) {
      std::string suggestion = Closest(e.key, known);
      return Fail(e.key_mark, key_path,
                  suggestion.empty() ? fmt::format("unknown key (expected one of: {})", JoinNames(known))
                                     : fmt::format("unknown key (did you mean \"{}\"?)", suggestion));
    }
    if (const Entry* first = view.Find(e.key)) {
      return Fail(e.key_mark, key_path, fmt::format("duplicate key (first at {})", FormatMark(first->key_mark)));
    }
    view.entries.push_back(std::move(e));
  }
  return view;
}

Status Loader::RequireKeys(const MapView& m, const std::string& path, KeyList required) const {
  for (std::string_view key : required) {
    if (!m.Find(key)) return Fail(m.mark, Child(path, key), "required key is missing");
  }
  return Status::Ok();
}

Result<std::string> Loader::String(const Entry& e, const std::string& path) const {
  if (e.value.IsNull()) return Fail(e.value_mark, path, "empty value");
  if (!e.value.IsScalar()) return Fail(e.value_mark, path, fmt::format("expected a string, got {}", Describe(e.value)));
  std::string s = e.value.Scalar();
  if (Trim(s).empty()) return Fail(e.value_mark, path, "empty value");
  return s;
}

Result<uint64_t> Loader::Unsigned(const Entry& e, const std::string& path, uint64_t min, uint64_t max) const {
  std::string expected = fmt::format("expected an integer from {} to {}", min, max);
  if (e.value.IsNull()) return Fail(e.value_mark, path, expected + ", got nothing");
  if (!e.value.IsScalar()) return Fail(e.value_mark, path, fmt::format("{}, got {}", expected, Describe(e.value)));
  std::string_view s = Trim(e.value.Scalar());
  if (IsYamlBoolean(s)) return Fail(e.value_mark, path, fmt::format("{}, got a boolean ({})", expected, s));
  if (!s.empty() && s.front() == '-' && ParseDigits(s.substr(1))) {
    return Fail(e.value_mark, path, fmt::format("{}, got a negative number ({})", expected, s));
  }
  auto v = ParseDigits(s);
  if (!v) {
    // Digits too many for 64 bits are out of range, not malformed.
    bool all_digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    return Fail(e.value_mark, path, fmt::format("{}, got {}", expected, all_digits ? std::string(s) : Quoted(s)));
  }
  if (*v < min || *v > max) return Fail(e.value_mark, path, fmt::format("{}, got {}", expected, *v));
  return *v;
}

Result<uint64_t> Loader::Size(const Entry& e, const std::string& path, uint64_t min) const {
  constexpr std::string_view kExpected = "expected a size such as 64MiB (units: B, KiB, MiB, GiB, KB, MB, GB)";
  if (e.value.IsNull()) return Fail(e.value_mark, path, fmt::format("{}, got nothing", kExpected));
  if (!e.value.IsScalar()) return Fail(e.value_mark, path, fmt::format("{}, got {}", kExpected, Describe(e.value)));
  std::string_view s = Trim(e.value.Scalar());
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  auto number = ParseDigits(s.substr(0, digits));
  std::string unit = Lower(Trim(s.substr(digits)));
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1},
      {"b", 1},
      {"kib", kKiB},
      {"mib", kMiB},
      {"gib", kGiB},
      {"kb", uint64_t{1000}},
      {"mb", uint64_t{1000} * 1000},
      {"gb", uint64_t{1000} * 1000 * 1000},
  };
  uint64_t multiplier = 0;
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) multiplier = factor;
  }
  if (!number || multiplier == 0) return Fail(e.value_mark, path, fmt::format("{}, got {}", kExpected, Quoted(s)));
  if (*number > std::numeric_limits<uint64_t>::max() / multiplier) {
    return Fail(e.value_mark, path, fmt::format("size {} is too large", Quoted(s)));
  }
  uint64_t bytes = *number * multiplier;
  if (bytes < min) {
    return Fail(e.value_mark, path, fmt::format("must be at least {}MiB, got {}", min / kMiB, Quoted(s)));
  }
  return bytes;
}

Result<uint64_t> Loader::Duration(const Entry& e, const std::string& path) const {
  constexpr std::string_view kExpected = "expected a duration such as 30s, 15m, 1h or 1d (at least 1s)";
  if (e.value.IsNull()) return Fail(e.value_mark, path, fmt::format("{}, got nothing", kExpected));
  if (!e.value.IsScalar()) return Fail(e.value_mark, path, fmt::format("{}, got {}", kExpected, Describe(e.value)));
  std::string_view s = Trim(e.value.Scalar());
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  auto number = ParseDigits(s.substr(0, digits));
  std::string unit = Lower(Trim(s.substr(digits)));
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"min", 60'000}, {"h", 3'600'000}, {"d", 86'400'000},
  };
  uint64_t multiplier = 0;
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) multiplier = factor;
  }
  if (!number || multiplier == 0 || *number > std::numeric_limits<uint64_t>::max() / multiplier / 2) {
    return Fail(e.value_mark, path, fmt::format("{}, got {}", kExpected, Quoted(s)));
  }
  uint64_t ms = *number * multiplier;
  if (ms < 1000) return Fail(e.value_mark, path, fmt::format("{}, got {}", kExpected, Quoted(s)));
  return ms;
}

Result<bool> Loader::Bool(const Entry& e, const std::string& path) const {
  if (e.value.IsScalar()) {
    std::string v = Lower(Trim(e.value.Scalar()));
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
  }
  return Fail(e.value_mark, path,
              fmt::format("expected true or false, got {}",
                          e.value.IsScalar() ? Quoted(Trim(e.value.Scalar())) : std::string(Describe(e.value))));
}

Result<std::vector<std::pair<std::string, Mark>>> Loader::StringList(const Entry& e, const std::string& path,
                                                                     bool allow_single) const {
  std::string expected = allow_single ? "a name or a list of names" : "a list of names";
  std::vector<std::pair<std::string, Mark>> out;
  if (allow_single && e.value.IsScalar()) {
    ASSIGN_OR_RETURN(std::string s, String(e, path));
    out.emplace_back(std::move(s), e.value_mark);
    return out;
  }
  if (!e.value.IsSequence()) {
    return Fail(e.value_mark, path, fmt::format("expected {}, got {}", expected, Describe(e.value)));
  }
  if (e.value.size() == 0) return Fail(e.value_mark, path, "empty list");
  size_t i = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it, ++i) {
    Entry item{"", YAML::Node(), *it, {}, {}};
    item.value_mark = item.value.IsNull() ? e.value_mark : MarkOf(item.value);
    std::string item_path = Index(path, i);
    if (!item.value.IsScalar() && !item.value.IsNull()) {
      return Fail(item.value_mark, item_path, fmt::format("expected a name, got {}", Describe(item.value)));
    }
    ASSIGN_OR_RETURN(std::string s, String(item, item_path));
    out.emplace_back(std::move(s), item.value_mark);
  }
  return out;
}

Result<size_t> Loader::OneOf(const Entry& e, const std::string& path, std::span<const std::string_view> names,
                             bool trim) const {
  ASSIGN_OR_RETURN(std::string s, String(e, path));
  if (trim) s = std::string(Trim(s));
  for (size_t i = 0; i < names.size(); ++i) {
    if (s == names[i]) return i;
  }
  std::string list;
  for (std::string_view n : names) list += (list.empty() ? "" : ", ") + std::string(n);
  std::string suggestion = Closest(s, names);
  return Fail(e.value_mark, path,
              fmt::format("expected one of {}, got {}{}", list, Quoted(s),
                          suggestion.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", suggestion)));
}

Result<DdlMode> Loader::Ddl(const Entry& e, const std::string& path) const {
  static constexpr std::string_view kModes[] = {"apply", "ignore", "stop"};
  static constexpr DdlMode kValues[] = {DdlMode::kApply, DdlMode::kIgnore, DdlMode::kStop};
  ASSIGN_OR_RETURN(size_t i, OneOf(e, path, kModes));
  return kValues[i];
}

// The url and password_env of a source or target: parsed, checked against
// what the role supports, the password applied.
Result<Url> Loader::Endpoint(const MapView& m, const std::string& path, bool is_source,
                             std::string* password_env) const {
  const Entry& url_entry = *m.Find("url");
  std::string url_path = Child(path, "url");
  if (!url_entry.value.IsScalar() || Trim(url_entry.value.Scalar()).empty()) {
    // Never echo the value: it may hold a password.
    return Fail(url_entry.value_mark, url_path,
                url_entry.value.IsNull() || url_entry.value.IsScalar()
                    ? std::string("empty value")
                    : fmt::format("expected a URL string, got {}", Describe(url_entry.value)));
  }
  auto parsed = Url::Parse(Trim(url_entry.value.Scalar()));
  if (!parsed.ok()) return Fail(url_entry.value_mark, url_path, parsed.status().message());
  Url url = std::move(parsed).value();
  const std::string role = is_source ? "source" : "target";
  const bool supported = is_source ? (url.scheme == "mysql" || url.scheme == "mariadb" || url.scheme == "postgres" ||
                                      url.scheme == "postgresql")
                                   : sink::IsSinkScheme(url.scheme);
  if (!supported) {
    // In the contract (design §3) but not built yet.
    static constexpr std::string_view kPlannedSources[] = {"file"};
    static constexpr std::string_view kPlannedTargets[] = {"postgres", "postgresql", "kafka", "redis", "file",
                                                           "clickhouse"};
    bool planned = is_source ? std::ranges::find(kPlannedSources, url.scheme) != std::end(kPlannedSources)
                             : std::ranges::find(kPlannedTargets, url.scheme) != std::end(kPlannedTargets);
    const std::string supported_list = is_source ? "mysql://, mariadb://, postgres://" : sink::SinkSchemes();
    return Fail(url_entry.value_mark, url_path,
                planned ? fmt::format("{} type {} is not supported yet (supported: {})", role, Quoted(url.scheme),
                                      supported_list)
                        : fmt::format("unknown {} type {} in {} (supported: {})", role, Quoted(url.scheme),
                                      url.ToRedactedString(), supported_list));
  }
  if (const Entry* env = m.Find("password_env")) {
    std::string env_path = Child(path, "password_env");
    ASSIGN_OR_RETURN(std::string name, String(*env, env_path));
    if (!IsValidEnvName(name)) {
      return Fail(env->value_mark, env_path,
                  fmt::format("{} is not an environment variable name (letters, digits and \"_\")", Quoted(name)));
    }
    if (url.has_password) {
      return Fail(env->value_mark, env_path,
                  fmt::format("{} already has a password; give it in url or in password_env, not both",
                              url.ToRedactedString()));
    }
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return Fail(env->value_mark, env_path,
                  fmt::format("environment variable {} is not set (it should hold the password for {})", name,
                              url.ToRedactedString()));
    }
    url.password = value;
    url.has_password = true;
    *password_env = std::move(name);
  }
  return url;
}

// Relative paths are relative to the config file's directory, so that a
// config works the same from any working directory.
std::string Loader::ResolvePath(std::string_view p) const {
  fs::path path{std::string(p)};
  if (path.is_relative()) path = fs::path(file_).parent_path() / path;
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec);
  return (ec ? path : abs).lexically_normal().string();
}

Status Loader::LoadStore(const MapView& root, Config& config) const {
  const Entry* e = root.Find("store");
  if (e == nullptr) {
    config.store = ResolvePath("sluice.db");
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::string store, String(*e, "store"));
  store = std::string(Trim(store));
  if (store.find("://") == std::string::npos) {
    if (store.back() == '/') {
      return Fail(e->value_mark, "store", fmt::format("{} is a directory; name the SQLite file", Quoted(store)));
    }
    config.store = ResolvePath(store);
    return Status::Ok();
  }
  auto url = Url::Parse(store);
  if (!url.ok()) return Fail(e->value_mark, "store", url.status().message());
  if (url->scheme == "file") {
    config.store = ResolvePath(url->path);
  } else if (url->scheme == "zk") {
    config.store = store;  // cluster mode: the coordination service is the store
  } else {
    return Fail(e->value_mark, "store",
                fmt::format("store type {} is not supported (a SQLite file path, or zk://HOST:PORT[,...]/ROOT)",
                            Quoted(url->scheme)));
  }
  return Status::Ok();
}

Status Loader::LoadHttp(const MapView& root, Config& config) const {
  const Entry* e = root.Find("http");
  if (e == nullptr) return Status::Ok();
  if (e->value.IsNull()) return Fail(e->value_mark, "http", "empty value; remove the key to turn the HTTP API off");
  if (!e->value.IsScalar()) {
    return Fail(e->value_mark, "http", fmt::format("expected \"HOST:PORT\", got {}", Describe(e->value)));
  }
  std::string http(Trim(e->value.Scalar()));
  if (!IsHostPort(http)) {
    return Fail(
        e->value_mark, "http",
        fmt::format("expected \"HOST:PORT\" with a port from 1 to 65535 (e.g. 127.0.0.1:8700), got {}", Quoted(http)));
  }
  config.http = std::move(http);
  return Status::Ok();
}

// `auth: {users: [{name, password_hash, role}], tokens: [{name, token_env, role}]}`.
// Messages name keys and environment variables, never a hash or a token.
Result<AuthConfig> Loader::LoadAuth(const Entry& e) const {
  ASSIGN_OR_RETURN(MapView m, AsMap(e, "auth", {"users", "tokens"}, "a map with users: and/or tokens:"));
  AuthConfig auth;
  auth.mark = m.mark;
  if (m.entries.empty()) return Fail(m.mark, "auth", "no users and no tokens: nobody could use the HTTP API");
  static constexpr std::string_view kRoles[] = {"viewer", "operator", "admin"};
  std::vector<std::pair<std::string, Mark>> names;  // users' and tokens' names share one namespace (`who`)
  auto check_name = [&](const Entry& name, const std::string& path) -> Result<std::string> {
    ASSIGN_OR_RETURN(std::string n, String(name, path));
    if (!IsValidName(n)) {
      return Fail(name.value_mark, path,
                  fmt::format("invalid name {}: use letters, digits, \"_\", \".\" and \"-\"", Quoted(n)));
    }
    for (const auto& [other, mark] : names) {
      if (other == n) return Fail(name.value_mark, path, fmt::format("{} is defined twice (first at {})", Quoted(n), FormatMark(mark)));
    }
    names.emplace_back(n, name.value_mark);
    return n;
  };
  auto list = [&](const char* key) -> Result<std::vector<YAML::Node>> {
    std::vector<YAML::Node> out;
    const Entry* l = m.Find(key);
    if (l == nullptr) return out;
    if (!l->value.IsSequence()) {
      return Fail(l->value_mark, Child("auth", key), fmt::format("expected a list, got {}", Describe(l->value)));
    }
    for (const YAML::Node& n : l->value) out.push_back(n);
    return out;
  };
  ASSIGN_OR_RETURN(std::vector<YAML::Node> users, list("users"));
  for (size_t i = 0; i < users.size(); ++i) {
    std::string path = Index("auth.users", i);
    ASSIGN_OR_RETURN(MapView u, AsMap(users[i], MarkOf(users[i]), path, {"name", "password_hash", "role"}));
    RETURN_IF_ERROR(RequireKeys(u, path, {"name", "password_hash", "role"}));
    AuthUser user;
    user.mark = u.mark;
    ASSIGN_OR_RETURN(user.name, check_name(*u.Find("name"), Child(path, "name")));
    const Entry& hash = *u.Find("password_hash");
    ASSIGN_OR_RETURN(user.password_hash, String(hash, Child(path, "password_hash")));
    // The same check as server/auth/password.h's LooksLikePasswordHash
    // (pipeline/ cannot include server/).
    if (!user.password_hash.starts_with("$argon2id$v=19$") || user.password_hash.size() > 127) {
      return Fail(hash.value_mark, Child(path, "password_hash"),
                  "not a hash made by `sluice passwd` (expected \"$argon2id$v=19$...\"); never write the password "
                  "itself here");
    }
    ASSIGN_OR_RETURN(size_t role, OneOf(*u.Find("role"), Child(path, "role"), kRoles));
    user.role = std::string(kRoles[role]);
    auth.users.push_back(std::move(user));
  }
  ASSIGN_OR_RETURN(std::vector<YAML::Node> tokens, list("tokens"));
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string path = Index("auth.tokens", i);
    ASSIGN_OR_RETURN(MapView t, AsMap(tokens[i], MarkOf(tokens[i]), path, {"name", "token_env", "role"}));
    RETURN_IF_ERROR(RequireKeys(t, path, {"name", "token_env", "role"}));
    AuthToken token;
    token.mark = t.mark;
    ASSIGN_OR_RETURN(token.name, check_name(*t.Find("name"), Child(path, "name")));
    ASSIGN_OR_RETURN(token.token, TokenFromEnv(*t.Find("token_env"), Child(path, "token_env"),
                                               fmt::format("token {}", Quoted(token.name)), &token.token_env));
    ASSIGN_OR_RETURN(size_t role, OneOf(*t.Find("role"), Child(path, "role"), kRoles));
    token.role = std::string(kRoles[role]);
    auth.tokens.push_back(std::move(token));
  }
  if (auth.users.empty() && auth.tokens.empty()) {
    return Fail(m.mark, "auth", "no users and no tokens: nobody could use the HTTP API");
  }
  return auth;
}

Result<std::string> Loader::TokenFromEnv(const Entry& env, const std::string& path, std::string_view what,
                                         std::string* env_name) const {
  ASSIGN_OR_RETURN(*env_name, String(env, path));
  if (!IsValidEnvName(*env_name)) {
    return Fail(env.value_mark, path,
                fmt::format("{} is not an environment variable name (letters, digits and \"_\")", Quoted(*env_name)));
  }
  const char* value = std::getenv(env_name->c_str());
  if (value == nullptr || *value == '\0') {
    return Fail(env.value_mark, path,
                fmt::format("environment variable {} is not set (it should hold {})", *env_name, what));
  }
  std::string token = value;
  if (token.size() < 16) {
    return Fail(env.value_mark, path,
                fmt::format("the token in {} is too short: use at least 16 random characters (e.g. `openssl rand "
                            "-hex 32`)",
                            *env_name));
  }
  return token;
}

Result<HttpTlsConfig> Loader::LoadHttpTls(const Entry& e) const {
  ASSIGN_OR_RETURN(MapView m, AsMap(e, "http_tls", {"cert", "key"}, "a map with cert: and key:"));
  RETURN_IF_ERROR(RequireKeys(m, "http_tls", {"cert", "key"}));
  HttpTlsConfig tls;
  tls.mark = m.mark;
  for (const char* key : {"cert", "key"}) {
    const Entry& f = *m.Find(key);
    std::string path = Child("http_tls", key);
    ASSIGN_OR_RETURN(std::string file, String(f, path));
    file = ResolvePath(Trim(file));
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      return Fail(f.value_mark, path, fmt::format("{} is not a file", Quoted(file)));
    }
    (std::string_view(key) == "cert" ? tls.cert : tls.key) = file;
  }
  return tls;
}

Result<AuditConfig> Loader::LoadAudit(const Entry& e) const {
  ASSIGN_OR_RETURN(MapView m, AsMap(e, "audit", {"path", "retention_days"}, "a map with path:"));
  RETURN_IF_ERROR(RequireKeys(m, "audit", {"path"}));
  AuditConfig audit;
  audit.mark = m.mark;
  ASSIGN_OR_RETURN(std::string dir, String(*m.Find("path"), "audit.path"));
  audit.path = ResolvePath(Trim(dir));
  std::error_code ec;
  if (fs::exists(audit.path, ec) && !fs::is_directory(audit.path, ec)) {
    return Fail(m.Find("path")->value_mark, "audit.path",
                fmt::format("{} is not a directory (the audit trail is a directory of daily files)",
                            Quoted(audit.path)));
  }
  if (const Entry* r = m.Find("retention_days")) {
    ASSIGN_OR_RETURN(uint64_t days, Unsigned(*r, "audit.retention_days", 1, 100000));
    audit.retention_days = static_cast<uint32_t>(days);
  }
  return audit;
}

// `alarms:` (design §11). `node_down` is a rule of the cluster manager's
// file only: a `sluice run` has no nodes to lose.
Result<AlarmsConfig> Loader::LoadAlarms(const Entry& e, bool cluster_manager) const {
  ASSIGN_OR_RETURN(MapView m, AsMap(e, "alarms", {"webhook", "rules", "auto_recover"}, "a map with rules:"));
  AlarmsConfig alarms;
  if (const Entry* w = m.Find("webhook")) {
    ASSIGN_OR_RETURN(MapView wm, AsMap(*w, "alarms.webhook", {"url", "repeat_every", "timeout"}, "a map with url:"));
    RETURN_IF_ERROR(RequireKeys(wm, "alarms.webhook", {"url"}));
    AlarmWebhook hook;
    const Entry& url = *wm.Find("url");
    ASSIGN_OR_RETURN(hook.url, String(url, "alarms.webhook.url"));
    hook.url = std::string(Trim(hook.url));
    // The URL may hold a password or a token: a message shows it redacted.
    Result<Url> parsed = Url::Parse(hook.url);
    if (!parsed.ok() || (parsed->scheme != "http" && parsed->scheme != "https") || parsed->host.empty()) {
      return Fail(url.value_mark, "alarms.webhook.url",
                  fmt::format("expected an http:// or https:// URL with a host, got {}",
                              parsed.ok() ? Quoted(parsed->ToRedactedString()) : std::string("a malformed URL")));
    }
    if (const Entry* r = wm.Find("repeat_every")) {
      ASSIGN_OR_RETURN(hook.repeat_every_ms, Duration(*r, "alarms.webhook.repeat_every"));
    }
    if (const Entry* t = wm.Find("timeout")) {
      ASSIGN_OR_RETURN(hook.timeout_ms, Duration(*t, "alarms.webhook.timeout"));
    }
    alarms.webhook = std::move(hook);
  }
  if (const Entry* rules = m.Find("rules")) {
    if (!rules->value.IsSequence()) {
      return Fail(rules->value_mark, "alarms.rules",
                  fmt::format("expected a list of {{name, when, for}}, got {}", Describe(rules->value)));
    }
    std::vector<std::pair<std::string, Mark>> names;
    size_t i = 0;
    for (auto it = rules->value.begin(); it != rules->value.end(); ++it, ++i) {
      std::string path = Index("alarms.rules", i);
      ASSIGN_OR_RETURN(MapView r, AsMap(*it, MarkOf(*it), path, {"name", "when", "for"}));
      RETURN_IF_ERROR(RequireKeys(r, path, {"name", "when"}));
      AlarmRule rule;
      const Entry& name = *r.Find("name");
      ASSIGN_OR_RETURN(rule.name, String(name, Child(path, "name")));
      rule.name = std::string(Trim(rule.name));
      if (!IsValidName(rule.name)) {
        return Fail(name.value_mark, Child(path, "name"),
                    fmt::format("invalid rule name {}: use letters, digits, \"_\", \".\" and \"-\"",
                                Quoted(rule.name)));
      }
      for (const auto& [other, mark] : names) {
        if (other == rule.name) {
          return Fail(name.value_mark, Child(path, "name"),
                      fmt::format("duplicate rule name {} (first at {})", Quoted(rule.name), FormatMark(mark)));
        }
      }
      names.emplace_back(rule.name, name.value_mark);
      const Entry& when = *r.Find("when");
      ASSIGN_OR_RETURN(std::string text, String(when, Child(path, "when")));
      Result<AlarmCondition> condition = ParseAlarmCondition(text);
      if (!condition.ok()) return Fail(when.value_mark, Child(path, "when"), condition.status().message());
      rule.when = *condition;
      if (rule.when.kind == AlarmKind::kNodeDown && !cluster_manager) {
        return Fail(when.value_mark, Child(path, "when"),
                    "node_down applies to the cluster manager only (a file with cluster:); `sluice run` has no "
                    "nodes to lose");
      }
      if (const Entry* f = r.Find("for")) {
        ASSIGN_OR_RETURN(rule.for_ms, Duration(*f, Child(path, "for")));
      } else if (rule.when.kind == AlarmKind::kStalled) {
        return Fail(r.mark, Child(path, "for"),
                    "required for stalled: how long the applied position may stand still, e.g. for: 5m");
      }
      alarms.rules.push_back(std::move(rule));
    }
  }
  if (const Entry* a = m.Find("auto_recover")) {
    AutoRecoverConfig& ar = alarms.auto_recover;
    if (a->value.IsMap()) {
      ASSIGN_OR_RETURN(MapView am, AsMap(*a, "alarms.auto_recover",
                                         {"initial_backoff", "max_backoff", "healthy_after"}));
      ar.enabled = true;
      if (const Entry* x = am.Find("initial_backoff")) {
        ASSIGN_OR_RETURN(ar.initial_backoff_ms, Duration(*x, "alarms.auto_recover.initial_backoff"));
      }
      if (const Entry* x = am.Find("max_backoff")) {
        ASSIGN_OR_RETURN(ar.max_backoff_ms, Duration(*x, "alarms.auto_recover.max_backoff"));
      }
      if (const Entry* x = am.Find("healthy_after")) {
        ASSIGN_OR_RETURN(ar.healthy_after_ms, Duration(*x, "alarms.auto_recover.healthy_after"));
      }
      if (ar.max_backoff_ms < ar.initial_backoff_ms) {
        return Fail(am.mark, "alarms.auto_recover.max_backoff", "must not be shorter than initial_backoff");
      }
    } else {
      ASSIGN_OR_RETURN(ar.enabled, Bool(*a, "alarms.auto_recover"));
    }
  }
  return alarms;
}

// Without auth:, the API is open to whoever can reach it: only loopback.
Status Loader::CheckHttpAccess(const MapView& root, const Config& config) const {
  const Entry* http = root.Find("http");
  if (const Entry* tls = root.Find("http_tls"); tls && http == nullptr) {
    return Fail(tls->key_mark, "http_tls", "there is no http: address to serve HTTPS on");
  }
  if (http == nullptr || config.auth || IsLoopbackListen(config.http)) return Status::Ok();
  return Fail(http->value_mark, "http",
              fmt::format("{} is not a loopback address and there is no auth: section; sluice does not serve its "
                          "API unauthenticated beyond this host: add auth: (users or tokens) or listen on "
                          "127.0.0.1 or [::1]",
                          Quoted(config.http)));
}

Result<ClusterConfig> Loader::LoadCluster(const Entry& e) const {
  ASSIGN_OR_RETURN(MapView m, AsMap(e, "cluster", {"name", "zookeeper", "session_timeout_ms", "node_token_env", "node_ca"},
                                    "a map with name: and zookeeper:"));
  RETURN_IF_ERROR(RequireKeys(m, "cluster", {"name", "zookeeper"}));
  ClusterConfig c;
  c.mark = m.mark;
  const Entry& name = *m.Find("name");
  ASSIGN_OR_RETURN(c.name, String(name, "cluster.name"));
  if (!IsValidName(c.name)) {
    return Fail(name.value_mark, "cluster.name",
                fmt::format("invalid cluster name {}: use letters, digits, \"_\", \".\" and \"-\"", Quoted(c.name)));
  }
  const Entry& zk = *m.Find("zookeeper");
  ASSIGN_OR_RETURN(std::string servers, String(zk, "cluster.zookeeper"));
  std::string_view rest = Trim(servers);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view server = Trim(rest.substr(0, comma));
    if (!IsHostPort(server)) {
      return Fail(zk.value_mark, "cluster.zookeeper",
                  fmt::format("expected \"HOST:PORT,HOST:PORT,...\" (the ensemble's client addresses), and {} is "
                              "not HOST:PORT",
                              Quoted(server)));
    }
    if (!c.zookeeper.empty()) c.zookeeper += ',';
    c.zookeeper += server;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (const Entry* t = m.Find("session_timeout_ms")) {
    // ZooKeeper bounds it by its tickTime (2 to 20 ticks); these are sane outer limits.
    ASSIGN_OR_RETURN(uint64_t ms, Unsigned(*t, "cluster.session_timeout_ms", 500, 600000));
    c.session_timeout_ms = static_cast<uint32_t>(ms);
  }
  if (const Entry* t = m.Find("node_token_env")) {
    ASSIGN_OR_RETURN(c.node_token, TokenFromEnv(*t, "cluster.node_token_env", "the token the manager sends to nodes",
                                                &c.node_token_env));
  }
  if (const Entry* ca = m.Find("node_ca")) {
    ASSIGN_OR_RETURN(std::string file, String(*ca, "cluster.node_ca"));
    c.node_ca = ResolvePath(Trim(file));
    std::error_code ec;
    if (!fs::is_regular_file(c.node_ca, ec)) {
      return Fail(ca->value_mark, "cluster.node_ca", fmt::format("{} is not a file", Quoted(c.node_ca)));
    }
  }
  return c;
}

Result<std::vector<std::string>> Loader::Labels(const Entry& e, const std::string& path) const {
  ASSIGN_OR_RETURN(auto items, StringList(e, path, /*allow_single=*/false));
  std::vector<std::string> labels;
  for (auto& [label, mark] : items) {
    if (!IsValidName(label)) {
      return Fail(mark, path, fmt::format("invalid label {}: use letters, digits, \"_\", \".\" and \"-\"",
                                          Quoted(label)));
    }
    if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(std::move(label));
  }
  return labels;
}

Status Loader::LoadSources(const MapView& root, Config& config) const {
  const Entry& e = *root.Find("sources");
  ASSIGN_OR_RETURN(MapView sources, AsMap(e, "sources", {}, "a map of NAME: {url: ...}"));
  if (sources.entries.empty()) return Fail(e.value_mark, "sources", "no sources defined");
  for (const Entry& s : sources.entries) {
    std::string path = Child("sources", s.key);
    if (!IsValidName(s.key)) {
      return Fail(s.key_mark, path,
                  fmt::format("invalid source name {}: use letters, digits, \"_\", \".\" and \"-\"", Quoted(s.key)));
    }
    ASSIGN_OR_RETURN(MapView m, AsMap(s, path, {"url", "server_id", "password_env", "heartbeat_ms"}));
    RETURN_IF_ERROR(RequireKeys(m, path, {"url"}));
    SourceConfig source;
    source.name = s.key;
    source.mark = s.key_mark;
    ASSIGN_OR_RETURN(source.endpoint, Endpoint(m, path, /*is_source=*/true, &source.password_env));
    source.url = std::string(Trim(m.Find("url")->value.Scalar()));  // a non-empty scalar: Endpoint checked
    if (const Entry* id = m.Find("server_id")) {
      std::string id_path = Child(path, "server_id");
      ASSIGN_OR_RETURN(uint64_t v, Unsigned(*id, id_path, 1, std::numeric_limits<uint32_t>::max()));
      source.server_id = static_cast<uint32_t>(v);
      for (const SourceConfig& other : config.sources) {
        if (other.server_id == source.server_id) {
          return Fail(id->value_mark, id_path,
                      fmt::format("server_id {} is already used by source \"{}\"; each source needs its own replica id",
                                  v, other.name));
        }
      }
    }
    if (const Entry* hb = m.Find("heartbeat_ms")) {
      ASSIGN_OR_RETURN(uint64_t v, Unsigned(*hb, Child(path, "heartbeat_ms"), 1, 3'600'000));
      source.heartbeat_ms = static_cast<uint32_t>(v);
    }
    config.sources.push_back(std::move(source));
  }
  return Status::Ok();
}

Status Loader::LoadTargets(const MapView& root, Config& config) const {
  const Entry& e = *root.Find("targets");
  ASSIGN_OR_RETURN(MapView targets, AsMap(e, "targets", {}, "a map of NAME: {url: ...}"));
  if (targets.entries.empty()) return Fail(e.value_mark, "targets", "no targets defined");
  for (const Entry& t : targets.entries) {
    std::string path = Child("targets", t.key);
    if (!IsValidName(t.key)) {
      return Fail(t.key_mark, path,
                  fmt::format("invalid target name {}: use letters, digits, \"_\", \".\" and \"-\"", Quoted(t.key)));
    }
    // Keys of every kind are known here; TargetOptions checks that each fits the URL's kind.
    ASSIGN_OR_RETURN(MapView m, AsMap(t, path, {"url", "password_env", "format", "topic", "ddl_topic", "exactly_once",
                                                 "schemas", "tombstones", "debezium_profile", "mode", "key",
                                                 "rotate_bytes"}));
    RETURN_IF_ERROR(RequireKeys(m, path, {"url"}));
    TargetConfig target;
    target.name = t.key;
    target.mark = t.key_mark;
    ASSIGN_OR_RETURN(target.endpoint, Endpoint(m, path, /*is_source=*/false, &target.password_env));
    target.url = std::string(Trim(m.Find("url")->value.Scalar()));  // a non-empty scalar: Endpoint checked
    RETURN_IF_ERROR(TargetOptions(m, path, target));
    config.targets.push_back(std::move(target));
  }
  return Status::Ok();
}

// The kind-specific keys of a target (design section 9), each allowed only
// for the kinds it means something to.
Status Loader::TargetOptions(const MapView& m, const std::string& path, TargetConfig& target) const {
  const std::string& scheme = target.endpoint.scheme;
  const bool kafka = scheme == "kafka", file = scheme == "file", redis = scheme == "redis";
  struct Allowed {
    std::string_view key;
    bool ok;
    std::string_view kinds;
  };
  const Allowed allowed[] = {
      {"format", kafka || file, "kafka and file"},        {"topic", kafka, "kafka"},
      {"ddl_topic", kafka, "kafka"},                      {"exactly_once", kafka, "kafka"},
      {"schemas", kafka || file, "kafka and file"},       {"tombstones", kafka || file, "kafka and file"},
      {"debezium_profile", kafka || file, "kafka and file"}, {"mode", redis, "redis"},
      {"key", redis, "redis"},                            {"rotate_bytes", file, "file"},
  };
  for (const Allowed& a : allowed) {
    const Entry* e = m.Find(a.key);
    if (e != nullptr && !a.ok) {
      return Fail(e->key_mark, Child(path, a.key),
                  fmt::format("{} is a setting of {} targets, not of {}://", Quoted(a.key), a.kinds, scheme));
    }
  }
  sink::SinkOptions& o = target.options;
  o.target = target.name;
  o.url = target.endpoint;
  if (const Entry* e = m.Find("format")) {
    static constexpr std::string_view kFormats[] = {"json", "canal", "maxwell", "debezium"};
    ASSIGN_OR_RETURN(size_t i, OneOf(*e, Child(path, "format"), kFormats));
    o.format = kFormats[i];
  }
  auto template_key = [&](std::string_view key, std::string& out) -> Status {
    const Entry* e = m.Find(key);
    if (e == nullptr) return Status::Ok();
    std::string p = Child(path, key);
    ASSIGN_OR_RETURN(std::string v, String(*e, p));
    if (Trim(v).empty()) return Fail(e->value_mark, p, "empty value");
    for (size_t at = v.find("${"); at != std::string::npos; at = v.find("${", at + 2)) {
      size_t end = v.find('}', at);
      std::string_view name = end == std::string::npos ? std::string_view() : std::string_view(v).substr(at + 2, end - at - 2);
      if (name != "pipeline" && name != "db" && name != "table" && !(key == "key" && name == "pk")) {
        return Fail(e->value_mark, p,
                    fmt::format("unknown placeholder in {} (known: ${{pipeline}}, ${{db}}, ${{table}}{})", Quoted(v),
                                key == "key" ? ", ${pk}" : ""));
      }
    }
    out = std::move(v);
    return Status::Ok();
  };
  RETURN_IF_ERROR(template_key("topic", o.topic));
  RETURN_IF_ERROR(template_key("ddl_topic", o.ddl_topic));
  RETURN_IF_ERROR(template_key("key", o.key));
  if (const Entry* e = m.Find("exactly_once")) {
    ASSIGN_OR_RETURN(o.exactly_once, Bool(*e, Child(path, "exactly_once")));
  }
  if (const Entry* e = m.Find("schemas")) {
    ASSIGN_OR_RETURN(o.schemas, Bool(*e, Child(path, "schemas")));
  }
  if (const Entry* e = m.Find("tombstones")) {
    ASSIGN_OR_RETURN(o.tombstones, Bool(*e, Child(path, "tombstones")));
  }
  if (const Entry* e = m.Find("debezium_profile")) {
    static constexpr std::string_view kProfiles[] = {"flink", "native"};
    ASSIGN_OR_RETURN(size_t i, OneOf(*e, Child(path, "debezium_profile"), kProfiles));
    o.debezium_profile = kProfiles[i];
  }
  if (const Entry* e = m.Find("mode")) {
    static constexpr std::string_view kModes[] = {"hash", "string", "stream"};
    ASSIGN_OR_RETURN(size_t i, OneOf(*e, Child(path, "mode"), kModes));
    o.mode = kModes[i];
  }
  if (const Entry* e = m.Find("rotate_bytes")) {
    ASSIGN_OR_RETURN(o.rotate_bytes, Unsigned(*e, Child(path, "rotate_bytes"), 4096, uint64_t{1} << 50));
  }
  return Status::Ok();
}

Status Loader::LoadPipelines(const MapView& root, Config& config) const {
  const Entry& e = *root.Find("pipelines");
  if (!e.value.IsSequence()) {
    return Fail(e.value_mark, "pipelines",
                fmt::format("expected a list of pipelines (- name: ...), got {}", Describe(e.value)));
  }
  if (e.value.size() == 0) return Fail(e.value_mark, "pipelines", "no pipelines defined");
  size_t i = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it, ++i) {
    ASSIGN_OR_RETURN(PipelineConfig p, LoadPipeline(*it, Index("pipelines", i), config));
    config.pipelines.push_back(std::move(p));
  }
  for (const PipelineConfig& p : config.pipelines) RETURN_IF_ERROR(CheckPeer(p, config));
  return Status::Ok();
}

// Two pipelines are peers when each names the other and they run in
// opposite directions between the same two MySQL/MariaDB servers (one
// target each): A's source is B's target and A's target is B's source.
Status Loader::CheckPeer(const PipelineConfig& p, const Config& config) const {
  if (p.peer.empty()) return Status::Ok();
  const std::string path = Child(p.key_path, "peer");
  const PipelineConfig* q = config.FindPipeline(p.peer);
  if (q == nullptr) {
    std::vector<std::string> names;
    for (const auto& o : config.pipelines) names.push_back(o.name);
    return Fail(p.peer_mark, path, UnknownName("pipeline", p.peer, names));
  }
  if (q->peer != p.name) {
    return Fail(p.peer_mark, path,
                fmt::format("pipeline \"{}\" must name this one back (peer: {}){}", q->name, p.name,
                            q->peer.empty() ? "" : fmt::format(", but it names \"{}\" ({})", q->peer,
                                                               FormatMark(q->peer_mark))));
  }
  for (const PipelineConfig* x : {&p, q}) {
    const SourceConfig* s = config.FindSource(x->source);
    if (s == nullptr || !IsMysqlScheme(s->endpoint.scheme)) {
      return Fail(p.peer_mark, path,
                  fmt::format("pipeline \"{}\": two-way sync needs a mysql:// or mariadb:// source", x->name));
    }
    const TargetConfig* t = x->targets.size() == 1 ? config.FindTarget(x->targets[0]) : nullptr;
    if (t == nullptr || !IsMysqlScheme(t->endpoint.scheme)) {
      return Fail(p.peer_mark, path,
                  fmt::format("pipeline \"{}\": two-way sync needs exactly one mysql:// or mariadb:// target, "
                              "got [{}]",
                              x->name, JoinNames(x->targets)));
    }
  }
  auto same_server = [](const Url& a, const Url& b) { return a.host == b.host && a.port == b.port; };
  const Url& p_source = config.FindSource(p.source)->endpoint;
  const Url& p_target = config.FindTarget(p.targets[0])->endpoint;
  const Url& q_source = config.FindSource(q->source)->endpoint;
  const Url& q_target = config.FindTarget(q->targets[0])->endpoint;
  if (!same_server(p_source, q_target) || !same_server(p_target, q_source)) {
    return Fail(p.peer_mark, path,
                fmt::format("pipeline \"{}\" must run the opposite way between the same two servers: this one "
                            "goes {}:{} -> {}:{}, it goes {}:{} -> {}:{}",
                            q->name, p_source.host, p_source.port, p_target.host, p_target.port, q_source.host,
                            q_source.port, q_target.host, q_target.port));
  }
  return Status::Ok();
}

Result<PipelineConfig> Loader::LoadPipeline(const YAML::Node& n, const std::string& path, const Config& config) const {
  ASSIGN_OR_RETURN(
      MapView m,
      AsMap(n, MarkOf(n), path,
            {"name",        "source",     "targets",  "start",       "tables",      "batch",        "parallel",
             "lua_threads", "ddl",        "on_error", "skip_log",    "queue_bytes", "detach_after", "takeover_after",
             "snapshot",    "chunk_rows", "check",    "renamed_out", "nodes",       "peer",         "conflict"}));
  RETURN_IF_ERROR(RequireKeys(m, path, {"name", "source", "targets", "tables"}));
  PipelineConfig p;
  p.mark = m.mark;
  p.key_path = path;

  const Entry& name = *m.Find("name");
  std::string name_path = Child(path, "name");
  ASSIGN_OR_RETURN(p.name, String(name, name_path));
  if (!IsValidName(p.name)) {
    return Fail(name.value_mark, name_path,
                fmt::format("invalid pipeline name {}: use letters, digits, \"_\", \".\" and \"-\"", Quoted(p.name)));
  }
  for (const PipelineConfig& other : config.pipelines) {
    if (other.name == p.name) {
      return Fail(name.value_mark, name_path,
                  fmt::format("duplicate pipeline name \"{}\" (first at {})", p.name, FormatMark(other.mark)));
    }
  }

  const Entry& source = *m.Find("source");
  std::string source_path = Child(path, "source");
  ASSIGN_OR_RETURN(p.source, String(source, source_path));
  if (config.FindSource(p.source) == nullptr) {
    std::vector<std::string> names;
    for (const auto& s : config.sources) names.push_back(s.name);
    return Fail(source.value_mark, source_path, UnknownName("source", p.source, names));
  }

  const Entry& targets = *m.Find("targets");
  std::string targets_path = Child(path, "targets");
  ASSIGN_OR_RETURN(auto target_names, StringList(targets, targets_path, /*allow_single=*/true));
  std::vector<std::string> defined;
  for (const auto& t : config.targets) defined.push_back(t.name);
  for (size_t i = 0; i < target_names.size(); ++i) {
    const auto& [t, mark] = target_names[i];
    std::string item_path = targets.value.IsSequence() ? Index(targets_path, i) : targets_path;
    if (config.FindTarget(t) == nullptr) {
      return Fail(mark, item_path, UnknownName("target", t, defined));
    }
    if (std::find(p.targets.begin(), p.targets.end(), t) != p.targets.end()) {
      return Fail(mark, item_path, fmt::format("target \"{}\" is listed twice", t));
    }
    p.targets.push_back(t);
  }

  if (const Entry* start = m.Find("start")) {
    std::string start_path = Child(path, "start");
    ASSIGN_OR_RETURN(std::string s, String(*start, start_path));
    s = std::string(Trim(s));
    auto parsed = StartPosition::Parse(s);
    if (!parsed.ok()) return Fail(start->value_mark, start_path, parsed.status().message());
    const SourceConfig* src = config.FindSource(p.source);
    const bool pg = src != nullptr && (src->endpoint.scheme == "postgres" || src->endpoint.scheme == "postgresql");
    const bool lsn = parsed->kind == StartPosition::Kind::kLsn;
    if (pg != lsn && parsed->kind != StartPosition::Kind::kLatest && parsed->kind != StartPosition::Kind::kEarliest) {
      return Fail(start->value_mark, start_path,
                  pg ? fmt::format("source \"{}\" is PostgreSQL: start is latest, earliest or an LSN such as "
                                   "0/16B3748, not {}",
                                   p.source, Quoted(s))
                     : fmt::format("{} is a PostgreSQL LSN; source \"{}\" is MySQL (a GTID position or "
                                   "FILE:POS)",
                                   Quoted(s), p.source));
    }
    p.start = std::move(s);
  }

  const Entry& tables = *m.Find("tables");
  std::string tables_path = Child(path, "tables");
  if (!tables.value.IsSequence()) {
    return Fail(tables.value_mark, tables_path,
                fmt::format("expected a list of table rules (- match: \"db.table\"), got {}", Describe(tables.value)));
  }
  if (tables.value.size() == 0) return Fail(tables.value_mark, tables_path, "no table rules");
  size_t i = 0;
  for (auto it = tables.value.begin(); it != tables.value.end(); ++it, ++i) {
    ASSIGN_OR_RETURN(TableRule rule, LoadRule(*it, Index(tables_path, i)));
    p.tables.push_back(std::move(rule));
  }

  if (const Entry* batch = m.Find("batch")) {
    std::string batch_path = Child(path, "batch");
    ASSIGN_OR_RETURN(MapView b, AsMap(*batch, batch_path, {"size", "timeout_ms"}));
    if (const Entry* size = b.Find("size")) {
      ASSIGN_OR_RETURN(p.batch_size, Unsigned(*size, Child(batch_path, "size"), 1, 100'000));
    }
    if (const Entry* timeout = b.Find("timeout_ms")) {
      ASSIGN_OR_RETURN(uint64_t v, Unsigned(*timeout, Child(batch_path, "timeout_ms"), 1, 60'000));
      p.batch_timeout_ms = static_cast<uint32_t>(v);
    }
  }
  if (const Entry* parallel = m.Find("parallel")) {
    ASSIGN_OR_RETURN(uint64_t v, Unsigned(*parallel, Child(path, "parallel"), 1, 64));
    p.parallel = static_cast<uint32_t>(v);
  }
  if (const Entry* lua_threads = m.Find("lua_threads")) {
    ASSIGN_OR_RETURN(uint64_t v, Unsigned(*lua_threads, Child(path, "lua_threads"), 1, 64));
    p.lua_threads = static_cast<uint32_t>(v);
  }
  if (const Entry* ddl = m.Find("ddl")) {
    ASSIGN_OR_RETURN(p.ddl, Ddl(*ddl, Child(path, "ddl")));
  }
  if (const Entry* on_error = m.Find("on_error")) {
    static constexpr std::string_view kModes[] = {"stop", "skip"};
    ASSIGN_OR_RETURN(size_t i, OneOf(*on_error, Child(path, "on_error"), kModes));
    p.on_error = i == 0 ? OnError::kStop : OnError::kSkip;
  }
  if (const Entry* skip_log = m.Find("skip_log")) {
    std::string skip_path = Child(path, "skip_log");
    ASSIGN_OR_RETURN(std::string s, String(*skip_log, skip_path));
    s = std::string(Trim(s));
    if (s.back() == '/') {
      return Fail(skip_log->value_mark, skip_path, fmt::format("{} is a directory; name the file", Quoted(s)));
    }
    p.skip_log = ResolvePath(s);
  } else {
    // Beside the store; beside the config when the store is not a file.
    bool store_is_file = config.store.find("://") == std::string::npos;
    fs::path dir = fs::path(store_is_file ? config.store : ResolvePath("sluice.db")).parent_path();
    p.skip_log = (dir / (p.name + ".skipped.jsonl")).string();
  }
  if (const Entry* queue = m.Find("queue_bytes")) {
    ASSIGN_OR_RETURN(p.queue_bytes, Size(*queue, Child(path, "queue_bytes"), kMiB));
  }
  // A duration, or `never` (0).
  auto duration_or_never = [&](std::string_view key, uint64_t& ms) -> Status {
    const Entry* e = m.Find(key);
    if (e == nullptr) return Status::Ok();
    const bool scalar = e->value.IsScalar();
    if (scalar && Lower(Trim(e->value.Scalar())) == "never") {
      ms = 0;
    } else if (auto parsed = Duration(*e, Child(path, key)); parsed.ok()) {
      ms = *parsed;
    } else {
      return Fail(e->value_mark, Child(path, key),
                  fmt::format("expected a duration such as 30s or 5m (at least 1s), or never, got {}",
                              scalar ? Quoted(Trim(e->value.Scalar())) : std::string(Describe(e->value))));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(duration_or_never("detach_after", p.detach_after_ms));
  RETURN_IF_ERROR(duration_or_never("takeover_after", p.takeover_after_ms));
  if (const Entry* snapshot = m.Find("snapshot")) {
    static constexpr std::string_view kModes[] = {"initial", "never"};
    ASSIGN_OR_RETURN(size_t i, OneOf(*snapshot, Child(path, "snapshot"), kModes, /*trim=*/true));
    p.snapshot = i == 0 ? SnapshotMode::kInitial : SnapshotMode::kNever;
  }
  if (const Entry* renamed_out = m.Find("renamed_out")) {
    static constexpr std::string_view kModes[] = {"keep", "drop"};
    ASSIGN_OR_RETURN(size_t i, OneOf(*renamed_out, Child(path, "renamed_out"), kModes));
    p.drop_renamed_out = i == 1;
  }
  if (const Entry* chunk = m.Find("chunk_rows")) {
    ASSIGN_OR_RETURN(p.chunk_rows, Unsigned(*chunk, Child(path, "chunk_rows"), 10, 10'000'000));
  }
  if (const Entry* check = m.Find("check")) {
    std::string check_path = Child(path, "check");
    ASSIGN_OR_RETURN(MapView c, AsMap(*check, check_path, {"every", "repair"}, "a map (every: 1h, repair: false)"));
    // Without `every`: no periodic check; `repair` still rules checks on request and after copies of new tables.
    if (const Entry* every = c.Find("every")) {
      ASSIGN_OR_RETURN(p.check.every_ms, Duration(*every, Child(check_path, "every")));
    }
    if (const Entry* repair = c.Find("repair")) {
      ASSIGN_OR_RETURN(p.check.repair, Bool(*repair, Child(check_path, "repair")));
    }
  }
  if (const Entry* peer = m.Find("peer")) {
    ASSIGN_OR_RETURN(p.peer, String(*peer, Child(path, "peer")));
    p.peer_mark = peer->value_mark;
    if (p.peer == p.name) return Fail(p.peer_mark, Child(path, "peer"), "a pipeline cannot be its own peer");
  }
  if (const Entry* conflict = m.Find("conflict")) {
    std::string conflict_path = Child(path, "conflict");
    ASSIGN_OR_RETURN(MapView cm, AsMap(*conflict, conflict_path, {"policy", "column"},
                                       "a map (policy: latest_wins, column: updated_at)"));
    p.conflict_mark = conflict->key_mark;
    bool latest = false;
    if (const Entry* policy = cm.Find("policy")) {
      static constexpr std::string_view kPolicies[] = {"source_wins", "latest_wins"};
      ASSIGN_OR_RETURN(size_t i, OneOf(*policy, Child(conflict_path, "policy"), kPolicies));
      latest = i == 1;
    }
    const Entry* column = cm.Find("column");
    if (latest && column == nullptr) {
      return Fail(conflict->key_mark, Child(conflict_path, "column"),
                  "latest_wins needs the column to compare (e.g. column: updated_at)");
    }
    if (!latest && column != nullptr) {
      return Fail(column->key_mark, Child(conflict_path, "column"), "only latest_wins compares a column");
    }
    if (latest) {
      ASSIGN_OR_RETURN(p.conflict_column, String(*column, Child(conflict_path, "column")));
      for (const std::string& name : p.targets) {
        const TargetConfig* t = config.FindTarget(name);
        if (t != nullptr && !IsMysqlScheme(t->endpoint.scheme)) {
          return Fail(conflict->key_mark, conflict_path,
                      fmt::format("latest_wins works for mysql:// and mariadb:// targets; target \"{}\" is {}://",
                                  name, t->endpoint.scheme));
        }
      }
    }
  }
  if (const Entry* nodes = m.Find("nodes")) {
    std::string nodes_path = Child(path, "nodes");
    ASSIGN_OR_RETURN(MapView nm, AsMap(*nodes, nodes_path, {"labels"}, "a map with labels:"));
    if (const Entry* labels = nm.Find("labels")) {
      ASSIGN_OR_RETURN(p.node_labels, Labels(*labels, Child(nodes_path, "labels")));
    }
  }
  // Not every target kind can be snapshotted into or checked.
  for (const char* job : {"snapshot", "check"}) {
    const Entry* e = m.Find(job);
    bool snapshot = std::string_view(job) == "snapshot";
    if (e == nullptr || (snapshot && p.snapshot != SnapshotMode::kInitial)) continue;
    for (const std::string& name : p.targets) {
      const TargetConfig* t = config.FindTarget(name);
      if (t == nullptr) continue;
      bool supported = snapshot ? sink::SupportsSnapshot(t->endpoint.scheme) : sink::SupportsCheck(t->endpoint.scheme);
      if (!supported) {
        return Fail(e->key_mark, Child(path, job),
                    fmt::format("target \"{}\" is {}://: `{}` does not work for this kind of target; "
                                "run a separate pipeline for it without {}:",
                                name, t->endpoint.scheme, job, job));
      }
      // A Redis stream is a log of changes, not a copy of the tables; a
      // repair writes through the kind's snapshot writer.
      if (!snapshot && t->endpoint.scheme == "redis" && t->options.mode == "stream") {
        return Fail(e->key_mark, Child(path, job),
                    fmt::format("target \"{}\" is a Redis stream (a log of changes, not a copy of the tables): "
                                "`check` does not work for it; run a separate pipeline for it without check:",
                                name));
      }
      if (!snapshot && p.check.repair && !sink::SupportsSnapshot(t->endpoint.scheme)) {
        return Fail(e->key_mark, Child(path, job),
                    fmt::format("target \"{}\" is {}://: `check` can compare it but not repair it yet; set "
                                "repair: false",
                                name, t->endpoint.scheme));
      }
    }
  }
  return p;
}

Result<std::shared_ptr<const transform::lua::LuaScript>> Loader::LoadLuaScript(const Entry& e,
                                                                          const std::string& path) const {
  ASSIGN_OR_RETURN(std::string file, String(e, path));
  file = std::string(Trim(file));
  if (file.empty()) return Fail(e.value_mark, path, "empty file name");
  std::string resolved = ResolvePath(file);
  std::ifstream in(resolved, std::ios::binary);
  if (!in) {
    return Fail(e.value_mark, path, fmt::format("cannot read Lua script {}: {}", resolved, std::strerror(errno)));
  }
  auto script = std::make_shared<transform::lua::LuaScript>();
  script->name = file;
  script->source.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  auto compiled = transform::lua::LuaRuntime::Create(script->name, script->source);
  if (!compiled.ok()) return Fail(e.value_mark, path, compiled.status().message());
  return std::shared_ptr<const transform::lua::LuaScript>(std::move(script));
}

Result<TableRule> Loader::LoadRule(const YAML::Node& n, const std::string& path) const {
  TableRule rule;
  rule.key_path = path;
  rule.mark = MarkOf(n);
  MapView m;
  if (n.IsScalar()) {
    // Shorthand: "- shop.orders" is "- match: shop.orders".
    m.mark = rule.mark;
    m.entries.push_back(Entry{"match", YAML::Node(), n, rule.mark, rule.mark});
  } else {
    ASSIGN_OR_RETURN(m, AsMap(n, rule.mark, path, {"match", "to", "columns", "rename_columns", "where", "snapshot_where", "ddl",
                               "transform"},
                              "a table rule (match: \"db.table\" ...)"));
    RETURN_IF_ERROR(RequireKeys(m, path, {"match"}));
  }

  const Entry& match = *m.Find("match");
  std::string match_path = n.IsScalar() ? path : Child(path, "match");
  rule.match_mark = match.value_mark;
  ASSIGN_OR_RETURN(std::string pattern, String(match, match_path));
  pattern = std::string(Trim(pattern));
  if (pattern.size() >= 2 && pattern.front() == '/' && pattern.back() == '/') {
    rule.is_regex = true;
    rule.match = pattern.substr(1, pattern.size() - 2);
    if (rule.match.empty()) return Fail(match.value_mark, match_path, "empty regex \"//\"");
    try {
      rule.regex = std::make_shared<const std::regex>(rule.match, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Fail(match.value_mark, match_path, fmt::format("invalid regex {}: {}", Quoted(pattern), e.what()));
    }
  } else {
    if (pattern.find_first_of(".*?") == std::string::npos) {
      return Fail(match.value_mark, match_path,
                  fmt::format("pattern {} can never match: patterns match \"DB.TABLE\" (e.g. \"shop.{}\" or "
                              "\"*.{}\"; \"/regex/\" for a regex)",
                              Quoted(pattern), Printable(pattern), Printable(pattern)));
    }
    rule.match = std::move(pattern);
  }

  if (const Entry* to = m.Find("to")) {
    std::string to_path = Child(path, "to");
    rule.to_mark = to->value_mark;
    ASSIGN_OR_RETURN(std::string tmpl, String(*to, to_path));
    tmpl = std::string(Trim(tmpl));
    if (auto problem = CheckTableTemplate(tmpl)) return Fail(to->value_mark, to_path, *problem);
    rule.to = std::move(tmpl);
  }

  if (const Entry* columns = m.Find("columns")) {
    std::string columns_path = Child(path, "columns");
    rule.columns_mark = columns->value_mark;
    if (columns->value.IsSequence() && columns->value.size() == 0) {
      return Fail(columns->value_mark, columns_path, "empty list; remove the key to keep all columns");
    }
    ASSIGN_OR_RETURN(auto names, StringList(*columns, columns_path, /*allow_single=*/false));
    for (size_t i = 0; i < names.size(); ++i) {
      std::string name(Trim(names[i].first));
      // Column names are case-insensitive in MySQL and MariaDB.
      for (const auto& earlier : rule.columns) {
        if (EqualsIgnoreCase(earlier, name)) {
          return Fail(names[i].second, Index(columns_path, i), fmt::format("duplicate column {}", Quoted(name)));
        }
      }
      rule.columns.push_back(std::move(name));
    }
  }

  if (const Entry* renames = m.Find("rename_columns")) {
    std::string renames_path = Child(path, "rename_columns");
    rule.rename_columns_mark = renames->value_mark;
    ASSIGN_OR_RETURN(MapView r, AsMap(*renames, renames_path, {}, "a map of SOURCE_COLUMN: TARGET_COLUMN"));
    if (r.entries.empty()) return Fail(renames->value_mark, renames_path, "empty map");
    for (const Entry& e : r.entries) {
      std::string entry_path = Child(renames_path, e.key);
      std::string from(Trim(e.key));
      if (from.empty()) return Fail(e.key_mark, entry_path, "empty column name");
      if (!rule.columns.empty() && std::none_of(rule.columns.begin(), rule.columns.end(),
                                                [&](const std::string& c) { return EqualsIgnoreCase(c, from); })) {
        return Fail(e.key_mark, entry_path,
                    fmt::format("column {} is not in columns ({})", Quoted(from), JoinNames(rule.columns)));
      }
      for (const auto& [earlier_from, earlier_to] : rule.rename_columns) {
        if (EqualsIgnoreCase(earlier_from, from)) {
          return Fail(e.key_mark, entry_path, fmt::format("column {} is renamed twice", Quoted(from)));
        }
      }
      ASSIGN_OR_RETURN(std::string to, String(e, entry_path));
      to = std::string(Trim(to));
      for (const auto& [earlier_from, earlier_to] : rule.rename_columns) {
        if (EqualsIgnoreCase(earlier_to, to)) {
          return Fail(
              e.value_mark, entry_path,
              fmt::format("columns {} and {} are both renamed to {}", Quoted(earlier_from), Quoted(from), Quoted(to)));
        }
      }
      // A kept column that is not renamed keeps its name: it may not be a rename's target.
      for (const auto& c : rule.columns) {
        if (!EqualsIgnoreCase(c, from) && EqualsIgnoreCase(c, to) &&
            std::none_of(r.entries.begin(), r.entries.end(),
                         [&](const Entry& other) { return EqualsIgnoreCase(Trim(other.key), c); })) {
          return Fail(e.value_mark, entry_path,
                      fmt::format("renaming {} to {} collides with column {}", Quoted(from), Quoted(to), Quoted(c)));
        }
      }
      rule.rename_columns.emplace_back(std::move(from), std::move(to));
    }
  }

  if (const Entry* where = m.Find("where")) {
    rule.where_mark = where->value_mark;
    ASSIGN_OR_RETURN(std::string text, String(*where, Child(path, "where")));
    rule.where = std::string(Trim(text));
  }
  if (const Entry* snapshot_where = m.Find("snapshot_where")) {
    rule.snapshot_where_mark = snapshot_where->value_mark;
    ASSIGN_OR_RETURN(std::string text, String(*snapshot_where, Child(path, "snapshot_where")));
    rule.snapshot_where = std::string(Trim(text));
  }
  if (const Entry* ddl = m.Find("ddl")) {
    ASSIGN_OR_RETURN(rule.ddl, Ddl(*ddl, Child(path, "ddl")));
  }
  if (const Entry* transform = m.Find("transform")) {
    std::string transform_path = Child(path, "transform");
    ASSIGN_OR_RETURN(MapView t, AsMap(*transform, transform_path, {"lua"}, "a map {lua: FILE}"));
    RETURN_IF_ERROR(RequireKeys(t, transform_path, {"lua"}));
    const Entry& lua = *t.Find("lua");
    ASSIGN_OR_RETURN(rule.lua, LoadLuaScript(lua, Child(transform_path, "lua")));
    rule.lua_mark = lua.value_mark;
  }
  return rule;
}

Result<YAML::Node> Loader::Document(std::string_view text, std::string_view needs) const {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::ParserException& e) {
    Mark mark{file_, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1};
    return Status::Invalid("{}: YAML syntax error: {}", FormatMark(mark), e.msg);
  }
  // An empty document ("---" at the end, a file of comments) is no document.
  docs.erase(std::remove_if(docs.begin(), docs.end(), [](const YAML::Node& d) { return d.IsNull(); }), docs.end());
  if (docs.empty()) return Status::Invalid("{}: the configuration is empty; it needs {}", file_, needs);
  if (docs.size() > 1) {
    return Fail(MarkOf(docs[1]), "", fmt::format("expected one YAML document, found {}", docs.size()));
  }
  return docs[0];
}

Result<Config> Loader::Load(std::string_view text) {
  ASSIGN_OR_RETURN(YAML::Node doc, Document(text, "sources:, targets: and pipelines:"));
  Config config;
  config.path = file_;
  ASSIGN_OR_RETURN(MapView root,
                   AsMap(doc, Mark{file_, 1, 1}, "",
                         {"store", "http", "sources", "targets", "pipelines", "cluster", "auth", "http_tls", "audit",
                          "alarms"},
                         "a map with sources:, targets: and pipelines:"));
  RETURN_IF_ERROR(RequireKeys(root, "", {"sources", "targets", "pipelines"}));
  RETURN_IF_ERROR(LoadStore(root, config));
  RETURN_IF_ERROR(LoadHttp(root, config));
  if (const Entry* cluster = root.Find("cluster")) {
    ASSIGN_OR_RETURN(config.cluster, LoadCluster(*cluster));
  }
  if (const Entry* auth = root.Find("auth")) {
    ASSIGN_OR_RETURN(config.auth, LoadAuth(*auth));
  }
  if (const Entry* tls = root.Find("http_tls")) {
    ASSIGN_OR_RETURN(config.http_tls, LoadHttpTls(*tls));
  }
  if (const Entry* audit = root.Find("audit")) {
    ASSIGN_OR_RETURN(config.audit, LoadAudit(*audit));
  }
  if (const Entry* alarms = root.Find("alarms")) {
    ASSIGN_OR_RETURN(config.alarms, LoadAlarms(*alarms, config.cluster.has_value()));
  }
  RETURN_IF_ERROR(CheckHttpAccess(root, config));
  RETURN_IF_ERROR(LoadSources(root, config));
  RETURN_IF_ERROR(LoadTargets(root, config));
  RETURN_IF_ERROR(LoadPipelines(root, config));
  return config;
}

Result<NodeConfig> Loader::LoadNode(std::string_view text) {
  ASSIGN_OR_RETURN(YAML::Node doc, Document(text, "cluster: and node:"));
  ASSIGN_OR_RETURN(MapView root,
                   AsMap(doc, Mark{file_, 1, 1}, "", {"cluster", "node", "http", "store", "auth", "http_tls", "audit"},
                         "a map with cluster: and node:"));
  RETURN_IF_ERROR(RequireKeys(root, "", {"cluster", "node"}));
  NodeConfig node;
  node.path = file_;
  ASSIGN_OR_RETURN(node.cluster, LoadCluster(*root.Find("cluster")));
  ASSIGN_OR_RETURN(MapView m, AsMap(*root.Find("node"), "node", {"id", "labels"}, "a map with id:"));
  RETURN_IF_ERROR(RequireKeys(m, "node", {"id"}));
  const Entry& id = *m.Find("id");
  ASSIGN_OR_RETURN(node.id, String(id, "node.id"));
  if (!IsValidName(node.id)) {
    return Fail(id.value_mark, "node.id",
                fmt::format("invalid node id {}: use letters, digits, \"_\", \".\" and \"-\"", Quoted(node.id)));
  }
  if (const Entry* labels = m.Find("labels")) {
    ASSIGN_OR_RETURN(node.labels, Labels(*labels, "node.labels"));
  }
  // The same rules as `sluice run`'s http: and store: (a node's store is a SQLite file).
  Config shared;
  RETURN_IF_ERROR(LoadHttp(root, shared));
  if (const Entry* auth = root.Find("auth")) {
    ASSIGN_OR_RETURN(shared.auth, LoadAuth(*auth));
  }
  if (const Entry* tls = root.Find("http_tls")) {
    ASSIGN_OR_RETURN(node.http_tls, LoadHttpTls(*tls));
  }
  if (const Entry* audit = root.Find("audit")) {
    ASSIGN_OR_RETURN(node.audit, LoadAudit(*audit));
  }
  RETURN_IF_ERROR(CheckHttpAccess(root, shared));
  node.http = std::move(shared.http);
  node.auth = std::move(shared.auth);
  if (const Entry* store = root.Find("store")) {
    RETURN_IF_ERROR(LoadStore(root, shared));
    if (shared.store.find("://") != std::string::npos) {
      return Fail(store->value_mark, "store", "a node keeps its local state in a SQLite file; name its path");
    }
    node.store = std::move(shared.store);
  } else {
    node.store = ResolvePath(node.id + ".db");
  }
  return node;
}

}  // namespace

const char* DdlModeName(DdlMode mode) {
  switch (mode) {
    case DdlMode::kUnset:
      return "unset";
    case DdlMode::kApply:
      return "apply";
    case DdlMode::kIgnore:
      return "ignore";
    case DdlMode::kStop:
      return "stop";
  }
  return "unknown";
}

const char* OnErrorName(OnError mode) {
  switch (mode) {
    case OnError::kStop:
      return "stop";
    case OnError::kSkip:
      return "skip";
  }
  return "unknown";
}

const SourceConfig* Config::FindSource(std::string_view name) const {
  for (const auto& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const TargetConfig* Config::FindTarget(std::string_view name) const {
  for (const auto& t : targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const PipelineConfig* Config::FindPipeline(std::string_view name) const {
  for (const auto& p : pipelines) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Result<Config> ParseConfig(std::string_view yaml_text, const std::string& path_for_messages) {
  try {
    return Loader(path_for_messages).Load(yaml_text);
  } catch (const YAML::Exception& e) {
    // Every access above checks the node type first; this is a safety net
    // for input yaml-cpp itself rejects in a way not foreseen here.
    return Status::Invalid("{}: invalid configuration: {}", path_for_messages, e.msg);
  }
}

namespace {

Result<std::string> ReadConfigFile(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::Error(StatusCode::kIoError, "config file {}: does not exist", path);
  if (fs::is_directory(path, ec)) return Status::Error(StatusCode::kIoError, "config file {}: is a directory", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(StatusCode::kIoError, "config file {}: cannot be opened", path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Error(StatusCode::kIoError, "config file {}: read error", path);
  return text.str();
}

}  // namespace

Result<Config> LoadConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path));
  return ParseConfig(text, path);
}

Result<NodeConfig> ParseNodeConfig(std::string_view yaml_text, const std::string& path_for_messages) {
  try {
    return Loader(path_for_messages).LoadNode(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::Invalid("{}: invalid configuration: {}", path_for_messages, e.msg);
  }
}

Result<NodeConfig> LoadNodeConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path));
  return ParseNodeConfig(text, path);
}

bool IsLoopbackListen(std::string_view listen) {
  std::string_view host = listen;
  if (host.starts_with('[')) {
    host = host.substr(1, host.find(']') == std::string_view::npos ? host.size() - 1 : host.find(']') - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, written as a dotted quad.
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

std::string FormatMark(const Mark& mark) {
  if (mark.line <= 0) return mark.file;
  return fmt::format("{}:{}:{}", mark.file, mark.line, mark.column);
}

std::string FormatConfigError(const Mark& mark, std::string_view key_path, std::string_view message) {
  if (key_path.empty()) return fmt::format("{}: {}", FormatMark(mark), message);
  return fmt::format("{}: {}: {}", FormatMark(mark), key_path, message);
}

std::string ExpandTableTemplate(std::string_view tmpl, std::string_view db, std::string_view table) {
  if (tmpl.empty()) return fmt::format("{}.{}", db, table);
  std::string out;
  out.reserve(tmpl.size() + db.size() + table.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find("${", i);
    if (open == std::string_view::npos) break;
    size_t close = tmpl.find('}', open + 2);
    if (close == std::string_view::npos) break;
    out.append(tmpl.substr(i, open - i));
    std::string_view var = tmpl.substr(open + 2, close - open - 2);
    if (var == "db") {
      out.append(db);
    } else if (var == "table") {
      out.append(table);
    } else {
      out.append(tmpl.substr(open, close - open + 1));
    }
    i = close + 1;
  }
  out.append(tmpl.substr(i));
  return out;
}


bool MatchesTableRule(const TableRule& rule, std::string_view db, std::string_view table) {
  std::string full;
  full.reserve(db.size() + table.size() + 1);
  full.append(db).append(".").append(table);
  if (!rule.is_regex) return GlobMatch(rule.match, full);
  if (rule.regex) return std::regex_match(full, *rule.regex);
  // A rule built in code rather than loaded: compile on the spot.
  try {
    return std::regex_match(full, std::regex(rule.match, std::regex::ECMAScript));
  } catch (const std::regex_error&) {
    return false;
  }
}

sink::SinkOptions TargetSinkOptions(const PipelineConfig& pipeline, const TargetConfig& target) {
  sink::SinkOptions so = target.options;
  so.pipeline = pipeline.name;
  so.target = target.name;
  so.url = target.endpoint;
  so.parallel = pipeline.parallel;
  so.skip_rejected = pipeline.on_error == OnError::kSkip;
  so.skip_log = pipeline.skip_log;
  so.epoch = pipeline.epoch;
  so.takeover_after_ms = pipeline.takeover_after_ms;
  so.conflict_column = pipeline.conflict_column;
  return so;
}

}  // namespace sluice::pipeline
