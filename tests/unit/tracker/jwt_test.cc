// common/core/jwt: RS256 and ES256 tokens against JWK sets and PEM keys, and every refusal:
// alg none, HMAC with a public key, unknown kid, bad signature, exp/nbf with leeway, issuer,
// audience, malformed input.
#include "common/core/jwt.h"

#include <gtest/gtest.h>

#include "common/core/sha.h"
#include "tests/unit/tracker/jwt_test_util.h"

namespace sc::test {
namespace {

constexpr int64_t kNow = 1'700'000'000;

std::string claims(const std::string& extra = "") {
  return R"({"iss":"https://quay.example","aud":["tracker","other"],"exp":)" + std::to_string(kNow + 300) +
         R"(,"nbf":)" + std::to_string(kNow - 10) + R"(,"infohash":"00ff")" + extra + "}";
}

JwtVerifyOptions opts() { return {.issuer = "https://quay.example", .audience = "tracker", .leeway_s = 30}; }

struct JwtTest : ::testing::Test {
  static void SetUpTestSuite() {
    rsa = new TestKey(TestKey::Type::rsa, "r1");
    ec = new TestKey(TestKey::Type::ec, "e1");
    other = new TestKey(TestKey::Type::rsa, "r1");  // same kid, different key
  }
  static void TearDownTestSuite() {
    delete rsa;
    delete ec;
    delete other;
  }
  static JwkSet set() { return *JwkSet::parse_jwks(jwks_of({rsa, ec})); }
  static JwtErrc err(const std::string& token, const JwtVerifyOptions& o = opts(), int64_t now = kNow) {
    auto r = jwt_verify(token, set(), now, o);
    EXPECT_FALSE(r);
    return r ? JwtErrc::malformed : r.error().code;
  }
  static inline TestKey* rsa = nullptr;
  static inline TestKey* ec = nullptr;
  static inline TestKey* other = nullptr;
};

TEST_F(JwtTest, Base64Url) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    auto d = base64url_decode(base64url_encode(s));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("a+b/"));
  EXPECT_FALSE(base64url_decode("a"));
}

TEST_F(JwtTest, RS256AndES256Verify) {
  for (const TestKey* k : {rsa, ec}) {
    auto r = jwt_verify(k->sign(claims()), set(), kNow, opts());
    ASSERT_TRUE(r) << k->alg() << ": " << r.error().message;
    EXPECT_EQ(r->alg, k->alg());
    EXPECT_EQ(r->iss, "https://quay.example");
    EXPECT_EQ(r->aud.size(), 2u);
    EXPECT_EQ(r->exp, kNow + 300);
    EXPECT_EQ(r->string_claim("infohash"), "00ff");
  }
}

TEST_F(JwtTest, PemKeyAcceptsAnyKid) {
  auto pem = JwkSet::parse_any(rsa->pem());
  ASSERT_TRUE(pem) << pem.error().message;
  EXPECT_TRUE(jwt_verify(rsa->sign(claims()), *pem, kNow, opts()));
  auto ecpem = JwkSet::parse_pem(ec->pem());
  ASSERT_TRUE(ecpem);
  EXPECT_TRUE(jwt_verify(ec->sign(claims()), *ecpem, kNow, opts()));
  EXPECT_FALSE(JwkSet::parse_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
}

TEST_F(JwtTest, AlgorithmAttacksAreRefused) {
  std::string body = base64url_encode(claims());
  EXPECT_EQ(err(base64url_encode(R"({"alg":"none"})") + "." + body + "."), JwtErrc::alg_none);
  EXPECT_EQ(err(base64url_encode(R"({"alg":"NoNe"})") + "." + body + "."), JwtErrc::alg_none);
  // HS256 "signed" with the RSA public key as the secret: the key-confusion attack.
  std::string input = base64url_encode(R"({"alg":"HS256","kid":"r1"})") + "." + body;
  auto mac = hmac_sha256(rsa->pem(), input);
  std::string token = input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac.data()), mac.size()));
  EXPECT_EQ(err(token), JwtErrc::alg_not_allowed);
  EXPECT_EQ(err(rsa->sign(claims(), "PS512")), JwtErrc::alg_unsupported);
  // An RSA-signed token relabelled ES256: no EC key carries its kid.
  EXPECT_EQ(err(rsa->sign(claims(), "ES256")), JwtErrc::unknown_kid);
}

TEST_F(JwtTest, KeysAndSignatures) {
  TestKey stranger(TestKey::Type::ec, "e9");
  EXPECT_EQ(err(stranger.sign(claims())), JwtErrc::unknown_kid);
  EXPECT_EQ(err(other->sign(claims())), JwtErrc::bad_signature);  // right kid, wrong key
  std::string t = rsa->sign(claims());
  t[t.size() - 5] = t[t.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(err(t), JwtErrc::bad_signature);
  // Tampered claims break the signature too.
  std::string good = rsa->sign(claims());
  size_t d1 = good.find('.'), d2 = good.rfind('.');
  std::string forged = good.substr(0, d1 + 1) + base64url_encode(claims(R"(,"admin":"yes")")) + good.substr(d2);
  EXPECT_EQ(err(forged), JwtErrc::bad_signature);
}

TEST_F(JwtTest, TimeClaimsWithLeeway) {
  std::string t = rsa->sign(claims());
  EXPECT_TRUE(jwt_verify(t, set(), kNow + 300 + 29, opts()));
  EXPECT_EQ(err(t, opts(), kNow + 300 + 30), JwtErrc::expired);
  EXPECT_TRUE(jwt_verify(t, set(), kNow - 10 - 30, opts()));
  EXPECT_EQ(err(t, opts(), kNow - 10 - 31), JwtErrc::not_yet_valid);
}

TEST_F(JwtTest, IssuerAndAudience) {
  auto o = opts();
  o.issuer = "https://elsewhere";
  EXPECT_EQ(err(rsa->sign(claims()), o), JwtErrc::wrong_issuer);
  o = opts();
  o.audience = "nobody";
  EXPECT_EQ(err(rsa->sign(claims()), o), JwtErrc::wrong_audience);
  std::string single = R"({"iss":"https://quay.example","aud":"tracker"})";
  EXPECT_TRUE(jwt_verify(rsa->sign(single), set(), kNow, opts()));
}

TEST_F(JwtTest, Malformed) {
  EXPECT_EQ(err(""), JwtErrc::malformed);
  EXPECT_EQ(err("a.b"), JwtErrc::malformed);
  EXPECT_EQ(err("a.b.c.d"), JwtErrc::malformed);
  EXPECT_EQ(err("!!.b.c"), JwtErrc::malformed);
  EXPECT_EQ(err(base64url_encode("not json") + ".e30.sig"), JwtErrc::malformed);
  EXPECT_EQ(err(rsa->sign(R"({"exp":"tomorrow"})")), JwtErrc::malformed);
  EXPECT_EQ(err(rsa->sign(R"([1,2])")), JwtErrc::malformed);
  EXPECT_EQ(err(std::string(20000, 'a')), JwtErrc::malformed);
}

TEST(JwkSet, Parsing) {
  EXPECT_FALSE(JwkSet::parse_jwks("{}"));
  EXPECT_FALSE(JwkSet::parse_jwks("not json"));
  EXPECT_FALSE(JwkSet::parse_jwks(R"({"keys":[{"kty":"oct","k":"abc"}]})")) << "no usable key at all";
  TestKey good(TestKey::Type::rsa, "g");
  auto s = JwkSet::parse_jwks(R"({"keys":[{"kty":"oct","k":"abc"},{"kty":"EC","crv":"P-521","x":"AA","y":"AA"},)" +
                              good.jwk() + "]}");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->size(), 1u) << "unsupported key types are skipped";
  EXPECT_FALSE(JwkSet::parse_jwks(R"({"keys":[{"kty":"RSA","kid":"x","n":"!!","e":"AQAB"}]})"));
}

}  // namespace
}  // namespace sc::test
