// Tests of SHA-1, SHA-256 and HMAC-SHA256 against published test vectors.
#include "common/core/sha.h"

#include <gtest/gtest.h>

#include "common/core/bytes.h"

namespace sc {
namespace {

std::string hex(std::span<const uint8_t> d) { return to_hex(d); }

TEST(Sha, Sha1Vectors) {
  EXPECT_EQ(hex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Sha, Sha256Vectors) {
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Sha, IncrementalMatchesOneShotAndResets) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 7));
  Sha256 h;
  for (size_t off = 0; off < data.size(); off += 997) h.update(std::string_view(data).substr(off, 997));
  EXPECT_EQ(h.finish(), sha256(data));
  h.update("abc");
  EXPECT_EQ(hex(h.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 moved = std::move(h);
  moved.update("abc");
  EXPECT_EQ(moved.finish(), sha256("abc"));
}

}  // namespace
}  // namespace sc
