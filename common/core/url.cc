// The one URL parser (RFC 3986 generic syntax, hierarchical form), shared by every component
// that reads a URL: it splits and validates, callers choose schemes and default ports. Pure
// (inet_pton only reads text), so core stays free of sockets.
#include "common/core/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>

namespace sc {
namespace {

// The longest DNS name (RFC 1035): a longer host is a typo or an attack, never a server.
constexpr size_t kMaxHostBytes = 253;
constexpr unsigned kMaxPort = 65535;
constexpr size_t kMaxPortDigits = 5;

Status bad(std::string_view why) { return fail(Errc::invalid_argument, std::string(why)); }

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
bool is_unreserved(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~'; }
bool is_sub_delim(char c) {
  switch (c) {
    case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+': case ',': case ';': case '=':
      return true;
    default:
      return false;
  }
}

// Every character of `s` is allowed by `ok` or is a well-formed %XX escape.
Status check_part(std::string_view s, bool (*ok)(char), std::string_view part) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return bad(std::string(part) + ": truncated %-escape");
      if (!is_hex(s[i + 1]) || !is_hex(s[i + 2])) return bad(std::string(part) + ": invalid %-escape");
      i += 2;
    } else if (!ok(s[i])) {
      return bad(std::string(part) + ": character not allowed");
    }
  }
  return {};
}

bool userinfo_char(char c) { return is_unreserved(c) || is_sub_delim(c) || c == ':'; }
bool path_char(char c) { return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '/'; }
bool query_char(char c) { return path_char(c) || c == '?'; }
bool name_char(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'; }

Result<uint16_t> parse_port(std::string_view p) {
  if (p.empty()) return fail(Errc::invalid_argument, "empty port");
  if (p.size() > kMaxPortDigits) return fail(Errc::invalid_argument, "invalid port");
  unsigned v = 0;
  for (char c : p) {
    if (!is_digit(c)) return fail(Errc::invalid_argument, "invalid port");
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > kMaxPort) return fail(Errc::invalid_argument, "port out of range");
  return static_cast<uint16_t>(v);
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view text) {
  HostPort out;
  std::string_view host = text;
  std::string_view port;
  bool has_port = false;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return fail(Errc::invalid_argument, "unterminated IPv6 address");
    host = text.substr(1, close - 1);
    std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return fail(Errc::invalid_argument, "garbage after IPv6 address");
      port = after.substr(1);
      has_port = true;
    }
    in6_addr addr{};
    // Zone ids ("%25eth0") and IPvFuture ("v1.x") are refused: nothing here dials them.
    if (inet_pton(AF_INET6, std::string(host).c_str(), &addr) != 1)
      return fail(Errc::invalid_argument, "invalid IPv6 address");
  } else {
    if (size_t colon = text.find(':'); colon != std::string_view::npos) {
      if (text.find(':', colon + 1) != std::string_view::npos)
        return fail(Errc::invalid_argument, "IPv6 address must be in brackets");
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return fail(Errc::invalid_argument, "empty host");
    if (host.size() > kMaxHostBytes) return fail(Errc::invalid_argument, "host name too long");
    for (char c : host)
      if (!name_char(c)) return fail(Errc::invalid_argument, "invalid character in host");
  }
  if (has_port) {
    auto p = parse_port(port);
    if (!p) return std::unexpected(p.error());
    out.port = *p;
  }
  out.host = std::string(host);
  return out;
}

Result<Url> parse_url(std::string_view text, const UrlOptions& options) {
  if (text.size() > kMaxParsedUrlBytes) return fail(Errc::invalid_argument, "URL too long");
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return fail(Errc::invalid_argument, "URL contains a space, control or non-ASCII byte");
  }
  Url out;
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) return fail(Errc::invalid_argument, "no scheme://");
  std::string_view scheme = text.substr(0, sep);
  if (scheme.empty() || !is_alpha(scheme[0])) return fail(Errc::invalid_argument, "invalid scheme");
  for (char c : scheme) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
      return fail(Errc::invalid_argument, "invalid scheme");
    out.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }

  std::string_view rest = text.substr(sep + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  out.authority = std::string(authority);

  if (size_t hash = tail.find('#'); hash != std::string_view::npos) {
    out.has_fragment = true;
    out.fragment = std::string(tail.substr(hash + 1));
    if (auto st = check_part(out.fragment, query_char, "fragment"); !st) return std::unexpected(st.error());
    tail = tail.substr(0, hash);
  }
  if (size_t q = tail.find('?'); q != std::string_view::npos) {
    out.has_query = true;
    out.query = std::string(tail.substr(q + 1));
    if (auto st = check_part(out.query, query_char, "query"); !st) return std::unexpected(st.error());
    tail = tail.substr(0, q);
  }
  out.path = std::string(tail);
  if (auto st = check_part(out.path, path_char, "path"); !st) return std::unexpected(st.error());

  // '@' is not allowed in userinfo, so the first one ends it; a second one fails in the host.
  if (size_t at = authority.find('@'); at != std::string_view::npos) {
    out.has_userinfo = true;
    out.userinfo = std::string(authority.substr(0, at));
    if (auto st = check_part(out.userinfo, userinfo_char, "userinfo"); !st) return std::unexpected(st.error());
    authority = authority.substr(at + 1);
  }
  if (authority.empty()) return fail(Errc::invalid_argument, "empty host");
  for (;;) {
    size_t comma = options.host_list ? authority.find(',') : std::string_view::npos;
    auto hp = parse_host_port(authority.substr(0, comma));
    if (!hp) return std::unexpected(hp.error());
    out.hosts.push_back(std::move(*hp));
    if (comma == std::string_view::npos) break;
    authority = authority.substr(comma + 1);
  }
  out.host = out.hosts.front().host;
  out.port = out.hosts.front().port;
  return out;
}

}  // namespace sc
