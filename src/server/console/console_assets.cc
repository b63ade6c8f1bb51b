#include "server/console/console_assets.h"

#include <string>

#include "server/console/console_bundle.h"

namespace sluice::server {
namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const ConsoleFile* Find(std::string_view path) {
  for (const ConsoleFile& f : ConsoleFiles()) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

}  // namespace

std::optional<HttpResponse> ServeConsole(std::string_view path) {
  const bool page = path == "/" || path == "/login" || path == "/index.html";
  if (!page && !path.starts_with("/assets/")) return std::nullopt;
  const ConsoleFile* file = Find(page ? std::string_view("/index.html") : path);
  if (file == nullptr) return std::nullopt;
  HttpResponse r{200, std::string(file->content_type), std::string(file->bytes), {}};
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Cache-Control", "no-cache");
  if (page) {
    r.headers.emplace_back("Content-Security-Policy", kCsp);
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return r;
}

}  // namespace sluice::server
