#pragma once
// JSON Web Token verification (RFC 7519/7515) for RS256 and ES256, with keys from a JWK set
// (RFC 7517) or a PEM public key. Pure: key material and a token in, claims or a precise error
// out; the caller supplies the time. `alg: none`, HMAC algorithms (a public key used as an HMAC
// secret is the classic confusion attack) and unknown algorithms are refused.
#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/bytes.h"  // base64url: tokens are built and read with it
#include "common/core/error.h"
#include "common/core/json.h"

namespace sc {

// Why a token was refused; stable names (jwt_errc_name) label the refusal counters.
enum class JwtErrc {
  malformed,         // not three base64url parts, bad JSON, bad claim types, oversized
  alg_none,          // "alg":"none" (or no alg)
  alg_not_allowed,   // HS256 and friends
  alg_unsupported,   // anything else we do not implement
  unknown_kid,       // no key with that kid (or no key fits the algorithm)
  bad_signature,
  expired,           // exp + leeway <= now
  not_yet_valid,     // nbf - leeway > now
  wrong_issuer,
  wrong_audience,
  wrong_claim,       // an application claim (e.g. infohash) does not match
  no_keys,           // the verifier has no key set yet (JwtVerifier only)
};
std::string_view jwt_errc_name(JwtErrc code);
inline constexpr int kJwtErrcCount = static_cast<int>(JwtErrc::no_keys) + 1;

struct JwtError {
  JwtErrc code;
  std::string message;  // client-visible, e.g. "token expired"
};

struct JwtClaims {
  std::string alg, kid;
  std::string iss;
  std::vector<std::string> aud;  // a string "aud" becomes one element
  int64_t exp = -1, nbf = -1, iat = -1;  // -1: absent
  // Every top-level string claim of the payload, for application claims (e.g. infohash).
  std::vector<std::pair<std::string, std::string>> strings;
  Json payload;  // the whole claim set, for callers that need more than strings
  // A string claim from the payload ("" if absent or not a string).
  std::string_view string_claim(std::string_view name) const;
};

// Bounds on untrusted key material and tokens.
struct JwtLimits {
  // A real token is under 2 KB; the tracker's query limit is 4 KB anyway.
  static constexpr size_t kMaxTokenBytes = 8 << 10;
  // Identity providers publish a handful of keys; 1 MiB of JWKS is already absurd.
  static constexpr size_t kMaxJwksBytes = 1 << 20;
  // Each unmatched key costs a signature check when a token has no kid: keep the set small.
  static constexpr size_t kMaxKeys = 32;
  // Weaker RSA keys are refused (NIST SP 800-131A); larger ones make verification a DoS lever.
  static constexpr int kMinRsaBits = 2048;
  static constexpr int kMaxRsaBits = 8192;
};

// A set of public keys. Copies share the keys (immutable after construction).
class JwkSet {
 public:
  // Parses {"keys":[…]}: RSA keys (n, e) and EC P-256 keys (x, y); keys of other types or
  // curves, or with "use" other than "sig", are skipped; a malformed RSA/EC key fails the set.
  // Errors: invalid_argument, too_large (document size, key count).
  static Result<JwkSet> parse_jwks(std::string_view json);
  // A PEM "PUBLIC KEY" (RSA or EC P-256), usable for any kid. Errors: invalid_argument.
  static Result<JwkSet> parse_pem(std::string_view pem);
  // Either of the above, by content.
  static Result<JwkSet> parse_any(std::string_view text);

  size_t size() const;
  std::vector<std::string> kids() const;

  struct Key;
  const std::vector<std::shared_ptr<const Key>>& keys() const { return keys_; }

 private:
  std::vector<std::shared_ptr<const Key>> keys_;
};

struct JwtVerifyOptions {
  std::string issuer;     // "" = not checked
  std::string audience;   // "" = not checked; else must be one of "aud"
  int64_t leeway_s = 30;  // clock skew tolerated on exp and nbf
};

// Checks, in order: shape and encoding, alg, key (kid), signature, claim types, exp, nbf, iss,
// aud. Claims are looked at only once the signature holds.
std::expected<JwtClaims, JwtError> jwt_verify(std::string_view token, const JwkSet& keys, int64_t now_s,
                                              const JwtVerifyOptions& options);

// A verifier whose key set is replaced at run time (a JWKS refreshed from a URL) while other
// threads verify: set_keys() swaps an immutable snapshot, verify() never waits on it.
class JwtVerifier {
 public:
  void set_keys(JwkSet keys);
  std::shared_ptr<const JwkSet> keys() const { return keys_.load(); }
  bool has_keys() const { return keys_.load() != nullptr; }
  // As jwt_verify; JwtErrc::no_keys before the first set_keys().
  std::expected<JwtClaims, JwtError> verify(std::string_view token, int64_t now_s,
                                            const JwtVerifyOptions& expected) const;

 private:
  std::atomic<std::shared_ptr<const JwkSet>> keys_;
};

}  // namespace sc
