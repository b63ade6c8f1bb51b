#include "cluster/pipeline_fingerprints.h"

#include <yaml-cpp/yaml.h>

namespace sluice::cluster {
namespace {

// The node's content without its layout: flow `[a, b]` and block lists, or
// quoted and plain scalars, give the same text.
void Canonical(const YAML::Node& n, std::string& out) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& v = n.Scalar();
      out += std::to_string(v.size()) + ':' + v;
      break;
    }
    case YAML::NodeType::Sequence:
      out += '[';
      for (const YAML::Node& item : n) {
        Canonical(item, out);
        out += ',';
      }
      out += ']';
      break;
    case YAML::NodeType::Map:
      out += '{';
      for (const auto& kv : n) {
        Canonical(kv.first, out);
        out += '=';
        Canonical(kv.second, out);
        out += ',';
      }
      out += '}';
      break;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out += '~';
      break;
  }
}

}  // namespace

std::map<std::string, std::string> PipelineFingerprints(std::string_view yaml_text) {
  std::map<std::string, std::string> out;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    auto dump = [](const YAML::Node& n) {
      std::string out;
      Canonical(n, out);
      return out;
    };
    const YAML::Node sources = root["sources"];
    const YAML::Node targets = root["targets"];
    for (const YAML::Node& p : root["pipelines"]) {
      std::string fp = dump(p);
      if (p["source"] && sources) fp += "\n# source\n" + dump(sources[p["source"].as<std::string>()]);
      if (p["targets"] && targets) {
        for (const YAML::Node& t : p["targets"]) fp += "\n# target\n" + dump(targets[t.as<std::string>()]);
      }
      out[p["name"].as<std::string>()] = std::move(fp);
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

}  // namespace sluice::cluster
