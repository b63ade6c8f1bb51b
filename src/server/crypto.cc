#include "server/crypto.h"

#include <sodium.h>

namespace sluice::server {

Status CryptoInit() {
  static const int rc = sodium_init();  // 0 the first time, 1 when already done, -1 on failure
  if (rc < 0) return Status::Error(StatusCode::kIoError, "libsodium could not be initialised (no entropy source?)");
  return Status::Ok();
}

bool SecretEquals(std::string_view a, std::string_view b) {
  if (!CryptoInit().ok()) return false;
  unsigned char ha[crypto_hash_sha256_BYTES], hb[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(ha, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  crypto_hash_sha256(hb, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  return sodium_memcmp(ha, hb, sizeof ha) == 0;
}

namespace {
std::string Hex(const unsigned char* data, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}
}  // namespace

std::string RandomHex(size_t bytes) {
  (void)CryptoInit();
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (!CryptoInit().ok()) return std::nullopt;
  std::string out(text.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string Sha256Hex(std::string_view data) {
  (void)CryptoInit();
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return Hex(h, sizeof h);
}

}  // namespace sluice::server
