#include "server/config_secrets.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <vector>

namespace sluice::server {
namespace {

// One secret found in the text.
struct Secret {
  std::string path;        // "auth.users[alice].password_hash", "sources.main.url#password"
  bool url_password = false;
  size_t begin = 0;        // the secret's raw bytes in the text: the whole scalar token (quotes
  size_t end = 0;          // included), or the URL's password inside it
  char quote = 0;          // the token's quote ('"', '\'' or 0 for plain)
  std::string value;       // decoded
  int line = 0;            // 1-based
  bool located = true;     // false: the raw extent could not be found (block scalar, escapes)
};

bool EndsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

bool IsSecretKey(std::string_view key) {
  std::string k(key);
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
  // Where a secret is kept (token_env: NAME, password_file: PATH) is not one.
  if (EndsWith(k, "_env") || EndsWith(k, "_file") || EndsWith(k, "_path")) return false;
  for (std::string_view tail : {"password", "password_hash", "passwd", "secret", "token", "api_key", "apikey"}) {
    if (EndsWith(k, tail)) return true;
  }
  return false;
}

// The end of the scalar token starting at `pos`, npos when not found.
size_t TokenEnd(std::string_view text, size_t pos, bool in_flow) {
  const size_t n = text.size();
  if (pos >= n) return std::string_view::npos;
  const char c = text[pos];
  if (c == '"') {
    for (size_t i = pos + 1; i < n; ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '"') {
        return i + 1;
      }
    }
    return std::string_view::npos;
  }
  if (c == '\'') {
    for (size_t i = pos + 1; i < n; ++i) {
      if (text[i] != '\'') continue;
      if (i + 1 < n && text[i + 1] == '\'') {
        ++i;
        continue;
      }
      return i + 1;
    }
    return std::string_view::npos;
  }
  if (c == '|' || c == '>' || c == '*' || c == '&' || c == '!') return std::string_view::npos;
  size_t i = pos;
  while (i < n && text[i] != '\n') {
    if (text[i] == '#' && i > pos && (text[i - 1] == ' ' || text[i - 1] == '\t')) break;
    if (in_flow && (text[i] == ',' || text[i] == ']' || text[i] == '}')) break;
    ++i;
  }
  while (i > pos && (text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\r')) --i;
  return i;
}

// A secret inside a URL: its password, or the value of a query parameter
// named like a secret (`?sasl.password=...`, `&token=...`).
struct UrlSecret {
  std::string part;  // "password" or "query.NAME"
  size_t from = 0, to = 0;
};

std::vector<UrlSecret> UrlSecrets(std::string_view value) {
  std::vector<UrlSecret> out;
  const size_t scheme = value.find("://");
  if (scheme == std::string_view::npos) return out;
  const size_t authority = scheme + 3;
  size_t authority_end = value.find_first_of("/?#", authority);
  if (authority_end == std::string_view::npos) authority_end = value.size();
  const size_t at = value.substr(0, authority_end).rfind('@');
  if (at != std::string_view::npos && at >= authority) {
    const size_t colon = value.substr(0, at).find(':', authority);
    if (colon != std::string_view::npos) out.push_back({"password", colon + 1, at});
  }
  const size_t query = value.find('?', authority);
  if (query == std::string_view::npos) return out;
  const size_t query_end = std::min(value.size(), value.find('#', query));
  for (size_t begin = query + 1; begin < query_end;) {
    size_t end = std::min(query_end, value.find('&', begin));
    const std::string_view param = value.substr(begin, end - begin);
    const size_t eq = param.find('=');
    if (eq != std::string_view::npos && eq + 1 < param.size() && IsSecretKey(param.substr(0, eq))) {
      out.push_back({"query." + std::string(param.substr(0, eq)), begin + eq + 1, end});
    }
    begin = end + 1;
  }
  return out;
}

class Finder {
 public:
  explicit Finder(std::string_view text) : text_(text) {}

  void Walk(const YAML::Node& node, const std::string& path, bool in_flow, std::string_view key) {
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        const bool flow = node.Style() == YAML::EmitterStyle::Flow;
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) continue;
          const std::string& k = kv.first.Scalar();
          Walk(kv.second, path.empty() ? k : path + "." + k, flow, k);
        }
        break;
      }
      case YAML::NodeType::Sequence: {
        const bool flow = node.Style() == YAML::EmitterStyle::Flow;
        size_t i = 0;
        for (const YAML::Node& item : node) {
          std::string id = std::to_string(i++);
          if (item.IsMap()) {
            const YAML::Node name = item["name"];
            if (name && name.IsScalar()) id = name.Scalar();
          }
          Walk(item, path + "[" + id + "]", flow, "");
        }
        break;
      }
      case YAML::NodeType::Scalar:
        Scalar(node, path, in_flow, key);
        break;
      default:
        break;
    }
  }

  std::vector<Secret> secrets;

 private:
  void Scalar(const YAML::Node& node, const std::string& path, bool in_flow, std::string_view key) {
    const std::string& value = node.Scalar();
    if (IsSecretKey(key)) {
      if (!value.empty()) Add(node, path, in_flow, value, 0, value.size(), false);
      return;
    }
    for (const UrlSecret& u : UrlSecrets(value)) Add(node, path + "#" + u.part, in_flow, value, u.from, u.to, true);
  }

  // The secret value[from, to) of `node`: the whole scalar, or a URL's password.
  void Add(const YAML::Node& node, std::string path, bool in_flow, const std::string& value, size_t from, size_t to,
           bool url_password) {
    Secret s;
    s.path = std::move(path);
    s.url_password = url_password;
    s.value = value.substr(from, to - from);
    s.line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
    const size_t pos = node.Mark().is_null() ? std::string_view::npos : static_cast<size_t>(node.Mark().pos);
    const size_t end = pos == std::string_view::npos ? pos : TokenEnd(text_, pos, in_flow);
    if (end == std::string_view::npos) {
      s.located = false;
      secrets.push_back(std::move(s));
      return;
    }
    s.quote = text_[pos] == '"' || text_[pos] == '\'' ? text_[pos] : 0;
    // The decoded value sits verbatim between the quotes unless it holds escapes.
    const std::string_view inner = s.quote ? text_.substr(pos + 1, end - pos - 2) : text_.substr(pos, end - pos);
    if (url_password) {
      const size_t offset = pos + (s.quote ? 1 : 0);
      s.located = inner == value;
      s.begin = offset + from;
      s.end = offset + to;
    } else {
      s.located = s.quote || inner == value;
      s.begin = pos;
      s.end = end;
    }
    secrets.push_back(std::move(s));
  }

  std::string_view text_;
};

std::optional<std::vector<Secret>> FindSecrets(std::string_view text) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
  Finder finder(text);
  finder.Walk(doc, "", false, "");
  return std::move(finder.secrets);
}

// `text` with [begin, end) replaced, for each edit, applied from the back.
std::string Splice(std::string_view text, std::vector<std::pair<std::pair<size_t, size_t>, std::string>> edits) {
  std::sort(edits.begin(), edits.end(), [](const auto& a, const auto& b) { return a.first.first > b.first.first; });
  std::string out(text);
  for (const auto& [range, replacement] : edits) out.replace(range.first, range.second - range.first, replacement);
  return out;
}

// `value` written inside a token quoted with `quote`.
std::string Requote(std::string_view value, char quote) {
  std::string out;
  for (char c : value) {
    if (quote == '"' && (c == '"' || c == '\\')) out += '\\';
    if (quote == '\'' && c == '\'') out += '\'';
    out += c;
  }
  return out;
}

}  // namespace

std::string MaskConfigSecrets(std::string_view yaml) {
  std::optional<std::vector<Secret>> secrets = FindSecrets(yaml);
  if (!secrets) return "# (not shown: this text does not parse as YAML, so its secrets cannot be masked)\n";
  std::vector<std::pair<std::pair<size_t, size_t>, std::string>> edits;
  for (const Secret& s : *secrets) {
    if (!s.located) {
      return fmt::format("# (not shown: the secret at line {} ({}) is written in a form that cannot be masked; "
                         "write it as a quoted or plain scalar)\n",
                         s.line, s.path);
    }
    edits.push_back({{s.begin, s.end}, s.url_password ? std::string(kMaskedSecret)
                                                      : fmt::format("\"{}\"", kMaskedSecret)});
  }
  std::string masked = Splice(yaml, std::move(edits));
  // Proof, not hope: the masked text must hold none of the values it hid.
  for (const Secret& s : *secrets) {
    if (s.value.size() >= 4 && masked.find(s.value) != std::string::npos) {
      return fmt::format("# (not shown: the secret at line {} ({}) also appears elsewhere in the text)\n", s.line,
                         s.path);
    }
  }
  return masked;
}

std::string RedactConfigSecrets(std::string_view message, std::string_view yaml) {
  std::string out(message);
  std::optional<std::vector<Secret>> secrets = FindSecrets(yaml);
  if (!secrets) return out;
  for (const Secret& s : *secrets) {
    if (s.value.empty() || s.value == kMaskedSecret) continue;
    for (size_t at = out.find(s.value); at != std::string::npos; at = out.find(s.value, at + kMaskedSecret.size())) {
      out.replace(at, s.value.size(), kMaskedSecret);
    }
  }
  return out;
}

Result<std::string> RestoreConfigSecrets(std::string_view edited, std::string_view saved,
                                         const std::string& path_for_messages) {
  std::optional<std::vector<Secret>> ours = FindSecrets(edited);
  if (!ours) return std::string(edited);
  std::map<std::string, Secret> kept;
  if (std::optional<std::vector<Secret>> theirs = FindSecrets(saved)) {
    for (Secret& s : *theirs) kept.emplace(s.path, std::move(s));
  }
  std::vector<std::pair<std::pair<size_t, size_t>, std::string>> edits;
  for (const Secret& s : *ours) {
    if (s.value != kMaskedSecret) continue;
    std::string key = s.path;
    if (s.url_password) {
      const size_t hash = s.path.rfind('#');
      const std::string part = s.path.substr(hash + 1);
      key = s.path.substr(0, hash) + (part == "password" ? " (the URL's password)"
                                                         : " (the URL's " + part.substr(6) + " parameter)");
    }
    auto it = kept.find(s.path);
    if (it == kept.end()) {
      return Status::Invalid("{}:{}: {}: reads \"{}\", but the saved configuration has no secret there to keep; "
                             "write the real value",
                             path_for_messages, s.line, key, kMaskedSecret);
    }
    if (!s.located) {
      return Status::Invalid("{}:{}: {}: a masked secret must be a quoted or plain scalar", path_for_messages,
                             s.line, key);
    }
    const Secret& old = it->second;
    if (s.url_password) {
      edits.push_back({{s.begin, s.end}, Requote(old.value, s.quote)});
    } else {
      edits.push_back({{s.begin, s.end}, fmt::format("\"{}\"", Requote(old.value, '"'))});
    }
  }
  return Splice(edited, std::move(edits));
}

}  // namespace sluice::server
