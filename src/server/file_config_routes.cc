#include "server/file_config_routes.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "pipeline/config.h"
#include "server/config_secrets.h"
#include "server/crypto.h"

namespace sluice::server {
namespace {

using Json = nlohmann::ordered_json;

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(StatusCode::kIoError, "config file {}: cannot be opened", path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

HttpResponse Json200(const Json& j) { return {200, "application/json", j.dump(), {}}; }

}  // namespace

HttpApi::ExtraRoutes FileConfigRoutes(std::string config_path) {
  return [path = std::move(config_path)](std::string_view method, const std::vector<std::string>& s,
                                         std::string_view body) -> std::optional<HttpResponse> {
    if (s.empty() || s[0] != "api" || s.size() < 2 || s[1] != "config") return std::nullopt;
    const bool get = method == "GET" || method == "HEAD";
    if (s.size() == 2) {
      if (!get) {
        HttpResponse r = JsonError(405, fmt::format("method {} not allowed on /api/config: `sluice run` reads its "
                                                    "file; edit it and send SIGHUP to reload",
                                                    method));
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
      }
      Result<std::string> text = ReadText(path);
      if (!text.ok()) return JsonError(500, text.status().message());
      Json j;
      j["path"] = path;
      j["revision"] = Sha256Hex(*text);
      j["yaml"] = MaskConfigSecrets(*text);
      return Json200(j);
    }
    if (s.size() == 3 && s[2] == "validate") {
      if (method != "POST") {
        HttpResponse r = JsonError(405, fmt::format("method {} not allowed on /api/config/validate", method));
        r.headers.emplace_back("Allow", "POST");
        return r;
      }
      Result<std::string> saved = ReadText(path);
      if (!saved.ok()) return JsonError(500, saved.status().message());
      Result<std::string> restored = RestoreConfigSecrets(body, *saved, path);
      if (!restored.ok()) return JsonError(400, restored.status().message());
      Result<pipeline::Config> parsed = pipeline::ParseConfig(*restored, path);
      if (!parsed.ok()) return JsonError(400, RedactConfigSecrets(parsed.status().message(), *restored));
      Json j;
      j["valid"] = true;
      j["pipelines"] = parsed->pipelines.size();
      return Json200(j);
    }
    return std::nullopt;
  };
}

}  // namespace sluice::server
