// JWT verification for the tracker's jwt prehook and the metastore: base64url, JWK set and PEM
// key loading into OpenSSL EVP keys, RS256/ES256 signature checks, and the registered claims
// (iss, aud, exp, nbf) with leeway. Every refusal carries its own JwtErrc.
#include "common/core/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "common/core/json.h"

namespace sc {

std::string_view jwt_errc_name(JwtErrc code) {
  switch (code) {
    case JwtErrc::malformed: return "malformed";
    case JwtErrc::alg_none: return "alg_none";
    case JwtErrc::alg_not_allowed: return "alg_not_allowed";
    case JwtErrc::alg_unsupported: return "alg_unsupported";
    case JwtErrc::unknown_kid: return "unknown_kid";
    case JwtErrc::bad_signature: return "bad_signature";
    case JwtErrc::expired: return "expired";
    case JwtErrc::not_yet_valid: return "not_yet_valid";
    case JwtErrc::wrong_issuer: return "wrong_issuer";
    case JwtErrc::wrong_audience: return "wrong_audience";
    case JwtErrc::wrong_claim: return "wrong_claim";
    case JwtErrc::no_keys: return "no_keys";
  }
  return "malformed";
}

std::string_view JwtClaims::string_claim(std::string_view name) const {
  for (const auto& [k, v] : strings)
    if (k == name) return v;
  return {};
}

namespace {

constexpr size_t kMaxTokenBytes = JwtLimits::kMaxTokenBytes;
constexpr size_t kMaxKeysBytes = JwtLimits::kMaxJwksBytes;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

enum class Kty { rsa, ec };

}  // namespace

struct JwkSet::Key {
  std::string kid;   // "" with any_kid: a PEM key
  std::string alg;   // the JWK's "alg", "" if it does not restrict one
  bool any_kid = false;
  Kty kty = Kty::rsa;
  PkeyPtr pkey;
};

namespace {

PkeyPtr rsa_from_jwk(const std::string& n, const std::string& e) {
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  EVP_PKEY* pkey = nullptr;
  if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) && (params = OSSL_PARAM_BLD_to_param(bld)) &&
      (ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr)) && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return PkeyPtr(pkey);
}

PkeyPtr ec_from_jwk(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return nullptr;
  unsigned char pub[65];
  pub[0] = 0x04;  // uncompressed point
  std::memcpy(pub + 1, x.data(), 32);
  std::memcpy(pub + 33, y.data(), 32);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  EVP_PKEY* pkey = nullptr;
  if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub) &&
      (params = OSSL_PARAM_BLD_to_param(bld)) && (ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)) &&
      EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return PkeyPtr(pkey);
}

bool is_p256(EVP_PKEY* pkey) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) return false;
  std::string_view n(name, len);
  return n == "prime256v1" || n == "P-256" || n == "secp256r1";
}

bool rsa_bits_ok(EVP_PKEY* pkey) {
  int bits = EVP_PKEY_get_bits(pkey);
  return bits >= JwtLimits::kMinRsaBits && bits <= JwtLimits::kMaxRsaBits;
}

bool verify_sig(EVP_PKEY* pkey, std::string_view signing_input, const std::string& sig, bool ecdsa_raw) {
  std::string der;
  const unsigned char* sigp = reinterpret_cast<const unsigned char*>(sig.data());
  size_t siglen = sig.size();
  if (ecdsa_raw) {
    // JWS carries r||s (32 bytes each); OpenSSL wants a DER ECDSA-Sig-Value.
    if (sig.size() != 64) return false;
    ECDSA_SIG* es = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(sigp, 32, nullptr);
    BIGNUM* s = BN_bin2bn(sigp + 32, 32, nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(es);
      return false;
    }
    unsigned char* buf = nullptr;
    int n = i2d_ECDSA_SIG(es, &buf);
    ECDSA_SIG_free(es);
    if (n <= 0) return false;
    der.assign(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
    OPENSSL_free(buf);
    sigp = reinterpret_cast<const unsigned char*>(der.data());
    siglen = der.size();
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = md && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
            EVP_DigestVerify(md, sigp, siglen, reinterpret_cast<const unsigned char*>(signing_input.data()),
                             signing_input.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

std::unexpected<JwtError> jerr(JwtErrc c, std::string m) { return std::unexpected<JwtError>(JwtError{c, std::move(m)}); }

// NumericDate: integer or real seconds.
bool numeric_date(const Json& v, int64_t& out) {
  if (!v) return true;
  if (!v.is_number()) return false;
  double d = v.as_number();
  if (!std::isfinite(d) || d < 0 || d > 1e15) return false;
  out = static_cast<int64_t>(d);
  return true;
}

}  // namespace

size_t JwkSet::size() const { return keys_.size(); }

std::vector<std::string> JwkSet::kids() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) out.push_back(k->kid);
  return out;
}

Result<JwkSet> JwkSet::parse_jwks(std::string_view text) {
  if (text.size() > kMaxKeysBytes) return fail(Errc::too_large, "JWK set larger than 1 MiB");
  auto doc = json_parse(text, JsonLimits{.max_size = kMaxKeysBytes, .max_depth = 8});
  if (!doc) return fail(Errc::invalid_argument, "JWK set is not JSON: " + doc.error().message);
  Json keys = doc->get("keys");
  if (!keys.is_array()) return fail(Errc::invalid_argument, "JWK set has no \"keys\" array");
  JwkSet set;
  for (size_t i = 0; i < keys.size(); ++i) {
    Json k = keys.at(i);
    if (!k.is_object()) return fail(Errc::invalid_argument, "JWK set: key " + std::to_string(i) + " is not an object");
    if (k.get("kid") && !k.get("kid").is_string()) {
      return fail(Errc::invalid_argument, "JWK set: key " + std::to_string(i) + " has a non-string kid");
    }
    std::string_view use = k.string_or("use", "sig");
    if (use != "sig") continue;
    auto key = std::make_shared<Key>();
    key->kid = std::string(k.string_or("kid", ""));
    key->alg = std::string(k.string_or("alg", ""));
    const std::string what = "JWK set: key '" + key->kid + "'";
    std::string_view kty = k.string_or("kty", "");
    if (kty == "RSA") {
      if (!key->alg.empty() && key->alg != "RS256") continue;  // e.g. RS512 or RSA-OAEP: not ours
      auto n = base64url_decode(k.string_or("n", ""));
      auto e = base64url_decode(k.string_or("e", ""));
      if (!n || !e || n->empty() || e->empty()) return fail(Errc::invalid_argument, what + ": RSA n/e not base64url");
      // A tiny or even public exponent (e = 1 makes every message its own signature) is never
      // what an identity provider publishes; refuse it rather than trust it.
      std::string_view ev = *e;
      while (!ev.empty() && ev.front() == 0) ev.remove_prefix(1);
      if (ev.empty() || ev.size() > 8 || (static_cast<uint8_t>(ev.back()) & 1) == 0 ||
          (ev.size() == 1 && static_cast<uint8_t>(ev.front()) < 3)) {
        return fail(Errc::invalid_argument, what + ": RSA exponent must be odd, >= 3 and at most 64 bits");
      }
      key->kty = Kty::rsa;
      key->pkey = rsa_from_jwk(*n, *e);
      if (key->pkey && !rsa_bits_ok(key->pkey.get())) {
        return fail(Errc::invalid_argument, what + ": RSA modulus outside 2048..8192 bits");
      }
    } else if (kty == "EC") {
      if (k.string_or("crv", "") != "P-256") continue;
      if (!key->alg.empty() && key->alg != "ES256") continue;
      auto x = base64url_decode(k.string_or("x", ""));
      auto y = base64url_decode(k.string_or("y", ""));
      if (!x || !y || x->size() != 32 || y->size() != 32) {
        return fail(Errc::invalid_argument, what + ": EC x/y not 32-byte base64url");
      }
      key->kty = Kty::ec;
      key->pkey = ec_from_jwk(*x, *y);
    } else {
      continue;
    }
    if (!key->pkey) return fail(Errc::invalid_argument, what + ": not a valid public key");
    if (set.keys_.size() == JwtLimits::kMaxKeys) {
      return fail(Errc::too_large, "JWK set has more than " + std::to_string(JwtLimits::kMaxKeys) + " usable keys");
    }
    set.keys_.push_back(std::move(key));
  }
  if (set.keys_.empty()) return fail(Errc::invalid_argument, "JWK set has no RS256 or ES256 signing key");
  return set;
}

Result<JwkSet> JwkSet::parse_pem(std::string_view pem) {
  if (pem.size() > kMaxKeysBytes) return fail(Errc::too_large, "PEM file larger than 1 MiB");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* p = bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!p) return fail(Errc::invalid_argument, "not a PEM public key");
  auto key = std::make_shared<Key>();
  key->any_kid = true;
  key->pkey.reset(p);
  if (EVP_PKEY_is_a(p, "RSA")) {
    key->kty = Kty::rsa;
    if (!rsa_bits_ok(p)) return fail(Errc::invalid_argument, "PEM RSA key outside 2048..8192 bits");
  } else if (EVP_PKEY_is_a(p, "EC") && is_p256(p)) {
    key->kty = Kty::ec;
  } else {
    return fail(Errc::invalid_argument, "PEM key is neither RSA nor EC P-256");
  }
  JwkSet set;
  set.keys_.push_back(std::move(key));
  return set;
}

Result<JwkSet> JwkSet::parse_any(std::string_view text) {
  if (text.find("-----BEGIN") != std::string_view::npos) return parse_pem(text);
  return parse_jwks(text);
}

std::expected<JwtClaims, JwtError> jwt_verify(std::string_view token, const JwkSet& keys, int64_t now_s,
                                              const JwtVerifyOptions& opt) {
  if (token.empty()) return jerr(JwtErrc::malformed, "missing token");
  if (token.size() > kMaxTokenBytes) return jerr(JwtErrc::malformed, "token longer than 8 KiB");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return jerr(JwtErrc::malformed, "token is not three dot-separated parts");
  }
  auto header_raw = base64url_decode(token.substr(0, d1));
  if (!header_raw) return jerr(JwtErrc::malformed, "token header is not base64url");
  auto payload_raw = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload_raw) return jerr(JwtErrc::malformed, "token claims are not base64url");
  auto sig = base64url_decode(token.substr(d2 + 1));
  if (!sig) return jerr(JwtErrc::malformed, "token signature is not base64url");
  JsonLimits lim{.max_size = kMaxTokenBytes, .max_depth = 8};
  auto header = json_parse(*header_raw, lim);
  if (!header || !header->is_object()) return jerr(JwtErrc::malformed, "token header is not a JSON object");
  Json alg = header->get("alg"), kid = header->get("kid");
  if ((alg && !alg.is_string()) || (kid && !kid.is_string())) {
    return jerr(JwtErrc::malformed, "token header alg/kid is not a string");
  }

  JwtClaims c;
  c.alg = std::string(alg.as_string());
  c.kid = std::string(kid.as_string());
  std::string alg_lower = c.alg;
  std::transform(alg_lower.begin(), alg_lower.end(), alg_lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (alg_lower == "none" || c.alg.empty()) return jerr(JwtErrc::alg_none, "unsigned token (alg none) refused");
  if (alg_lower.starts_with("hs")) {
    return jerr(JwtErrc::alg_not_allowed, "HMAC token algorithm " + c.alg.substr(0, 16) + " refused (RS256 or ES256 only)");
  }
  Kty want;
  if (c.alg == "RS256") {
    want = Kty::rsa;
  } else if (c.alg == "ES256") {
    want = Kty::ec;
  } else {
    return jerr(JwtErrc::alg_unsupported, "unsupported token algorithm " + c.alg.substr(0, 16));
  }
  // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
  if (header->get("crit")) return jerr(JwtErrc::malformed, "token header has crit extensions we do not support");

  std::string_view signing_input = token.substr(0, d2);
  bool candidate = false, verified = false;
  for (const auto& k : keys.keys()) {
    if (k->kty != want) continue;
    if (!k->alg.empty() && k->alg != c.alg) continue;
    if (!c.kid.empty() && !k->any_kid && k->kid != c.kid) continue;
    candidate = true;
    if (verify_sig(k->pkey.get(), signing_input, *sig, want == Kty::ec)) {
      verified = true;
      break;
    }
  }
  if (!candidate) {
    if (c.kid.empty()) return jerr(JwtErrc::unknown_kid, "no " + c.alg + " key for a token without kid");
    return jerr(JwtErrc::unknown_kid, "unknown key id '" + c.kid.substr(0, 64) + "' for " + c.alg);
  }
  if (!verified) return jerr(JwtErrc::bad_signature, "bad token signature");

  auto payload = json_parse(*payload_raw, lim);
  if (!payload || !payload->is_object()) return jerr(JwtErrc::malformed, "token claims are not a JSON object");
  bool types_ok = true;
  payload->for_each_member([&](std::string_view key, const Json& v) {
    if (v.is_string()) c.strings.emplace_back(std::string(key), std::string(v.as_string()));
  });
  Json iss = payload->get("iss");
  if (iss && !iss.is_string()) types_ok = false;
  c.iss = std::string(iss.as_string());
  Json aud = payload->get("aud");
  if (aud.is_string()) {
    c.aud.emplace_back(aud.as_string());
  } else if (aud.is_array()) {
    for (size_t i = 0; i < aud.size(); ++i) {
      if (!aud.at(i).is_string()) types_ok = false;
      c.aud.emplace_back(aud.at(i).as_string());
    }
  } else if (aud) {
    types_ok = false;
  }
  types_ok = types_ok && numeric_date(payload->get("exp"), c.exp) && numeric_date(payload->get("nbf"), c.nbf) &&
             numeric_date(payload->get("iat"), c.iat);
  if (!types_ok) return jerr(JwtErrc::malformed, "token claim iss/aud/exp/nbf/iat of the wrong type");
  c.payload = std::move(*payload);

  if (c.exp >= 0 && now_s >= c.exp + opt.leeway_s) return jerr(JwtErrc::expired, "token expired");
  if (c.nbf >= 0 && now_s < c.nbf - opt.leeway_s) return jerr(JwtErrc::not_yet_valid, "token not yet valid");
  if (!opt.issuer.empty() && c.iss != opt.issuer) return jerr(JwtErrc::wrong_issuer, "token issuer not accepted");
  if (!opt.audience.empty() && std::find(c.aud.begin(), c.aud.end(), opt.audience) == c.aud.end()) {
    return jerr(JwtErrc::wrong_audience, "token audience not accepted");
  }
  return c;
}

void JwtVerifier::set_keys(JwkSet keys) { keys_.store(std::make_shared<const JwkSet>(std::move(keys))); }

std::expected<JwtClaims, JwtError> JwtVerifier::verify(std::string_view token, int64_t now_s,
                                                       const JwtVerifyOptions& expected) const {
  auto keys = keys_.load();
  if (!keys) return jerr(JwtErrc::no_keys, "token keys not loaded yet");
  return jwt_verify(token, *keys, now_s, expected);
}

}  // namespace sc
