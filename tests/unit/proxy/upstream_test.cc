// services/proxy upstream: token endpoint answers (the bearer dance itself runs against a real
// HTTP server in tests/integration/proxy/bad_input_test.cc).
#include "services/proxy/upstream.h"

#include <gtest/gtest.h>

namespace sc {
namespace {

TEST(TokenResponse, Forms) {
  auto t = parse_token_response(R"({"token":"abc","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->first, "abc");
  EXPECT_EQ(t->second, 300'000);
  t = parse_token_response(R"({"access_token":"xyz"})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->first, "xyz");
  EXPECT_EQ(t->second, 60'000) << "the spec's default lifetime";
  t = parse_token_response(R"({"token":"","access_token":"fallback","expires_in":-5})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->first, "fallback");
  EXPECT_EQ(t->second, 60'000);
  EXPECT_FALSE(parse_token_response(R"({"expires_in":300})"));
  EXPECT_FALSE(parse_token_response("not json"));
  EXPECT_FALSE(parse_token_response(R"(["token"])"));
  EXPECT_FALSE(parse_token_response(std::string(100 << 10, ' ')));
}

}  // namespace
}  // namespace sc
