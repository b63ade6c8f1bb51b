#pragma once
// The cryptographic primitives of access control and audit (design §11),
// all from libsodium (Debian's libsodium-dev, a maintained library): SHA-256
// for the audit chain, a CSPRNG for session ids, constant-time comparison of
// secrets. Thread-safe: libsodium is initialised once and is reentrant.

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::server {

// Initialises libsodium; idempotent. An error when it cannot (no entropy source).
[[nodiscard]] Status CryptoInit();

// Equality of two secrets in time independent of where they differ (and of
// their lengths: both are hashed first).
bool SecretEquals(std::string_view a, std::string_view b);

// `bytes` random bytes from libsodium's CSPRNG, hex-encoded (2 * bytes chars).
std::string RandomHex(size_t bytes);

// Standard base64 (RFC 4648, with padding) decoded; nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view text);

// SHA-256 of `data`, lower-case hex (64 chars).
std::string Sha256Hex(std::string_view data);

}  // namespace sluice::server
