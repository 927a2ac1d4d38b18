// common/core/jwt against tokens signed in the test with OpenSSL-generated keys: good RS256 and
// ES256 tokens (JWKS and PEM), time claims with leeway, issuer/audience, kid selection, each
// forgery (alg none, HS256 with the public key, bad or foreign signatures, malformed parts) with
// its own error, JWKS parsing limits, and JwtVerifier's key swap under concurrent verification.
#include "common/core/jwt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/support/jwt_test_keys.h"

namespace sc::jwt_test {
namespace {

constexpr int64_t kNow = 1'700'000'000;

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new Key(Key::Type::rsa, "rsa-1");
    rsa2_ = new Key(Key::Type::rsa, "rsa-2");
    ec_ = new Key(Key::Type::ec, "ec-1");
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete rsa2_;
    delete ec_;
  }
  static JwkSet jwks(std::initializer_list<const Key*> keys) {
    auto s = JwkSet::parse_jwks(jwks_of(keys));
    EXPECT_TRUE(s) << s.error().message;
    return s ? *s : JwkSet{};
  }
  static JwtVerifyOptions opts() { return {.issuer = "https://quay.example", .audience = "tracker", .leeway_s = 30}; }
  static std::string claims(const std::string& extra = "") {
    return R"({"iss":"https://quay.example","aud":["registry","tracker"],"exp":)" + std::to_string(kNow + 600) +
           R"(,"nbf":)" + std::to_string(kNow - 60) + R"(,"infohash":"00112233445566778899aabbccddeeff00112233")" +
           extra + "}";
  }
  // The refusal for `token` against rsa+rsa2+ec, or a failure if it verified.
  static JwtError refusal(const std::string& token, int64_t now = kNow, JwtVerifyOptions o = opts()) {
    auto r = jwt_verify(token, jwks({rsa_, rsa2_, ec_}), now, o);
    EXPECT_FALSE(r) << "token unexpectedly verified";
    return r ? JwtError{JwtErrc::malformed, "<verified>"} : r.error();
  }

  static Key* rsa_;
  static Key* rsa2_;
  static Key* ec_;
};
Key* JwtTest::rsa_ = nullptr;
Key* JwtTest::rsa2_ = nullptr;
Key* JwtTest::ec_ = nullptr;

TEST_F(JwtTest, GoodRs256AndEs256TokensFromAJwks) {
  auto set = jwks({rsa_, rsa2_, ec_});
  EXPECT_EQ(set.size(), 3u);
  for (const Key* k : {rsa_, rsa2_, ec_}) {
    auto r = jwt_verify(k->sign(claims()), set, kNow, opts());
    ASSERT_TRUE(r) << k->kid() << ": " << r.error().message;
    EXPECT_EQ(r->alg, k->alg());
    EXPECT_EQ(r->kid, k->kid());
    EXPECT_EQ(r->iss, "https://quay.example");
    EXPECT_EQ(r->aud, (std::vector<std::string>{"registry", "tracker"}));
    EXPECT_EQ(r->exp, kNow + 600);
    EXPECT_EQ(r->nbf, kNow - 60);
    EXPECT_EQ(r->string_claim("infohash"), "00112233445566778899aabbccddeeff00112233");
    EXPECT_EQ(r->string_claim("nope"), "");
    EXPECT_EQ(r->payload.string_or("infohash", ""), "00112233445566778899aabbccddeeff00112233");
    EXPECT_EQ(r->payload.get("exp").as_int(), kNow + 600);
  }
}

TEST_F(JwtTest, PemKeysAcceptAnyKid) {
  for (const Key* k : {rsa_, ec_}) {
    auto set = JwkSet::parse_pem(k->pem());
    ASSERT_TRUE(set) << set.error().message;
    auto any = JwkSet::parse_any(k->pem());
    ASSERT_TRUE(any);
    EXPECT_TRUE(jwt_verify(k->sign(claims()), *set, kNow, opts()));
    Key no_kid(k == rsa_ ? Key::Type::rsa : Key::Type::ec, "");
    EXPECT_EQ(jwt_verify(no_kid.sign(claims()), *set, kNow, opts()).error().code, JwtErrc::bad_signature)
        << "another key with no kid is tried against the PEM key and fails on its signature";
  }
  EXPECT_FALSE(JwkSet::parse_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
  EXPECT_FALSE(JwkSet::parse_pem("hello"));
}

TEST_F(JwtTest, ExpiryAndNotBeforeWithLeeway) {
  std::string t = rsa_->sign(claims());
  auto set = jwks({rsa_});
  EXPECT_TRUE(jwt_verify(t, set, kNow + 600 + 29, opts())) << "within the leeway after exp";
  auto e = refusal(t, kNow + 600 + 30);
  EXPECT_EQ(e.code, JwtErrc::expired);
  EXPECT_EQ(e.message, "token expired");
  EXPECT_TRUE(jwt_verify(t, set, kNow - 60 - 30, opts())) << "within the leeway before nbf";
  e = refusal(t, kNow - 60 - 31);
  EXPECT_EQ(e.code, JwtErrc::not_yet_valid);
  EXPECT_EQ(e.message, "token not yet valid");
  auto strict = opts();
  strict.leeway_s = 0;
  EXPECT_EQ(refusal(t, kNow + 600, strict).code, JwtErrc::expired);
  EXPECT_TRUE(jwt_verify(rsa_->sign(R"({"iss":"https://quay.example","aud":"tracker"})"), set, kNow, opts()))
      << "exp and nbf are optional";
}

TEST_F(JwtTest, IssuerAndAudience) {
  EXPECT_EQ(refusal(rsa_->sign(claims()), kNow, {.issuer = "https://other", .audience = "tracker"}).code,
            JwtErrc::wrong_issuer);
  EXPECT_EQ(refusal(rsa_->sign(claims()), kNow, {.issuer = "https://quay.example", .audience = "metastore"}).code,
            JwtErrc::wrong_audience);
  auto set = jwks({rsa_});
  EXPECT_TRUE(jwt_verify(rsa_->sign(R"({"iss":"https://quay.example","aud":"tracker"})"), set, kNow, opts()))
      << "a string aud";
  EXPECT_EQ(refusal(rsa_->sign(R"({"iss":"https://quay.example"})")).code, JwtErrc::wrong_audience) << "no aud";
  EXPECT_TRUE(jwt_verify(rsa_->sign("{}"), set, kNow, {})) << "nothing expected, nothing checked";
}

TEST_F(JwtTest, KeySelectionByKid) {
  Key stranger(Key::Type::rsa, "stranger");
  auto e = refusal(stranger.sign(claims()));
  EXPECT_EQ(e.code, JwtErrc::unknown_kid);
  EXPECT_EQ(e.message, "unknown key id 'stranger' for RS256");
  // A kid naming an EC key on an RS256 token finds no RSA key of that name.
  e = refusal(rsa_->sign_raw(R"({"alg":"RS256","kid":"ec-1"})", claims()));
  EXPECT_EQ(e.code, JwtErrc::unknown_kid);
  // Without a kid every key of the algorithm is tried.
  EXPECT_TRUE(jwt_verify(rsa2_->sign_raw(R"({"alg":"RS256"})", claims()), jwks({rsa_, rsa2_}), kNow, opts()));
  // A JWK restricted to another algorithm is not a candidate.
  auto restricted = JwkSet::parse_jwks(R"({"keys":[)" + rsa_->jwk(R"("alg":"RS512",)") + "]}");
  EXPECT_FALSE(restricted) << "an RS512-only key is skipped, leaving no usable key";
}

TEST_F(JwtTest, BadSignatures) {
  std::string t = rsa_->sign(claims());
  std::string flipped = t;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  auto e = refusal(flipped);
  EXPECT_EQ(e.code, JwtErrc::bad_signature);
  EXPECT_EQ(e.message, "bad token signature");
  // Claims changed after signing.
  size_t d1 = t.find('.'), d2 = t.rfind('.');
  std::string tampered = t.substr(0, d1 + 1) + base64url_encode(claims(R"(,"admin":true)")) + t.substr(d2);
  EXPECT_EQ(refusal(tampered).code, JwtErrc::bad_signature);
  // Signed by another key that claims rsa-1's kid.
  Key impostor(Key::Type::rsa, "rsa-1");
  EXPECT_EQ(refusal(impostor.sign(claims())).code, JwtErrc::bad_signature);
  Key ec_impostor(Key::Type::ec, "ec-1");
  EXPECT_EQ(refusal(ec_impostor.sign(claims())).code, JwtErrc::bad_signature);
  // ES256 signatures are exactly r||s (64 bytes); a DER signature is refused.
  std::string et = ec_->sign(claims());
  std::string input = et.substr(0, et.rfind('.'));
  EXPECT_EQ(refusal(input + "." + base64url_encode(std::string(63, 'x'))).code, JwtErrc::bad_signature);
  EXPECT_EQ(refusal(input + ".").code, JwtErrc::bad_signature);
}

TEST_F(JwtTest, AlgorithmAttacks) {
  std::string payload = base64url_encode(claims());
  auto e = refusal(base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".");
  EXPECT_EQ(e.code, JwtErrc::alg_none);
  EXPECT_EQ(e.message, "unsigned token (alg none) refused");
  EXPECT_EQ(refusal(base64url_encode(R"({"alg":"NoNe"})") + "." + payload + ".").code, JwtErrc::alg_none);
  EXPECT_EQ(refusal(base64url_encode(R"({"typ":"JWT"})") + "." + payload + ".").code, JwtErrc::alg_none);
  // The confusion attack: HMAC keyed with the verifier's public key, which an attacker knows.
  for (const std::string& secret : {rsa_->pem(), rsa_->jwk()}) {
    e = refusal(hs256(R"({"alg":"HS256","kid":"rsa-1"})", claims(), secret));
    EXPECT_EQ(e.code, JwtErrc::alg_not_allowed);
    EXPECT_EQ(e.message, "HMAC token algorithm HS256 refused (RS256 or ES256 only)");
  }
  auto pem_set = JwkSet::parse_pem(rsa_->pem());
  ASSERT_TRUE(pem_set);
  EXPECT_EQ(jwt_verify(hs256(R"({"alg":"HS256"})", claims(), rsa_->pem()), *pem_set, kNow, opts()).error().code,
            JwtErrc::alg_not_allowed);
  e = refusal(rsa_->sign_raw(R"({"alg":"RS512","kid":"rsa-1"})", claims()));
  EXPECT_EQ(e.code, JwtErrc::alg_unsupported);
  EXPECT_EQ(e.message, "unsupported token algorithm RS512");
  EXPECT_EQ(refusal(rsa_->sign_raw(R"({"alg":"PS256","kid":"rsa-1"})", claims())).code, JwtErrc::alg_unsupported);
  // An RS256 header over an EC signature (and the reverse) finds no key of that type/kid.
  EXPECT_EQ(refusal(ec_->sign_raw(R"({"alg":"RS256","kid":"ec-1"})", claims())).code, JwtErrc::unknown_kid);
  EXPECT_EQ(refusal(ec_->sign_raw(R"({"alg":"RS256","kid":"rsa-1"})", claims())).code, JwtErrc::bad_signature);
  EXPECT_EQ(refusal(rsa_->sign_raw(R"({"alg":"RS256","kid":"rsa-1","crit":["exp"]})", claims())).code,
            JwtErrc::malformed);
}

TEST_F(JwtTest, MalformedTokens) {
  std::string good = rsa_->sign(claims());
  size_t d1 = good.find('.'), d2 = good.rfind('.');
  std::string h = good.substr(0, d1), p = good.substr(d1 + 1, d2 - d1 - 1), s = good.substr(d2 + 1);
  struct Case {
    std::string token, message;
  };
  std::vector<Case> cases = {
      {"", "missing token"},
      {"abc", "token is not three dot-separated parts"},
      {h + "." + p, "token is not three dot-separated parts"},
      {h + "." + p + "." + s + ".x", "token is not three dot-separated parts"},
      {"!!." + p + "." + s, "token header is not base64url"},
      {h + ".a+b." + s, "token claims are not base64url"},
      {h + "." + p + ".a/b", "token signature is not base64url"},
      {base64url_encode("not json") + "." + p + "." + s, "token header is not a JSON object"},
      {base64url_encode("[1]") + "." + p + "." + s, "token header is not a JSON object"},
      {base64url_encode(R"({"alg":"RS256","alg":"none"})") + "." + p + "." + s, "token header is not a JSON object"},
      {base64url_encode(R"({"alg":256})") + "." + p + "." + s, "token header alg/kid is not a string"},
      {base64url_encode(R"({"alg":"RS256","kid":7})") + "." + p + "." + s, "token header alg/kid is not a string"},
      {rsa_->sign("[1,2]"), "token claims are not a JSON object"},
      {rsa_->sign("{"), "token claims are not a JSON object"},
      {rsa_->sign(R"({"exp":"tomorrow"})"), "token claim iss/aud/exp/nbf/iat of the wrong type"},
      {rsa_->sign(R"({"aud":[1]})"), "token claim iss/aud/exp/nbf/iat of the wrong type"},
      {rsa_->sign(R"({"iss":{}})"), "token claim iss/aud/exp/nbf/iat of the wrong type"},
      {rsa_->sign(R"({"nbf":-5})"), "token claim iss/aud/exp/nbf/iat of the wrong type"},
      {std::string(JwtLimits::kMaxTokenBytes + 1, 'a'), "token longer than 8 KiB"},
  };
  for (const auto& c : cases) {
    auto e = refusal(c.token);
    EXPECT_EQ(e.code, JwtErrc::malformed) << c.token.substr(0, 80);
    EXPECT_EQ(e.message, c.message) << c.token.substr(0, 80);
  }
}

TEST_F(JwtTest, EveryRefusalHasItsOwnMessage) {
  Key stranger(Key::Type::ec, "stranger");
  std::string t = rsa_->sign(claims());
  std::vector<std::pair<JwtErrc, std::string>> seen = {
      {JwtErrc::malformed, refusal("a.b").message},
      {JwtErrc::alg_none, refusal(base64url_encode(R"({"alg":"none"})") + ".e30.").message},
      {JwtErrc::alg_not_allowed, refusal(hs256(R"({"alg":"HS256"})", "{}", "k")).message},
      {JwtErrc::alg_unsupported, refusal(rsa_->sign_raw(R"({"alg":"ES512"})", "{}")).message},
      {JwtErrc::unknown_kid, refusal(stranger.sign(claims())).message},
      {JwtErrc::bad_signature, refusal(t.substr(0, t.size() - 4) + "AAAA").message},
      {JwtErrc::expired, refusal(t, kNow + 10'000).message},
      {JwtErrc::not_yet_valid, refusal(t, kNow - 10'000).message},
      {JwtErrc::wrong_issuer, refusal(t, kNow, {.issuer = "x"}).message},
      {JwtErrc::wrong_audience, refusal(t, kNow, {.audience = "x"}).message},
  };
  std::set<std::string> messages, names;
  for (const auto& [code, msg] : seen) {
    messages.insert(msg);
    names.insert(std::string(jwt_errc_name(code)));
  }
  EXPECT_EQ(messages.size(), seen.size());
  EXPECT_EQ(names.size(), seen.size());
  for (int i = 0; i < kJwtErrcCount; ++i) names.insert(std::string(jwt_errc_name(static_cast<JwtErrc>(i))));
  EXPECT_EQ(names.size(), static_cast<size_t>(kJwtErrcCount)) << "counter labels are distinct";
}

TEST_F(JwtTest, JwksParsing) {
  EXPECT_EQ(JwkSet::parse_jwks("not json").error().code, Errc::invalid_argument);
  EXPECT_EQ(JwkSet::parse_jwks("{}").error().message, "JWK set has no \"keys\" array");
  EXPECT_EQ(JwkSet::parse_jwks(R"({"keys":[]})").error().message, "JWK set has no RS256 or ES256 signing key");
  EXPECT_FALSE(JwkSet::parse_jwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})")) << "HMAC secrets are never keys";
  // Skipped: other types, curves, uses and algorithms. Kept: the one good key.
  auto s = JwkSet::parse_jwks(R"({"keys":[{"kty":"oct","k":"abc"},{"kty":"EC","crv":"P-521","x":"AA","y":"AA"},)" +
                              rsa2_->jwk(R"("use":"enc",)").replace(rsa2_->jwk().find(R"("use":"sig",)"), 12, "") +
                              "," + ec_->jwk(R"("alg":"ES384",)") + "," + rsa_->jwk() + "]}");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->kids(), std::vector<std::string>{"rsa-1"});
  // Malformed supported keys fail the whole set with a message naming the key.
  auto bad = JwkSet::parse_jwks(R"({"keys":[{"kty":"RSA","kid":"x","n":"!!","e":"AQAB"}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "JWK set: key 'x': RSA n/e not base64url");
  bad = JwkSet::parse_jwks(R"({"keys":[{"kty":"EC","crv":"P-256","kid":"e","x":"AAAA","y":"AAAA"}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "JWK set: key 'e': EC x/y not 32-byte base64url");
  // A point not on the curve.
  std::string zero32 = base64url_encode(std::string(32, '\x01'));
  bad = JwkSet::parse_jwks(R"({"keys":[{"kty":"EC","crv":"P-256","kid":"p","x":")" + zero32 + R"(","y":")" + zero32 +
                           R"("}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "JWK set: key 'p': not a valid public key");
  EXPECT_FALSE(JwkSet::parse_jwks(R"({"keys":[{"kty":"RSA","kid":5,"n":"AQAB","e":"AQAB"}]})"));
  for (const char* e : {"AQ", "Ag", "AAE", "AQABAQABAQAB"}) {  // 1, 2, 1 with a leading zero, 9 bytes
    std::string jwk = rsa_->jwk();
    size_t at = jwk.find(R"("e":")") + 5;
    jwk.replace(at, jwk.find('"', at) - at, e);
    bad = JwkSet::parse_jwks(R"({"keys":[)" + jwk + "]}");
    ASSERT_FALSE(bad) << e;
    EXPECT_EQ(bad.error().message, "JWK set: key 'rsa-1': RSA exponent must be odd, >= 3 and at most 64 bits") << e;
  }
  Key weak(Key::Type::rsa, "weak", 1024);
  bad = JwkSet::parse_jwks(jwks_of({&weak}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "JWK set: key 'weak': RSA modulus outside 2048..8192 bits");
  EXPECT_FALSE(JwkSet::parse_pem(weak.pem()));
  // Bounds: key count and document size.
  std::string many = R"({"keys":[)";
  for (size_t i = 0; i <= JwtLimits::kMaxKeys; ++i) many += (i ? "," : "") + ec_->jwk();
  many += "]}";
  EXPECT_EQ(JwkSet::parse_jwks(many).error().code, Errc::too_large);
  std::string huge = R"({"keys":[],"pad":")" + std::string(JwtLimits::kMaxJwksBytes, 'x') + R"("})";
  EXPECT_EQ(JwkSet::parse_jwks(huge).error().code, Errc::too_large);
  // parse_any picks the format by content.
  EXPECT_TRUE(JwkSet::parse_any(jwks_of({ec_})));
  EXPECT_TRUE(JwkSet::parse_any(ec_->pem()));
}

TEST_F(JwtTest, VerifierSwapsKeysWhileOthersVerify) {
  JwtVerifier v;
  EXPECT_FALSE(v.has_keys());
  auto e = v.verify(rsa_->sign(claims()), kNow, opts());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, JwtErrc::no_keys);
  v.set_keys(jwks({rsa_}));
  EXPECT_TRUE(v.verify(rsa_->sign(claims()), kNow, opts()));
  EXPECT_EQ(v.verify(ec_->sign(claims()), kNow, opts()).error().code, JwtErrc::unknown_kid);

  // Rotation: verifiers never see a torn set; a token of the current key always verifies.
  std::string rsa_token = rsa_->sign(claims()), ec_token = ec_->sign(claims());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, checked{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] {
      while (!stop) {
        auto a = v.verify(rsa_token, kNow, opts());
        auto b = v.verify(ec_token, kNow, opts());
        // Each set holds rsa or both; never neither.
        if (!a && !b) ++bad;
        ++checked;
      }
    });
  }
  auto only_rsa = jwks({rsa_}), both = jwks({rsa_, ec_});
  for (int i = 0; i < 200; ++i) v.set_keys(i % 2 ? only_rsa : both);
  while (checked < 50) std::this_thread::yield();
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad, 0);
  v.set_keys(jwks({ec_}));
  EXPECT_EQ(v.verify(rsa_token, kNow, opts()).error().code, JwtErrc::unknown_kid) << "the old key is gone";
  EXPECT_TRUE(v.verify(ec_token, kNow, opts()));
}

}  // namespace
}  // namespace sc::jwt_test
