// Content key validation (see content_key.h). Every service that accepts or builds a key
// goes through parse_content_key, so one rule set guards Redis keys, URLs and file paths.
#include "proto/content_key.h"

#include <cstdint>

namespace sc {
namespace {

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

Status check_relative_path(std::string_view path) {
  if (path.empty()) return fail(Errc::invalid_argument, "empty path");
  if (!is_valid_utf8(path)) return fail(Errc::invalid_argument, "path is not valid UTF-8");
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty()) return fail(Errc::invalid_argument, "empty path segment");
    if (seg == "." || seg == "..") return fail(Errc::invalid_argument, "'.' or '..' path segment");
    if (seg.size() > kMaxKeySegmentBytes) return fail(Errc::invalid_argument, "path segment too long");
    for (char ch : seg) {
      auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == 0x7f) return fail(Errc::invalid_argument, "control character in path");
      if (c == '\\') return fail(Errc::invalid_argument, "backslash in path");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

Result<ContentKey> parse_content_key(std::string_view key) {
  if (key.empty()) return fail(Errc::invalid_argument, "empty key");
  if (key.size() > kMaxKeyBytes) return fail(Errc::invalid_argument, "key longer than " + std::to_string(kMaxKeyBytes) + " bytes");
  constexpr std::string_view kBlob = "sha256:";
  if (key.starts_with(kBlob)) {
    std::string_view hex = key.substr(kBlob.size());
    if (hex.size() != 64) return fail(Errc::invalid_argument, "sha256 key needs 64 hex digits");
    for (char c : hex) {
      if (!is_lower_hex(c)) return fail(Errc::invalid_argument, "sha256 key needs lower-case hex");
    }
    return ContentKey{KeyKind::blob, hex};
  }
  struct Prefix {
    std::string_view text;
    KeyKind kind;
  };
  for (auto [prefix, kind] : {Prefix{"ostree/", KeyKind::ostree}, Prefix{"files/", KeyKind::file}, Prefix{"dirs/", KeyKind::dir}}) {
    if (!key.starts_with(prefix)) continue;
    std::string_view rest = key.substr(prefix.size());
    if (auto st = check_relative_path(rest); !st) return fail(Errc::invalid_argument, "bad key: " + st.error().message);
    if (kind == KeyKind::ostree && rest.find('/') == std::string_view::npos) {
      return fail(Errc::invalid_argument, "ostree key needs ostree/<host>/<path>");
    }
    return ContentKey{kind, rest};
  }
  return fail(Errc::invalid_argument, "key must start with sha256:, ostree/, files/ or dirs/");
}

std::string_view key_kind_name(KeyKind kind) {
  switch (kind) {
    case KeyKind::blob: return "blob";
    case KeyKind::ostree: return "ostree";
    case KeyKind::file: return "file";
    case KeyKind::dir: return "dir";
  }
  return "unknown";
}

}  // namespace sc
