// libFuzzer target for common/core/jwt: an input with a NUL byte is "<JWKS or PEM>\0<token>";
// without one, the whole input is a token checked against a fixed EC key set. Either way every
// input must be parsed or refused cleanly, and no forged token may verify.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/core/jwt.h"

namespace {

constexpr std::string_view kJwks =
    R"({"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"Q2cAKlLL_DgMCqAiFfQJQbPIyVpUJIGHU9NGEwTvpxE","y":"NnnclswSRzwXhG3SrMMYfghenUihsWQ4YO-ZIJAPgrE"}]})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  sc::JwtVerifyOptions opts{.issuer = "iss", .audience = "aud", .leeway_s = 30};
  size_t nul = in.find('\0');
  if (nul != std::string_view::npos) {
    auto keys = sc::JwkSet::parse_any(in.substr(0, nul));
    if (keys) (void)sc::jwt_verify(in.substr(nul + 1), *keys, 1'700'000'000, opts);
    return 0;
  }
  static const auto fixed = sc::JwkSet::parse_jwks(kJwks);
  if (!fixed) std::abort();
  // The fixed key's private half is not in this file: nothing the fuzzer writes can verify.
  if (sc::jwt_verify(in, *fixed, 1'700'000'000, opts)) std::abort();
  return 0;
}
