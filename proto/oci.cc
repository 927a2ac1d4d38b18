// OCI Distribution API request parsing for the proxy: /v2/ paths, digests, names, Range,
// Bearer challenges, forward-proxy URLs and error JSON. Pure and bounded so a fuzzer can drive
// it; everything the proxy turns into a file name or an upstream URL passes through here.
#include "proto/oci.h"

#include <cctype>
#include <charconv>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/json.h"
#include "common/core/url.h"

namespace sc {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_hex_lower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool is_valid_component(std::string_view c) {
  size_t i = 0, n = c.size();
  if (n == 0 || !is_lower_alnum(c[0])) return false;
  while (i < n) {
    while (i < n && is_lower_alnum(c[i])) ++i;
    if (i == n) return true;
    size_t sep = i;
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < n && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < n && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (i == n || !is_lower_alnum(c[i]) || i == sep) return false;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

std::unexpected<OciError> oci_fail(std::string_view code, int status, std::string message) {
  return std::unexpected<OciError>(OciError{code, status, std::move(message)});
}

bool ieq_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits only, at most 18 of them so the value fits in int64_t.
std::optional<int64_t> parse_count(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

bool is_valid_oci_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxOciNameBytes) return false;
  for (auto comp : split(name, '/'))
    if (!is_valid_component(comp)) return false;
  return true;
}

bool is_valid_oci_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxOciTagBytes) return false;
  auto ok_first = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!ok_first(tag[0])) return false;
  for (char c : tag)
    if (!ok_first(c) && c != '.' && c != '-') return false;
  return true;
}

Result<std::string_view> parse_sha256_digest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (!digest.starts_with(kPrefix)) {
    if (digest.find(':') == std::string_view::npos)
      return fail(Errc::invalid_argument, "digest has no algorithm");
    return fail(Errc::invalid_argument, "unsupported digest algorithm (only sha256)");
  }
  std::string_view hex = digest.substr(kPrefix.size());
  if (hex.size() != 64) return fail(Errc::invalid_argument, "sha256 digest must have 64 hex digits");
  for (char c : hex)
    if (!is_hex_lower(c)) return fail(Errc::invalid_argument, "sha256 digest must be lower-case hex");
  return hex;
}

std::expected<OciPath, OciError> parse_oci_path(std::string_view path) {
  if (path.size() > kMaxUrlBytes) return oci_fail("NAME_INVALID", 414, "path too long");
  if (path == "/v2" || path == "/v2/") return OciPath{};
  if (!path.starts_with("/v2/")) return oci_fail("UNSUPPORTED", 404, "not a registry API path");
  for (char c : path) {
    // Names, tags and digests never need escapes; refusing them closes encoded traversal.
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f || c == '%' || c == '\\')
      return oci_fail("NAME_INVALID", 400, "invalid character in path");
  }
  std::string_view rest = path.substr(4);
  auto segs = split(rest, '/');
  size_t n = segs.size();
  auto join_name = [&](size_t count) {
    std::string_view name = rest.substr(0, count == 0 ? 0 : (segs[count - 1].data() + segs[count - 1].size()) - rest.data());
    return name;
  };
  for (size_t i = 0; i + 1 < n; ++i) {
    if (segs[i] == "blobs" && segs[i + 1] == "uploads" && i > 0)
      return oci_fail("UNSUPPORTED", 405, "this mirror is read-only");
  }
  OciPath out;
  if (n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list") {
    out.route = OciRoute::tags_list;
    out.name = join_name(n - 2);
  } else if (n >= 3 && (segs[n - 2] == "manifests" || segs[n - 2] == "blobs")) {
    out.route = segs[n - 2] == "manifests" ? OciRoute::manifest : OciRoute::blob;
    out.name = join_name(n - 2);
    out.reference = segs[n - 1];
  } else if (n >= 3 && segs[n - 2] == "referrers") {
    out.name = join_name(n - 2);
    if (!is_valid_oci_name(out.name)) return oci_fail("NAME_INVALID", 400, "invalid repository name");
    out.route = OciRoute::unsupported;
    return out;
  } else {
    return oci_fail("UNSUPPORTED", 404, "not a registry API path");
  }
  if (!is_valid_oci_name(out.name)) return oci_fail("NAME_INVALID", 400, "invalid repository name");
  if (out.route == OciRoute::blob) {
    if (auto d = parse_sha256_digest(out.reference); !d) return oci_fail("DIGEST_INVALID", 400, d.error().message);
    out.reference_is_digest = true;
  } else if (out.route == OciRoute::manifest) {
    if (out.reference.find(':') != std::string::npos) {
      if (auto d = parse_sha256_digest(out.reference); !d)
        return oci_fail("DIGEST_INVALID", 400, d.error().message);
      out.reference_is_digest = true;
    } else if (!is_valid_oci_tag(out.reference)) {
      return oci_fail("TAG_INVALID", 400, "invalid tag");
    }
  }
  return out;
}

RangeResult parse_range(std::string_view header, int64_t size) {
  RangeResult none;
  header = trim(header);
  if (header.empty() || header.size() > 200 || !ieq_prefix(header, "bytes=")) return none;
  std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return none;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return none;
  std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  RangeResult r;
  r.outcome = RangeOutcome::range;
  if (a.empty()) {
    auto suffix = parse_count(b);
    if (!suffix) return none;
    if (*suffix == 0 || size == 0) return {RangeOutcome::unsatisfiable, {}};
    r.range.first = *suffix >= size ? 0 : size - *suffix;
    r.range.last = size - 1;
    return r;
  }
  auto first = parse_count(a);
  if (!first) return none;
  std::optional<int64_t> last;
  if (!b.empty()) {
    last = parse_count(b);
    if (!last || *last < *first) return none;
  }
  if (*first >= size) return {RangeOutcome::unsatisfiable, {}};
  r.range.first = *first;
  r.range.last = last ? std::min(*last, size - 1) : size - 1;
  return r;
}

Result<BearerChallenge> parse_bearer_challenge(std::string_view header) {
  if (header.size() > kMaxChallengeBytes) return fail(Errc::invalid_argument, "challenge too long");
  header = trim(header);
  if (!ieq_prefix(header, "bearer") || header.size() < 7 || (header[6] != ' ' && header[6] != '\t'))
    return fail(Errc::invalid_argument, "not a Bearer challenge");
  std::string_view s = header.substr(7);
  BearerChallenge out;
  size_t i = 0;
  int params = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
    if (i == s.size()) break;
    if (++params > 32) return fail(Errc::invalid_argument, "too many challenge parameters");
    size_t ks = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    std::string_view key = s.substr(ks, i - ks);
    if (key.empty()) return fail(Errc::invalid_argument, "malformed challenge parameter");
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == s.size() || s[i] != '=') return fail(Errc::invalid_argument, "challenge parameter without value");
    ++i;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i == s.size()) break;
          c = s[i++];
        }
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          return fail(Errc::invalid_argument, "control byte in challenge");
        value.push_back(c);
      }
      if (!closed) return fail(Errc::invalid_argument, "unterminated quoted string");
    } else {
      size_t vs = i;
      while (i < s.size() && is_token_char(s[i])) ++i;
      value = std::string(s.substr(vs, i - vs));
    }
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i < s.size() && s[i] != ',') return fail(Errc::invalid_argument, "malformed challenge");
    std::string lkey;
    for (char c : key) lkey.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (lkey == "realm") out.realm = std::move(value);
    else if (lkey == "service") out.service = std::move(value);
    else if (lkey == "scope") out.scope = std::move(value);
  }
  if (out.realm.empty()) return fail(Errc::invalid_argument, "challenge has no realm");
  // The token is fetched from the realm: it must be a URL the HTTP client accepts, without a
  // fragment (token_url's query would land inside it and never be sent).
  if (auto u = parse_url(out.realm); !u || (u->scheme != "http" && u->scheme != "https") || u->has_fragment)
    return fail(Errc::invalid_argument, "realm is not an http(s) URL");
  return out;
}

std::string token_url(const BearerChallenge& c) {
  std::string url = c.realm;
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  if (!c.service.empty()) {
    url += sep;
    url += "service=" + percent_encode(c.service);
    sep = '&';
  }
  if (!c.scope.empty()) {
    url += sep;
    url += "scope=" + percent_encode(c.scope);
  }
  return url;
}

Result<AbsoluteUrl> parse_absolute_url(std::string_view url) {
  if (url.size() > kMaxUrlBytes) return fail(Errc::invalid_argument, "URL too long");
  auto u = parse_url(url);
  if (!u) return std::unexpected(u.error());
  AbsoluteUrl out;
  if (u->scheme != "http" && u->scheme != "https") return fail(Errc::invalid_argument, "not an http(s) URL");
  // A request target never carries credentials or a fragment (RFC 9112 §3.2.2).
  if (u->has_userinfo) return fail(Errc::invalid_argument, "userinfo not allowed in URL");
  if (u->has_fragment) return fail(Errc::invalid_argument, "fragment not allowed in URL");
  out.scheme = u->scheme;
  out.port = u->port != 0 ? u->port : (out.scheme == "https" ? 443 : 80);
  for (char c : u->host) out.host.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  out.path = u->path.empty() ? "/" : std::move(u->path);
  out.query = std::move(u->query);
  return out;
}

std::string oci_error_json(std::string_view code, std::string_view message) {
  Json error = Json::object();
  error.set("code", code).set("message", message).set("detail", Json::null());
  Json errors = Json::array();
  errors.push(std::move(error));
  Json doc = Json::object();
  doc.set("errors", std::move(errors));
  return doc.dump();
}

}  // namespace sc
