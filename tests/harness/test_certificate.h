#pragma once
// A self-signed certificate for 127.0.0.1 (openssl req), for tests of
// sluice's HTTPS (`http_tls:`): the certificate is its own CA.

#include <string>

#include "core/status.h"

namespace sluice::testing {

struct TestCertificate {
  std::string cert;  // PEM; also the CA file a client verifies with
  std::string key;
};

// Writes `dir`/NAME.pem and `dir`/NAME.key (the openssl output in NAME.log).
Result<TestCertificate> MakeTestCertificate(const std::string& dir, const std::string& name = "api");

}  // namespace sluice::testing
