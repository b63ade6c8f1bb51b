#pragma once
// The web console (design §11), served wherever sluice serves HTTP: `sluice
// run`'s API (server/http_api.cc) and the cluster manager's
// (cluster/manager_api.cc) call ServeConsole for GET and HEAD before their 404.
//
//   /, /login       index.html (the single-page app; it routes on the URL's #fragment)
//   /assets/NAME    the bundle's scripts, styles and icons
//
// The files are built from web/ by esbuild at build time and embedded into
// the binary (console_bundle.h): nothing is fetched at run time, no CDN.
// Every answer carries nosniff and Cache-Control: no-cache (the names carry
// no hash, so a browser must revalidate after an upgrade); the HTML also
// carries a Content-Security-Policy that allows scripts, styles and
// connections to this origin only (no inline script), and X-Frame-Options
// DENY against clickjacking.

#include <optional>
#include <string_view>

#include "server/http_server.h"

namespace sluice::server {

// The console's answer for `path` (the request target without its query),
// or nullopt when the path is not the console's (the caller answers 404).
std::optional<HttpResponse> ServeConsole(std::string_view path);

}  // namespace sluice::server
