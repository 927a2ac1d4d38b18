#pragma once
// Bearer-token checks for the metastore: static tokens from a file (one per line, '#'
// comments), compared in constant time, and/or JWTs (RS256/ES256) verified with the same code
// as the tracker's jwt hook (common/core/jwt.h) against keys from a JWKS or PEM file. With
// neither configured, writes are open (a development set-up; main.cc warns at start).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"
#include "common/core/jwt.h"

namespace sc::metastore {

class TokenAuth {
 public:
  TokenAuth() = default;
  explicit TokenAuth(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}
  // Reads a token file. Errors: io (unreadable), invalid_argument (no token in it).
  static Result<TokenAuth> from_file(const std::string& path);
  // Accepts JWTs signed by these keys (JWKS or PEM text), checked for issuer/audience when set.
  // require_exp: a token without an `exp` claim never expires, so it is refused unless the
  // operator opts out (auth.jwt.require_exp: false).
  Status set_jwt_keys(std::string_view keys_text, JwtVerifyOptions options, bool require_exp = true);
  bool configured() const { return !tokens_.empty() || jwt_keys_ != nullptr; }
  // `authorization` is the raw Authorization header ("Bearer <token>", the scheme in any case,
  // RFC 9110 §11.1); now_s checks JWT expiry. Open when nothing is configured.
  bool allows(std::string_view authorization, int64_t now_s) const;

 private:
  std::vector<std::string> tokens_;
  std::shared_ptr<const JwkSet> jwt_keys_;
  JwtVerifyOptions jwt_options_;
  bool require_exp_ = true;
};

}  // namespace sc::metastore
