#pragma once
// Password hashes for `auth: users` (design §11): argon2id through
// libsodium's crypto_pwhash_str. Thread-safe.

#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::server {

// An argon2id hash of `password` in the PHC string format
// ("$argon2id$v=19$m=65536,t=2,p=1$salt$hash"): a random salt per call,
// libsodium's "interactive" limits (64 MiB, about 0.1 s), so that a stolen
// configuration costs an attacker that much per guess.
[[nodiscard]] Result<std::string> HashPassword(std::string_view password);

// Whether `password` matches `hash` (a HashPassword result). libsodium
// compares in constant time; a malformed hash is false.
bool VerifyPassword(std::string_view hash, std::string_view password);

// Whether `text` looks like a hash HashPassword makes.
bool LooksLikePasswordHash(std::string_view text);

}  // namespace sluice::server
