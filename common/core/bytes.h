#pragma once
// Hex, percent and base64 encodings. Decoders are strict: a truncated or invalid escape is an error.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace sc {

std::string to_hex(std::span<const uint8_t> bytes);
std::string to_hex(std::string_view bytes);
// Decodes lower- or upper-case hex of even length.
Result<std::string> from_hex(std::string_view hex);
// application/x-www-form-urlencoded value decoding: %XX escapes, and '+' as space when
// plus_is_space. "%4", "%zz" → invalid_argument.
Result<std::string> percent_decode(std::string_view in, bool plus_is_space = true);
// Escapes every byte outside RFC 3986 unreserved characters (for info_hash in URLs).
std::string percent_encode(std::string_view in);
// Base64 (RFC 4648 §4, padded), for HTTP Basic credentials.
std::string base64_encode(std::string_view bytes);
// base64url without padding (RFC 4648 §5, RFC 7515 §2), for JWTs and JWKs. The decoder takes
// the url alphabet only, tolerates trailing '=', and accepts only the canonical spelling (zero
// leftover bits), so one token has one encoding.
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view text);

}  // namespace sc
