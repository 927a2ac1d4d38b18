#pragma once
// Content keys: the names torrents are registered under in the metastore, shared by every
// client that builds or checks one (seeder, leecher, proxy, swarmctl).
//   sha256:<64 lower-case hex>       an OCI blob digest
//   ostree/<host>/<path>             an OSTree object or static delta, by upstream URL path
//   files/<relative path>            one file of a seeded directory
//   dirs/<relative path>             one directory of a seeded directory
// Paths are '/'-separated UTF-8 segments: no empty, "." or ".." segment, no control byte,
// no backslash, bounded length. A key that passes is safe as a Redis key, a JSON string and,
// below its prefix, a relative file path.
#include <cstddef>
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace sc {

enum class KeyKind { blob, ostree, file, dir };

// Bounds on untrusted keys: long enough for deep OSTree delta paths, short enough that a key
// never dominates a Redis entry or a log line.
inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxKeySegmentBytes = 255;  // NAME_MAX on common file systems

struct ContentKey {
  KeyKind kind;
  std::string_view rest;  // the part after "sha256:", "ostree/", "files/" or "dirs/"
};

// Checks a key. Errors: invalid_argument with the reason (the message is client-visible).
Result<ContentKey> parse_content_key(std::string_view key);
inline bool is_valid_content_key(std::string_view key) { return parse_content_key(key).has_value(); }

// "blob", "ostree", "file", "dir".
std::string_view key_kind_name(KeyKind kind);

// Validates a relative '/'-separated path with the same segment rules as keys.
Status check_relative_path(std::string_view path);
// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view s);

}  // namespace sc
