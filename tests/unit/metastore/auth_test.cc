// TokenAuth: the token file format and the bearer check (static tokens; JWTs are covered by
// the integration test with a real signing key).
#include <gtest/gtest.h>

#include <fstream>

#include "services/metastore/auth.h"
#include "tests/support/jwt_test_keys.h"
#include "tests/support/support.h"

namespace sc::metastore {
namespace {

TEST(TokenAuth, ReadsTheFileAndChecksBearerTokens) {
  test::TempDir dir;
  std::ofstream(dir.file("tokens")) << "# writers\n\n  alpha-token  \r\nbeta\n";
  auto auth = TokenAuth::from_file(dir.file("tokens"));
  ASSERT_TRUE(auth) << auth.error().message;
  EXPECT_TRUE(auth->configured());
  EXPECT_TRUE(auth->allows("Bearer alpha-token", 0));
  EXPECT_TRUE(auth->allows("bearer beta", 0));
  EXPECT_TRUE(auth->allows("BEARER beta", 0));  // the scheme is case-insensitive (RFC 9110)
  EXPECT_TRUE(auth->allows("BeArEr alpha-token", 0));
  EXPECT_FALSE(auth->allows("Bearerbeta", 0));
  EXPECT_FALSE(auth->allows("Bearer", 0));
  EXPECT_FALSE(auth->allows("Bearer alpha", 0));
  EXPECT_FALSE(auth->allows("Bearer alpha-token-x", 0));
  EXPECT_FALSE(auth->allows("Basic alpha-token", 0));
  EXPECT_FALSE(auth->allows("alpha-token", 0));
  EXPECT_FALSE(auth->allows("", 0));
  EXPECT_FALSE(auth->allows("Bearer # writers", 0));
  EXPECT_FALSE(auth->allows("Bearer a.b.c", 0));  // looks like a JWT, but no keys configured
}

TEST(TokenAuth, OpenWithoutTokensAndRefusesBadFiles) {
  TokenAuth open;
  EXPECT_FALSE(open.configured());
  EXPECT_TRUE(open.allows("", 0));
  test::TempDir dir;
  EXPECT_FALSE(TokenAuth::from_file(dir.file("missing")));
  std::ofstream(dir.file("empty")) << "# nothing\n\n";
  EXPECT_FALSE(TokenAuth::from_file(dir.file("empty")));
  TokenAuth jwt_only;
  EXPECT_FALSE(jwt_only.set_jwt_keys("not a key", {}));
  EXPECT_FALSE(jwt_only.configured());
}

// A JWT without exp never expires: refused unless require_exp is switched off.
TEST(TokenAuth, JwtWithoutExpIsRefusedUnlessAllowed) {
  jwt_test::Key key(jwt_test::Key::Type::ec, "k1");
  std::string no_exp = key.sign(R"({"iss":"me"})");
  std::string with_exp = key.sign(R"({"iss":"me","exp":2000})");
  TokenAuth strict;
  ASSERT_TRUE(strict.set_jwt_keys(key.pem(), {}));
  EXPECT_FALSE(strict.allows("Bearer " + no_exp, 1000));
  EXPECT_TRUE(strict.allows("Bearer " + with_exp, 1000));
  EXPECT_FALSE(strict.allows("Bearer " + with_exp, 3000));  // expired
  TokenAuth lax;
  ASSERT_TRUE(lax.set_jwt_keys(key.pem(), {}, false));
  EXPECT_TRUE(lax.allows("bearer " + no_exp, 1000));
  EXPECT_FALSE(lax.allows("Bearer " + with_exp, 3000));
}

}  // namespace
}  // namespace sc::metastore
