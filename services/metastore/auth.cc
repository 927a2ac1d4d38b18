// Bearer checks for metastore writes (and reads, when closed by config): static tokens and
// JWTs, the latter with an `exp` claim unless auth.jwt.require_exp is false.
#include "services/metastore/auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>

namespace sc::metastore {
namespace {

// Tokens are secrets of modest size; a longer line is a mistake in the file.
constexpr size_t kMaxTokenBytes = 4096;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<TokenAuth> TokenAuth::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(Errc::io, "cannot read auth tokens file " + path);
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    if (t.size() > kMaxTokenBytes) return fail(Errc::invalid_argument, "auth token longer than 4096 bytes in " + path);
    tokens.emplace_back(t);
  }
  if (tokens.empty()) return fail(Errc::invalid_argument, "no token in " + path);
  return TokenAuth(std::move(tokens));
}

Status TokenAuth::set_jwt_keys(std::string_view keys_text, JwtVerifyOptions options, bool require_exp) {
  auto keys = JwkSet::parse_any(keys_text);
  if (!keys) return std::unexpected(keys.error());
  if (keys->size() == 0) return fail(Errc::invalid_argument, "no usable signing key in the JWT key file");
  jwt_keys_ = std::make_shared<const JwkSet>(std::move(*keys));
  jwt_options_ = std::move(options);
  require_exp_ = require_exp;
  return {};
}

bool TokenAuth::allows(std::string_view authorization, int64_t now_s) const {
  if (!configured()) return true;
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size()) return false;
  std::string_view scheme = authorization.substr(0, kBearer.size());
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  if (!std::equal(scheme.begin(), scheme.end(), kBearer.begin(), [&](char a, char b) { return lower(a) == b; })) return false;
  std::string_view presented = trim(authorization.substr(kBearer.size()));
  bool ok = false;
  for (const auto& t : tokens_) {
    // Constant time per candidate of equal length; lengths are not secret.
    if (t.size() == presented.size() && CRYPTO_memcmp(t.data(), presented.data(), t.size()) == 0) ok = true;
  }
  if (ok) return true;
  // A JWT has exactly two dots; anything else is not worth a signature check.
  if (jwt_keys_ && std::count(presented.begin(), presented.end(), '.') == 2) {
    auto claims = jwt_verify(presented, *jwt_keys_, now_s, jwt_options_);
    return claims && (claims->exp >= 0 || !require_exp_);
  }
  return false;
}

}  // namespace sc::metastore
