#include "harness/test_certificate.h"

#include "harness/process.h"

namespace sluice::testing {

Result<TestCertificate> MakeTestCertificate(const std::string& dir, const std::string& name) {
  TestCertificate c{dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  RETURN_IF_ERROR(RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", c.key, "-out",
                              c.cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                             dir + "/" + name + ".log"));
  return c;
}

}  // namespace sluice::testing
