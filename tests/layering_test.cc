// The include graph of src/ against the layering of style.md: modules depend
// downwards only (cli -> cluster/server -> pipeline/jobs ->
// source/transform/format/sink/store -> client -> core), a source never
// includes a sink nor a sink a source, and core includes nothing of ours.
// Reads every file under src/, so a new edge fails here before review.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const std::map<std::string, int> kLevel = {
    {"core", 0},     {"client", 1},    {"source", 2}, {"transform", 2}, {"format", 2}, {"sink", 2},
    {"store", 2},    {"pipeline", 3},  {"jobs", 3},   {"cluster", 4},   {"server", 4}, {"cli", 5},
};

// Same-level edges that break the architecture: capture and apply stay apart
// (what both need lives in client/), and encoders and rules are pure
// functions over core types.
const std::set<std::pair<std::string, std::string>> kForbiddenSameLevel = {
    {"source", "sink"},    {"sink", "source"},      {"transform", "sink"}, {"transform", "source"},
    {"format", "sink"},    {"format", "source"},    {"format", "transform"}, {"source", "transform"},
    {"source", "format"},  {"store", "sink"},       {"store", "source"},
};

struct Edge {
  std::string file;
  int line;
  std::string from, to, include;
};

std::vector<Edge> Edges() {
  std::vector<Edge> out;
  const fs::path root = SLUICE_SOURCE_DIR;
  const std::regex include_re(R"re(^\s*#\s*include\s*"([a-z_]+)/([^"]+)")re");
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".cc" && ext != ".inc") continue;
    const std::string rel = fs::relative(entry.path(), root).string();
    const std::string from = rel.substr(0, rel.find('/'));
    std::ifstream in(entry.path());
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
      ++n;
      std::smatch m;
      if (std::regex_search(text, m, include_re) && kLevel.count(m[1].str())) {
        out.push_back({rel, n, from, m[1].str(), m[1].str() + "/" + m[2].str()});
      }
    }
  }
  return out;
}

TEST(LayeringTest, EveryFolderUnderSrcHasALevel) {
  for (const auto& entry : fs::directory_iterator(SLUICE_SOURCE_DIR)) {
    if (!entry.is_directory()) continue;
    EXPECT_TRUE(kLevel.count(entry.path().filename().string()))
        << "src/" << entry.path().filename().string() << " is not in the layering of style.md";
  }
}

TEST(LayeringTest, IncludesOnlyGoDownwards) {
  std::vector<Edge> edges = Edges();
  ASSERT_GT(edges.size(), 100u) << "read too few includes under " << SLUICE_SOURCE_DIR;
  for (const Edge& e : edges) {
    if (e.from == e.to) continue;
    ASSERT_TRUE(kLevel.count(e.from)) << e.file;
    const int from = kLevel.at(e.from), to = kLevel.at(e.to);
    EXPECT_LE(to, from) << "src/" << e.file << ":" << e.line << " includes \"" << e.include << "\": " << e.from
                        << " may not depend on " << e.to << " (it is above it)";
    EXPECT_FALSE(kForbiddenSameLevel.count({e.from, e.to}))
        << "src/" << e.file << ":" << e.line << " includes \"" << e.include << "\": " << e.from
        << " may not depend on " << e.to << "; move what both need to client/ or core/";
  }
}

TEST(LayeringTest, NothingIncludesTheCli) {
  for (const Edge& e : Edges()) {
    if (e.from != "cli") {
      EXPECT_NE(e.to, "cli") << "src/" << e.file << ":" << e.line << " includes " << e.include;
    }
  }
}

}  // namespace
