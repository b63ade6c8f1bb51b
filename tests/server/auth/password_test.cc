#include "server/auth/password.h"

#include <gtest/gtest.h>

#include "server/crypto.h"

namespace sluice::server {
namespace {

TEST(PasswordTest, HashVerifiesOnlyItsPassword) {
  Result<std::string> h = HashPassword("correct horse");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$")) << *h;
  EXPECT_TRUE(LooksLikePasswordHash(*h));
  EXPECT_EQ(h->find("correct horse"), std::string::npos);
  EXPECT_TRUE(VerifyPassword(*h, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*h, "correct horsE"));
  EXPECT_FALSE(VerifyPassword(*h, ""));
}

TEST(PasswordTest, SaltedSoTwoHashesOfOnePasswordDiffer) {
  Result<std::string> a = HashPassword("pw");
  Result<std::string> b = HashPassword("pw");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(VerifyPassword(*b, "pw"));
}

TEST(PasswordTest, MalformedHashNeverVerifies) {
  EXPECT_FALSE(VerifyPassword("", ""));
  EXPECT_FALSE(VerifyPassword("pw", "pw"));  // a password written where the hash belongs
  EXPECT_FALSE(VerifyPassword("$argon2id$v=19$garbage", "pw"));
  EXPECT_FALSE(LooksLikePasswordHash("$2y$10$bcrypt"));
}

TEST(CryptoTest, SecretEqualsAndHelpers) {
  EXPECT_TRUE(SecretEquals("abc", "abc"));
  EXPECT_FALSE(SecretEquals("abc", "abd"));
  EXPECT_FALSE(SecretEquals("abc", "abcd"));
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(RandomHex(32).size(), 64u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
  EXPECT_EQ(Base64Decode("YWxpY2U6cHc="), std::optional<std::string>("alice:pw"));
  EXPECT_FALSE(Base64Decode("!!!").has_value());
}

}  // namespace
}  // namespace sluice::server
