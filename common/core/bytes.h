#pragma once
// Hex and percent encodings. Decoders are strict: a truncated or invalid escape is an error.
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

}  // namespace sc
