#pragma once
// The console's files as the build embeds them: web/build.mjs bundles web/
// with esbuild and writes a .cc (in the build directory) that defines
// ConsoleFiles(). Not for use outside console_assets.cc.

#include <span>
#include <string_view>

namespace sluice::server {

struct ConsoleFile {
  std::string_view path;          // "/index.html", "/assets/app.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view bytes;
};

// Every embedded file; static storage, thread-safe.
std::span<const ConsoleFile> ConsoleFiles();

}  // namespace sluice::server
