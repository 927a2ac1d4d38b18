#pragma once
// OCI Distribution API wire contracts for the proxy, pure: request paths (/v2/…), digests,
// repository names (the OCI name grammar), Range headers, WWW-Authenticate Bearer challenges,
// absolute-form URLs (forward-proxy requests) and the OCI error JSON. Every parser bounds its
// input and refuses anything it cannot prove safe (traversal, escapes, control bytes).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace sc {

// The distribution spec caps a repository name at 255 bytes (many registries: 256 with host).
inline constexpr size_t kMaxOciNameBytes = 255;
// Tags: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
inline constexpr size_t kMaxOciTagBytes = 128;
// WWW-Authenticate headers are short; anything larger is hostile or broken.
inline constexpr size_t kMaxChallengeBytes = 4096;
inline constexpr size_t kMaxUrlBytes = 8192;

enum class OciRoute {
  base,          // GET /v2/
  manifest,      // /v2/<name>/manifests/<reference>
  blob,          // /v2/<name>/blobs/<digest>
  tags_list,     // /v2/<name>/tags/list
  unsupported,   // a valid /v2/ path this mirror does not serve (uploads, referrers…)
};

struct OciPath {
  OciRoute route = OciRoute::base;
  std::string name;       // repository, e.g. "library/debian"
  std::string reference;  // tag or digest (manifest), digest (blob)
  bool reference_is_digest = false;
};

// OCI error codes (distribution spec) used in the error JSON; `status` is the HTTP status.
struct OciError {
  std::string_view code;  // "BLOB_UNKNOWN", "NAME_INVALID", …
  int status = 400;
  std::string message;
};

// Parses the raw (still percent-encoded) request path. Errors carry the OCI code to answer
// with: NAME_INVALID, DIGEST_INVALID, MANIFEST_INVALID (bad tag), NOT_FOUND-ish paths as
// "NAME_UNKNOWN"/404 when the path is not a Distribution API path at all.
std::expected<OciPath, OciError> parse_oci_path(std::string_view path);

// "sha256:<64 lower hex>" (the only algorithm we can verify). Returns the hex part.
Result<std::string_view> parse_sha256_digest(std::string_view digest);
bool is_valid_oci_name(std::string_view name);
bool is_valid_oci_tag(std::string_view tag);

// A single byte range resolved against a known size: [first, last], inclusive.
struct ByteRange {
  int64_t first = 0;
  int64_t last = 0;
  int64_t length() const { return last - first + 1; }
};
enum class RangeOutcome { none, range, unsatisfiable };
struct RangeResult {
  RangeOutcome outcome = RangeOutcome::none;
  ByteRange range;
};
// RFC 9110 Range for one resource of `size` bytes. Absent, malformed, non-"bytes" or
// multi-range headers yield none (serve the whole body, as the RFC allows); a well-formed
// range past the end yields unsatisfiable (416).
RangeResult parse_range(std::string_view header, int64_t size);

// WWW-Authenticate: Bearer realm="…",service="…",scope="…"
struct BearerChallenge {
  std::string realm, service, scope;
};
// Errors: invalid_argument (not a Bearer challenge, malformed, too long, no realm).
Result<BearerChallenge> parse_bearer_challenge(std::string_view header);
// realm?service=…&scope=… with each value percent-encoded.
std::string token_url(const BearerChallenge& c);

// http://host[:port]/path?query (forward-proxy absolute-form). Only http; https goes via CONNECT.
struct AbsoluteUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case, no brackets for IPv6
  uint16_t port = 80;
  std::string path;    // starts with '/', raw
  std::string query;   // without '?'
};
Result<AbsoluteUrl> parse_absolute_url(std::string_view url);

// {"errors":[{"code":"…","message":"…","detail":null}]}
std::string oci_error_json(std::string_view code, std::string_view message);

}  // namespace sc
