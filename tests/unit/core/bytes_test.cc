// Tests of hex and percent encodings, including strict rejection of bad escapes.
#include "common/core/bytes.h"

#include <gtest/gtest.h>

namespace sc {
namespace {

TEST(Bytes, ToHexIsLowerCase) {
  EXPECT_EQ(to_hex(std::string_view("\x00\x01\xab\xff", 4)), "0001abff");
  const uint8_t raw[] = {0xde, 0xad, 0xBE, 0xef};
  EXPECT_EQ(to_hex(std::span<const uint8_t>(raw)), "deadbeef");
  EXPECT_EQ(to_hex(std::string_view()), "");
}

TEST(Bytes, FromHexRoundTripsAndAcceptsBothCases) {
  EXPECT_EQ(from_hex("0001abff").value(), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(from_hex("DEADbeef").value(), "\xde\xad\xbe\xef");
  EXPECT_EQ(from_hex("").value(), "");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(from_hex(to_hex(all)).value(), all);
}

TEST(Bytes, FromHexRejectsOddLengthAndNonHex) {
  auto odd = from_hex("abc");
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code, Errc::invalid_argument);
  EXPECT_FALSE(from_hex("zz"));
  EXPECT_FALSE(from_hex("0g"));
  EXPECT_FALSE(from_hex("0 "));
}

TEST(Bytes, PercentDecode) {
  EXPECT_EQ(percent_decode("a%20b").value(), "a b");
  EXPECT_EQ(percent_decode("a+b").value(), "a b");
  EXPECT_EQ(percent_decode("a+b", false).value(), "a+b");
  EXPECT_EQ(percent_decode("%00%ff%FF").value(), std::string("\x00\xff\xff", 3));
  EXPECT_EQ(percent_decode("").value(), "");
  EXPECT_EQ(percent_decode("plain").value(), "plain");
}

TEST(Bytes, PercentDecodeRejectsBadEscapes) {
  for (std::string_view bad : {"%4", "%zz", "%", "ab%", "%g0", "%0g", "x%4"}) {
    auto r = percent_decode(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << bad;
  }
}

TEST(Bytes, PercentEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percent_encode("a b/c?d=e&f"), "a%20b%2Fc%3Fd%3De%26f");
  EXPECT_EQ(percent_encode(std::string_view("\x00\xff", 2)), "%00%FF");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(percent_decode(percent_encode(all), false).value(), all);
}

}  // namespace
}  // namespace sc

TEST(Base64, MatchesRfc4648Vectors) {
  // RFC 4648 §10.
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  const char* url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(sc::base64_encode(plain[i]), b64[i]);
    EXPECT_EQ(sc::base64url_encode(plain[i]), url[i]);
    auto d = sc::base64url_decode(url[i]);
    ASSERT_TRUE(d) << url[i];
    EXPECT_EQ(*d, plain[i]);
    auto padded = sc::base64url_decode(b64[i]);  // trailing '=' tolerated
    ASSERT_TRUE(padded) << b64[i];
    EXPECT_EQ(*padded, plain[i]);
  }
}

TEST(Base64, UrlDecoderIsStrict) {
  EXPECT_EQ(*sc::base64url_decode("-_8"), "\xfb\xff");
  EXPECT_FALSE(sc::base64url_decode("ab+c")) << "standard alphabet";
  EXPECT_FALSE(sc::base64url_decode("ab c")) << "blank inside";
  EXPECT_FALSE(sc::base64url_decode(" abc")) << "leading blank (EVP would skip it)";
  EXPECT_FALSE(sc::base64url_decode("a")) << "impossible length";
  EXPECT_FALSE(sc::base64url_decode("Zh")) << "non-zero leftover bits";
  EXPECT_FALSE(sc::base64url_decode("Zm9=v")) << "padding in the middle";
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(*sc::base64url_decode(sc::base64url_encode(all)), all);
}
