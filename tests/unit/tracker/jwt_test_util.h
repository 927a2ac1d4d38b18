#pragma once
// Test-only JWT issuing: fresh RSA/EC keys, JWKS and PEM renderings of their public halves, and
// RS256/ES256 signing, all through OpenSSL, so tests never embed fixed keys or tokens.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

#include "common/core/jwt.h"

namespace sc::test {

class TestKey {
 public:
  enum class Type { rsa, ec };
  explicit TestKey(Type t, std::string kid) : type_(t), kid_(std::move(kid)) {
    pkey_ = t == Type::rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                           : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  }
  ~TestKey() { EVP_PKEY_free(pkey_); }
  TestKey(const TestKey&) = delete;
  TestKey& operator=(const TestKey&) = delete;

  const std::string& kid() const { return kid_; }
  std::string alg() const { return type_ == Type::rsa ? "RS256" : "ES256"; }

  // One JWK object (public part).
  std::string jwk() const {
    if (type_ == Type::rsa) {
      return R"({"kty":"RSA","use":"sig","alg":"RS256","kid":")" + kid_ + R"(","n":")" +
             base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
             base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_E)) + R"("})";
    }
    unsigned char pub[133];
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(pkey_, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &len);
    std::string p(reinterpret_cast<char*>(pub), len);  // 0x04 || x || y
    return R"({"kty":"EC","use":"sig","crv":"P-256","kid":")" + kid_ + R"(","x":")" +
           base64url_encode(p.substr(1, 32)) + R"(","y":")" + base64url_encode(p.substr(33, 32)) + R"("})";
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

  // A token with this header alg/kid and payload; `alg_override` forges the header.
  std::string sign(const std::string& payload_json, const std::string& alg_override = "") const {
    std::string header = R"({"alg":")" + (alg_override.empty() ? alg() : alg_override) + R"(","typ":"JWT","kid":")" + kid_ + R"("})";
    std::string input = base64url_encode(header) + "." + base64url_encode(payload_json);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, pkey_);
    EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(md);
    if (type_ == Type::ec) sig = der_to_raw(sig);
    return input + "." + base64url_encode(sig);
  }

 private:
  std::string bn_param(const char* name) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(pkey_, name, &bn);
    std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
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

inline std::string jwks_of(std::initializer_list<const TestKey*> keys) {
  std::string out = R"({"keys":[)";
  bool first = true;
  for (const auto* k : keys) {
    out += (first ? "" : ",") + k->jwk();
    first = false;
  }
  return out + "]}";
}

}  // namespace sc::test
