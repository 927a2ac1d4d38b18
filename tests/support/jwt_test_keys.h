#pragma once
// Test-only token issuing for the jwt tests (unit, tracker hooks, integration): fresh RSA and
// EC P-256 keys made by OpenSSL at run time, their JWK/PEM public halves, and RS256/ES256/HS256
// signing of arbitrary headers, so no test embeds a fixed key or token.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <initializer_list>
#include <string>

#include "common/core/jwt.h"

namespace sc::jwt_test {

class Key {
 public:
  enum class Type { rsa, ec };
  Key(Type t, std::string kid, int rsa_bits = 2048) : type_(t), kid_(std::move(kid)) {
    pkey_ = t == Type::rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits))
                           : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  }
  ~Key() { EVP_PKEY_free(pkey_); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  const std::string& kid() const { return kid_; }
  std::string alg() const { return type_ == Type::rsa ? "RS256" : "ES256"; }

  // The public JWK; `extra` is spliced in as more members (e.g. R"("alg":"RS512",)").
  std::string jwk(const std::string& extra = "") const {
    std::string kid = kid_.empty() ? "" : R"("kid":")" + kid_ + R"(",)";
    if (type_ == Type::rsa) {
      return R"({"kty":"RSA","use":"sig",)" + extra + kid + R"("n":")" + base64url_encode(bn(OSSL_PKEY_PARAM_RSA_N)) +
             R"(","e":")" + base64url_encode(bn(OSSL_PKEY_PARAM_RSA_E)) + R"("})";
    }
    std::string p = point();
    return R"({"kty":"EC","use":"sig","crv":"P-256",)" + extra + kid + R"("x":")" + base64url_encode(p.substr(1, 32)) +
           R"(","y":")" + base64url_encode(p.substr(33, 32)) + R"("})";
  }
  std::string pem() const {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, pkey_);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(b);
    return out;
  }

  // header.payload.signature with a standard header for this key.
  std::string sign(const std::string& payload_json) const {
    std::string kid = kid_.empty() ? "" : R"(,"kid":")" + kid_ + R"(")";
    return sign_raw(R"({"alg":")" + alg() + R"(","typ":"JWT")" + kid + "}", payload_json);
  }
  // Any header, signed with this key's algorithm (for forged alg/kid/crit headers).
  std::string sign_raw(const std::string& header_json, const std::string& payload_json) const {
    std::string input = base64url_encode(header_json) + "." + base64url_encode(payload_json);
    return input + "." + base64url_encode(signature(input));
  }
  std::string signature(const std::string& input) const {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, pkey_);
    EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(md);
    return type_ == Type::ec ? der_to_raw(sig) : sig;
  }

 private:
  std::string bn(const char* name) const {
    BIGNUM* b = nullptr;
    EVP_PKEY_get_bn_param(pkey_, name, &b);
    std::string out(static_cast<size_t>(BN_num_bytes(b)), '\0');
    BN_bn2bin(b, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(b);
    return out;
  }
  std::string point() const {
    unsigned char pub[65];
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(pkey_, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &len);
    return std::string(reinterpret_cast<char*>(pub), len);  // 0x04 || x || y
  }
  static std::string der_to_raw(const std::string& der) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(s);
    return raw;
  }
  Type type_;
  std::string kid_;
  EVP_PKEY* pkey_ = nullptr;
};

inline std::string jwks_of(std::initializer_list<const Key*> keys) {
  std::string out = R"({"keys":[)";
  bool first = true;
  for (const auto* k : keys) {
    out += (first ? "" : ",") + k->jwk();
    first = false;
  }
  return out + "]}";
}

// HS256 over header.payload with `secret` (the key-confusion attack uses the public PEM).
inline std::string hs256(const std::string& header_json, const std::string& payload_json, const std::string& secret) {
  std::string input = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  return input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), len));
}

}  // namespace sc::jwt_test
