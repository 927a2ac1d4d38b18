// TokenAuth: the token file format and the bearer check (static tokens; JWTs are covered by
// the integration test with a real signing key).
#include <gtest/gtest.h>

#include <fstream>

#include "services/metastore/auth.h"
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

}  // namespace
}  // namespace sc::metastore
