#pragma once
// The one URL parser of the tree: scheme://[userinfo@]host[:port][/path][?query][#fragment]
// (RFC 3986, hierarchical form only), strict. Callers (HTTP client, forward proxy, Redis URLs,
// swarmctl) wrap it to pick the schemes, defaults and parts they accept.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace sc {

// Longer URLs are refused before they are looked at: registries' signed redirect URLs run to a
// few KiB, nothing legitimate nears this.
inline constexpr size_t kMaxParsedUrlBytes = 64 << 10;

struct HostPort {
  std::string host;   // IPv6 without brackets, as written otherwise (not lower-cased)
  uint16_t port = 0;  // 0: the text named none
  bool operator==(const HostPort&) const = default;
};

struct Url {
  std::string scheme;     // lower-cased
  std::string authority;  // as written: "[userinfo@]host[:port]" (all hosts with host_list)
  bool has_userinfo = false;
  std::string userinfo;  // still percent-encoded, without '@'
  std::string host;      // the first host; IPv6 without brackets
  uint16_t port = 0;     // of the first host; 0: none written (callers pick their default)
  std::vector<HostPort> hosts;  // every host of the authority (one unless UrlOptions::host_list)
  std::string path;             // still percent-encoded; "" or starting with '/'
  bool has_query = false;       // "…?" has an empty query, which is not no query
  std::string query;            // without '?'
  bool has_fragment = false;
  std::string fragment;  // without '#'
};

struct UrlOptions {
  // Accept "h1[:p1],h2[:p2],…" as the host part (Redis sentinel:// lists); never for HTTP.
  bool host_list = false;
};

// Refuses: bytes outside printable ASCII (spaces, controls, 0x7f, 8-bit), a missing or malformed
// scheme, a missing "//" authority, an empty host, a host that is neither a DNS-style name
// (letters, digits, '-', '.', '_'; at most 253 bytes) nor a bracketed IPv6 address, a port
// outside 1..65535 or an empty one after ':', a '%' not followed by two hex digits, and any
// character RFC 3986 does not allow in the part it is in (e.g. '\', '|', '{', '"', '@' twice).
// Errors: invalid_argument, the message naming what is wrong (never echoing the input).
Result<Url> parse_url(std::string_view text, const UrlOptions& options = {});

// "host", "host:port", "[v6]" or "[v6]:port" with the host rules of parse_url; port 0 when absent.
// Errors: invalid_argument.
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace sc
