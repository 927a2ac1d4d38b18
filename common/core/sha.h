#pragma once
// SHA-1, SHA-256 and HMAC-SHA256 through OpenSSL EVP. Sha256 is incremental, so a stream
// (a blob coming from upstream) is hashed as it passes.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sc {

using Sha1Digest = std::array<uint8_t, 20>;
using Sha256Digest = std::array<uint8_t, 32>;

Sha1Digest sha1(std::string_view data);
Sha256Digest sha256(std::string_view data);
Sha256Digest hmac_sha256(std::string_view key, std::string_view data);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(std::string_view data);
  Sha256Digest finish();  // the object is reset and can be reused

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc
