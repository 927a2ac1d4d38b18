// SHA-1 (piece and info hashes), SHA-256 (OCI digests, incremental over streamed blobs) and
// HMAC-SHA256 (JWT HS256) through OpenSSL's EVP interface.
#include "common/core/sha.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <utility>

namespace sc {
namespace {

// These only fail on allocation failure or a broken OpenSSL install; there is no sensible
// partial answer for a hash, so stop rather than hand back a wrong digest.
[[noreturn]] void evp_failed() { std::abort(); }

template <size_t N>
std::array<uint8_t, N> digest(const EVP_MD* md, std::string_view data) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N) evp_failed();
  return out;
}

}  // namespace

Sha1Digest sha1(std::string_view data) { return digest<20>(EVP_sha1(), data); }

Sha256Digest sha256(std::string_view data) { return digest<32>(EVP_sha256(), data); }

Sha256Digest hmac_sha256(std::string_view key, std::string_view data) {
  Sha256Digest out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out.data(), &len) == nullptr ||
      len != out.size()) {
    evp_failed();
  }
  return out;
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
  Impl() {
    ctx = EVP_MD_CTX_new();
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) evp_failed();
  }
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view data) {
  if (!impl_) impl_ = std::make_unique<Impl>();  // a moved-from hasher starts afresh
  if (EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1) evp_failed();
}

Sha256Digest Sha256::finish() {
  if (!impl_) impl_ = std::make_unique<Impl>();
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1 || len != out.size()) evp_failed();
  if (EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) evp_failed();
  return out;
}

}  // namespace sc
