#include "cluster/pipeline_fingerprints.h"

#include <yaml-cpp/yaml.h>

namespace sluice::cluster {

std::map<std::string, std::string> PipelineFingerprints(std::string_view yaml_text) {
  std::map<std::string, std::string> out;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    auto dump = [](const YAML::Node& n) {
      YAML::Emitter e;
      e << n;
      return std::string(e.c_str());
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
