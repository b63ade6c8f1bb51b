#include "cluster/names.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sluice::cluster {

Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty()) return Status::Invalid("{} is empty", what);
  if (name.size() > 200) return Status::Invalid("{} \"{}\" is longer than 200 characters", what, name);
  if (name == "." || name == "..") return Status::Invalid("{} may not be \"{}\"", what, name);
  for (char c : name) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::Invalid("{} \"{}\" may not contain '/' or control characters", what, name);
    }
  }
  return Status::Ok();
}

std::string ClusterPaths::PipelineOf(std::string_view path) const {
  const std::string prefix = pipelines() + "/";
  if (path.substr(0, prefix.size()) != prefix) return "";
  path.remove_prefix(prefix.size());
  return std::string(path.substr(0, path.find('/')));
}

std::string SettingNodeName(std::string_view key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '_' || c == '-' || (c == '.' && key != "." && key != "..")) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> SettingKey(std::string_view name) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string key;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '%') {
      key += name[i];
      continue;
    }
    if (i + 2 >= name.size()) return std::nullopt;
    const int hi = digit(name[i + 1]), lo = digit(name[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (SettingNodeName(key) != name) return std::nullopt;
  return key;
}

std::string CandidatePrefix(std::string_view node_id, int64_t session_id) {
  return fmt::format("{}-{:x}-", node_id, static_cast<uint64_t>(session_id));
}

std::optional<CandidateName> ParseCandidateName(std::string_view name) {
  // Parse from the right: node ids may contain '-'.
  constexpr size_t kSequenceDigits = 10;
  if (name.size() < kSequenceDigits + 4) return std::nullopt;
  std::string_view seq = name.substr(name.size() - kSequenceDigits);
  std::string_view rest = name.substr(0, name.size() - kSequenceDigits);
  if (rest.back() != '-') return std::nullopt;
  rest.remove_suffix(1);
  size_t dash = rest.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  std::string_view session = rest.substr(dash + 1);
  CandidateName out;
  out.node_id = std::string(rest.substr(0, dash));
  uint64_t session_id = 0;
  auto r1 = std::from_chars(session.data(), session.data() + session.size(), session_id, 16);
  auto r2 = std::from_chars(seq.data(), seq.data() + seq.size(), out.sequence);
  if (session.empty() || r1.ec != std::errc() || r1.ptr != session.data() + session.size() || r2.ec != std::errc() ||
      r2.ptr != seq.data() + seq.size() || out.sequence < 0) {
    return std::nullopt;
  }
  out.session_id = static_cast<int64_t>(session_id);
  return out;
}

ElectionView ViewElection(const std::vector<std::string>& candidates, std::string_view own) {
  std::vector<std::pair<int64_t, const std::string*>> ordered;
  for (const std::string& name : candidates) {
    if (auto parsed = ParseCandidateName(name)) ordered.emplace_back(parsed->sequence, &name);
  }
  std::sort(ordered.begin(), ordered.end());
  ElectionView view;
  if (!ordered.empty()) view.owner_name = *ordered.front().second;
  for (size_t i = 0; i < ordered.size(); ++i) {
    if (*ordered[i].second != own) continue;
    view.present = true;
    view.owner = i == 0;
    if (i > 0) view.predecessor = *ordered[i - 1].second;
  }
  return view;
}

}  // namespace sluice::cluster
