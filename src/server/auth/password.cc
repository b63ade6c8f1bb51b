#include "server/auth/password.h"

#include <sodium.h>

#include <algorithm>
#include <array>

#include "server/crypto.h"

namespace sluice::server {

Result<std::string> HashPassword(std::string_view password) {
  RETURN_IF_ERROR(CryptoInit());
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::Error(StatusCode::kIoError, "password hashing failed: out of memory");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  if (!CryptoInit().ok() || !LooksLikePasswordHash(hash)) return false;
  // libsodium wants a NUL-terminated string.
  std::array<char, crypto_pwhash_STRBYTES> h{};
  std::copy(hash.begin(), hash.end(), h.begin());
  return crypto_pwhash_str_verify(h.data(), password.data(), password.size()) == 0;
}

bool LooksLikePasswordHash(std::string_view text) {
  return text.starts_with("$argon2id$v=19$") && text.size() < crypto_pwhash_STRBYTES;
}

}  // namespace sluice::server
