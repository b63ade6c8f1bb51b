// `transform: {lua: FILE}` in a table rule: read relative to the
// configuration file and compiled when it loads; a missing file, a script
// that does not compile and a wrong shape are errors at file:line:key.

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "pipeline/config.h"

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;

class LuaConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-lua-config-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "rules");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Yaml(const std::string& transform) {
    return R"(sources:
  main: {url: "mysql://repl@127.0.0.1:3306", server_id: 4242}
targets:
  dst: {url: "mysql://app@127.0.0.1:3307"}
pipelines:
  - name: p
    source: main
    targets: [dst]
    tables:
      - match: "shop.users"
        transform: )" + transform + "\n";
  }
  Result<Config> Parse(const std::string& transform) {
    return ParseConfig(Yaml(transform), (dir_ / "sluice.yaml").string());
  }
  fs::path dir_;
};

TEST_F(LuaConfigTest, ReadsTheScriptRelativeToTheConfigFile) {
  std::ofstream(dir_ / "rules/u.lua") << "function transform(op, row, old) return row end\n";
  auto c = Parse("{lua: rules/u.lua}");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& lua = c->pipelines[0].tables[0].lua;
  ASSERT_TRUE(lua);
  EXPECT_EQ(lua->name, "rules/u.lua");
  EXPECT_NE(lua->source.find("function transform"), std::string::npos);
}

TEST_F(LuaConfigTest, MissingFileIsAnErrorAtFileLineKey) {
  auto c = Parse("{lua: rules/none.lua}");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sluice.yaml:11:"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("pipelines[0].tables[0].transform.lua: cannot read Lua script"),
            std::string::npos)
      << c.status().message();
}

TEST_F(LuaConfigTest, ScriptThatDoesNotCompileIsAnErrorNamingItsLine) {
  std::ofstream(dir_ / "rules/bad.lua") << "function transform(op, row, old)\n  return {\nend\n";
  auto c = Parse("{lua: rules/bad.lua}");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("pipelines[0].tables[0].transform.lua: rules/bad.lua:3:"), std::string::npos)
      << c.status().message();

  std::ofstream(dir_ / "rules/nofn.lua") << "x = 1\n";
  c = Parse("{lua: rules/nofn.lua}");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("defines no function transform"), std::string::npos) << c.status().message();
}

TEST_F(LuaConfigTest, WrongShapeIsAnError) {
  auto c = Parse("rules/u.lua");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("pipelines[0].tables[0].transform: expected a map {lua: FILE}"),
            std::string::npos)
      << c.status().message();
  c = Parse("{python: x.py}");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("python"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace sluice::pipeline
