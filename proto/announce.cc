// Announce/scrape query parsing and bencoded tracker responses. The parser decodes straight
// into fixed-size fields (no allocation for the common announce) and refuses anything
// ambiguous — duplicates, bad lengths, malformed escapes — with a reason the client can read.
#include "proto/announce.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "common/core/bencode.h"

namespace sc {

std::string_view announce_event_name(AnnounceEvent e) {
  switch (e) {
    case AnnounceEvent::none: return "none";
    case AnnounceEvent::started: return "started";
    case AnnounceEvent::completed: return "completed";
    case AnnounceEvent::stopped: return "stopped";
  }
  return "none";
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr ptrdiff_t kMalformed = -1;
constexpr ptrdiff_t kTooLong = -2;

// Form-decodes `in` into out[0..cap). Returns the decoded length, kMalformed for a truncated or
// non-hex escape, kTooLong when the result would not fit (escapes are still fully checked).
ptrdiff_t decode_into(std::string_view in, char* out, size_t cap) {
  size_t n = 0;
  bool too_long = false;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return kMalformed;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return kMalformed;
      c = static_cast<char>(hi << 4 | lo);
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    if (n < cap) {
      out[n] = c;
    } else {
      too_long = true;
    }
    ++n;
  }
  return too_long ? kTooLong : static_cast<ptrdiff_t>(n);
}

bool escapes_ok(std::string_view in) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') continue;
    if (i + 2 >= in.size() || hex_value(in[i + 1]) < 0 || hex_value(in[i + 2]) < 0) return false;
    i += 2;
  }
  return true;
}

// Client-supplied text echoed in a failure reason: short and printable.
std::string printable(std::string_view s) {
  constexpr size_t kMaxEcho = 32;  // enough to recognise the value, not a reflection vector
  std::string r;
  for (size_t i = 0; i < s.size() && i < kMaxEcho; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    r.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (s.size() > kMaxEcho) r += "...";
  return r;
}

std::unexpected<Error> bad(std::string msg) { return fail(Errc::invalid_argument, std::move(msg)); }

// Parses decimal digits only (no sign, no spaces), at most `max`.
bool parse_uint(std::string_view s, uint64_t max, uint64_t& v) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (r > (UINT64_MAX - d) / 10) return false;
    r = r * 10 + d;
  }
  if (r > max) return false;
  v = r;
  return true;
}

enum Param : uint32_t {
  kInfoHash = 1u << 0,
  kPeerId = 1u << 1,
  kPort = 1u << 2,
  kUploaded = 1u << 3,
  kDownloaded = 1u << 4,
  kLeft = 1u << 5,
  kEvent = 1u << 6,
  kNumwant = 1u << 7,
  kCompact = 1u << 8,
  kNoPeerId = 1u << 9,
  kIp = 1u << 10,
  kJwt = 1u << 11,
};

struct ParamName {
  std::string_view name;
  Param bit;
};
constexpr ParamName kParams[] = {
    {"info_hash", kInfoHash}, {"peer_id", kPeerId},     {"port", kPort},       {"uploaded", kUploaded},
    {"downloaded", kDownloaded}, {"left", kLeft},       {"event", kEvent},     {"numwant", kNumwant},
    {"compact", kCompact},    {"no_peer_id", kNoPeerId}, {"ip", kIp},          {"jwt", kJwt},
};

// Iterates the '&'-separated fields of a query; empty fields are skipped.
template <class F>
Status for_each_param(std::string_view query, const QueryLimits& limits, size_t max_params, F&& f) {
  if (query.size() > limits.max_query_bytes) {
    return fail(Errc::too_large, "query string too long (max " + std::to_string(limits.max_query_bytes) + " bytes)");
  }
  size_t count = 0;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view field = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (field.empty()) continue;
    if (++count > max_params) {
      return fail(Errc::too_large, "too many parameters (max " + std::to_string(max_params) + ")");
    }
    size_t eq = field.find('=');
    std::string_view raw_key = field.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : field.substr(eq + 1);
    char keybuf[16];
    ptrdiff_t kn = decode_into(raw_key, keybuf, sizeof keybuf);
    if (kn == kMalformed) return bad("malformed percent-escape in a parameter name");
    std::string_view key = kn == kTooLong ? std::string_view{} : std::string_view(keybuf, static_cast<size_t>(kn));
    if (auto st = f(key, raw_value); !st) return st;
  }
  return {};
}

Status decode_20(std::string_view name, std::string_view raw, std::array<uint8_t, 20>& dest) {
  char buf[20];
  ptrdiff_t n = decode_into(raw, buf, sizeof buf);
  if (n == kMalformed) return bad("malformed percent-escape in parameter " + std::string(name));
  if (n != 20) {
    if (n == kTooLong) return bad("invalid " + std::string(name) + ": longer than 20 bytes");
    return bad("invalid " + std::string(name) + ": " + std::to_string(n) + " bytes, want 20");
  }
  std::memcpy(dest.data(), buf, 20);
  return {};
}

Status decode_string(std::string_view name, std::string_view raw, size_t max, std::string& dest) {
  if (raw.size() > 3 * max) return fail(Errc::too_large, "parameter " + std::string(name) + " too long");
  dest.resize(raw.size());
  ptrdiff_t n = decode_into(raw, dest.data(), dest.size());
  if (n == kMalformed) return bad("malformed percent-escape in parameter " + std::string(name));
  if (n < 0 || static_cast<size_t>(n) > max) return fail(Errc::too_large, "parameter " + std::string(name) + " too long");
  dest.resize(static_cast<size_t>(n));
  return {};
}

// Small decoded scalar values (numbers, event names) fit this buffer; longer ones are invalid.
constexpr size_t kScalarBytes = 24;

Status decode_scalar(std::string_view name, std::string_view raw, char (&buf)[kScalarBytes], std::string_view& out) {
  ptrdiff_t n = decode_into(raw, buf, sizeof buf);
  if (n == kMalformed) return bad("malformed percent-escape in parameter " + std::string(name));
  if (n == kTooLong) {
    out = std::string_view(buf, sizeof buf);
    return bad("invalid " + std::string(name) + ": " + printable(raw));
  }
  out = std::string_view(buf, static_cast<size_t>(n));
  return {};
}

}  // namespace

Status parse_announce(std::string_view query, AnnounceRequest& out, const QueryLimits& limits) {
  out.port = 0;
  out.uploaded = out.downloaded = out.left = 0;
  out.event = AnnounceEvent::none;
  out.numwant = -1;
  out.compact = true;
  out.no_peer_id = false;
  out.ip.clear();
  out.jwt.clear();
  uint32_t seen = 0;

  auto st = for_each_param(query, limits, limits.max_params, [&](std::string_view key, std::string_view raw) -> Status {
    Param bit{};
    std::string_view name;
    for (const auto& p : kParams) {
      if (p.name == key) {
        bit = p.bit;
        name = p.name;
        break;
      }
    }
    if (name.empty()) {
      if (!escapes_ok(raw)) return bad("malformed percent-escape in a parameter value");
      return {};
    }
    if (seen & bit) return bad("duplicate parameter: " + std::string(name));
    seen |= bit;

    switch (bit) {
      case kInfoHash: return decode_20(name, raw, out.info_hash);
      case kPeerId: return decode_20(name, raw, out.peer_id);
      case kIp: return decode_string(name, raw, 64, out.ip);
      case kJwt: return decode_string(name, raw, limits.max_value_bytes, out.jwt);
      default: break;
    }
    char buf[kScalarBytes];
    std::string_view v;
    if (auto s = decode_scalar(name, raw, buf, v); !s) return s;
    uint64_t n = 0;
    switch (bit) {
      case kPort:
        if (!parse_uint(v, 65535, n)) return bad("invalid port: " + printable(v));
        if (n == 0) return bad("invalid port: 0");
        out.port = static_cast<uint16_t>(n);
        return {};
      case kUploaded:
        if (!parse_uint(v, UINT64_MAX, out.uploaded)) return bad("invalid uploaded: " + printable(v));
        return {};
      case kDownloaded:
        if (!parse_uint(v, UINT64_MAX, out.downloaded)) return bad("invalid downloaded: " + printable(v));
        return {};
      case kLeft:
        if (!parse_uint(v, UINT64_MAX, out.left)) return bad("invalid left: " + printable(v));
        return {};
      case kNumwant:
        // Some clients send -1 for "tracker's choice".
        if (v.size() > 1 && v[0] == '-' && parse_uint(v.substr(1), UINT32_MAX, n)) return {};
        if (!parse_uint(v, UINT64_MAX, n)) return bad("invalid numwant: " + printable(v));
        if (n > limits.max_numwant_param) {
          return bad("invalid numwant: " + printable(v) + " (max " + std::to_string(limits.max_numwant_param) + ")");
        }
        out.numwant = static_cast<int64_t>(n);
        return {};
      case kEvent:
        if (v == "started") out.event = AnnounceEvent::started;
        else if (v == "completed") out.event = AnnounceEvent::completed;
        else if (v == "stopped") out.event = AnnounceEvent::stopped;
        else if (v.empty() || v == "empty" || v == "paused") out.event = AnnounceEvent::none;  // BEP 21 paused
        else return bad("invalid event: " + printable(v));
        return {};
      case kCompact:
        out.compact = v != "0";
        return {};
      case kNoPeerId:
        out.no_peer_id = !v.empty() && v != "0";
        return {};
      default:
        return {};
    }
  });
  if (!st) return st;
  if (!(seen & kInfoHash)) return bad("missing parameter: info_hash");
  if (!(seen & kPeerId)) return bad("missing parameter: peer_id");
  if (!(seen & kPort)) return bad("missing parameter: port");
  if (!(seen & kLeft)) return bad("missing parameter: left");
  return {};
}

Status find_query_param(std::string_view query, std::string_view name, std::string& out, size_t max_bytes) {
  out.clear();
  bool found = false;
  QueryLimits limits;
  return for_each_param(query, limits, limits.max_params, [&](std::string_view key, std::string_view raw) -> Status {
    if (found || key != name) return {};
    found = true;
    return decode_string(name, raw, max_bytes, out);
  });
}

Status parse_scrape(std::string_view query, ScrapeRequest& out, size_t max_infohashes, const QueryLimits& limits) {
  out.info_hashes.clear();
  size_t hashes_seen = 0;
  auto st = for_each_param(query, limits, limits.max_params + max_infohashes,
                           [&](std::string_view key, std::string_view raw) -> Status {
                             if (key != "info_hash") {
                               if (!escapes_ok(raw)) return bad("malformed percent-escape in a parameter value");
                               return {};
                             }
                             ++hashes_seen;
                             InfoHash ih;
                             if (auto s = decode_20("info_hash", raw, ih); !s) return s;
                             if (out.info_hashes.size() < max_infohashes) out.info_hashes.push_back(ih);
                             return {};
                           });
  if (!st) return st;
  if (hashes_seen == 0) return bad("missing parameter: info_hash");
  std::sort(out.info_hashes.begin(), out.info_hashes.end());
  out.info_hashes.erase(std::unique(out.info_hashes.begin(), out.info_hashes.end()), out.info_hashes.end());
  return {};
}

namespace {

void put_key(std::string& out, std::string_view key) { bput_str(out, key); }

void put_peer_dict(std::string& out, const uint8_t* entry, bool ipv6) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, entry, text, sizeof text);
  size_t alen = ipv6 ? 16 : 4;
  uint16_t port = static_cast<uint16_t>(entry[alen] << 8 | entry[alen + 1]);
  out.push_back('d');
  put_key(out, "ip");
  bput_str(out, text);
  put_key(out, "port");
  bput_int(out, port);
  out.push_back('e');
}

}  // namespace

void write_announce_reply(std::string& out, const AnnounceReply& r) {
  // Keys in byte order, as bencoding requires.
  out.push_back('d');
  put_key(out, "complete");
  bput_int(out, r.counts.seeders);
  put_key(out, "downloaded");
  bput_int(out, r.counts.downloaded);
  if (!r.external_ip.empty()) {
    put_key(out, "external ip");
    bput_str(out, r.external_ip);
  }
  put_key(out, "incomplete");
  bput_int(out, r.counts.leechers);
  put_key(out, "interval");
  bput_int(out, r.interval_s);
  put_key(out, "min interval");
  bput_int(out, r.min_interval_s);
  const size_t entry = r.ipv6 ? 18 : 6;
  const size_t n = r.peers.size() / entry;
  if (r.compact) {
    put_key(out, "peers");
    if (r.ipv6) {
      out += "0:";
      put_key(out, "peers6");
    }
    bput_str(out, std::string_view(r.peers.data(), n * entry));
  } else {
    put_key(out, "peers");
    out.push_back('l');
    const auto* p = reinterpret_cast<const uint8_t*>(r.peers.data());
    for (size_t i = 0; i < n; ++i) put_peer_dict(out, p + i * entry, r.ipv6);
    out.push_back('e');
  }
  out.push_back('e');
}

void write_failure(std::string& out, std::string_view reason) {
  out.push_back('d');
  put_key(out, "failure reason");
  bput_str(out, reason);
  out.push_back('e');
}

void write_scrape_reply(std::string& out, std::span<const InfoHash> hashes, std::span<const SwarmCounts> counts) {
  out.push_back('d');
  put_key(out, "files");
  out.push_back('d');
  for (size_t i = 0; i < hashes.size() && i < counts.size(); ++i) {
    bput_str(out, std::string_view(reinterpret_cast<const char*>(hashes[i].data()), hashes[i].size()));
    out.push_back('d');
    put_key(out, "complete");
    bput_int(out, counts[i].seeders);
    put_key(out, "downloaded");
    bput_int(out, counts[i].downloaded);
    put_key(out, "incomplete");
    bput_int(out, counts[i].leechers);
    out.push_back('e');
  }
  out.push_back('e');
  out.push_back('e');
}

}  // namespace sc
