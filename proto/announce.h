#pragma once
// Tracker announce and scrape over HTTP (BEP 3, 7, 23, 24, 48): a strict, allocation-light
// parser of the query string, and bencoded response writers. Pure: bytes in, a struct or a
// precise client-visible error out (the error message is sent as the `failure reason`).
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace sc {

using InfoHash = std::array<uint8_t, 20>;
using PeerId = std::array<uint8_t, 20>;

enum class AnnounceEvent : uint8_t { none, started, completed, stopped };

std::string_view announce_event_name(AnnounceEvent e);

struct QueryLimits {
  // A real announce is ~300 bytes (~1.3 KB with a JWT). Below evhtp's own ~8 KB request-line
  // cut-off, so an oversized query still gets a readable failure reason.
  size_t max_query_bytes = 4096;
  // Clients send ~15 parameters; anything far beyond is junk or an attack.
  size_t max_params = 64;
  // Largest accepted numwant; above this the request is refused, not capped (a client
  // asking for billions of peers is broken). Reasonable values are capped by max_numwant.
  uint64_t max_numwant_param = 1'000'000;
  // Longest decoded value we keep for free-form parameters (ip, jwt, key).
  size_t max_value_bytes = 4096;
};

struct AnnounceRequest {
  InfoHash info_hash{};
  PeerId peer_id{};
  uint16_t port = 0;
  uint64_t uploaded = 0;
  uint64_t downloaded = 0;
  uint64_t left = 0;
  AnnounceEvent event = AnnounceEvent::none;
  int64_t numwant = -1;   // -1: not sent
  bool compact = true;    // BEP 23: compact unless compact=0
  bool no_peer_id = false;
  std::string ip;         // decoded `ip` parameter, "" if absent (honoured only with spoofing on)
  std::string jwt;        // decoded `jwt` parameter for the jwt prehook, "" if absent
};

// Parses an announce query string (without '?') into `out`, reusing its string capacity.
// Required: info_hash (20 bytes), peer_id (20 bytes), port (1..65535), left. Optional:
// uploaded, downloaded, event, numwant, compact, no_peer_id, ip, jwt; others are ignored
// (but still checked for malformed escapes). Errors (invalid_argument / too_large) carry the
// reason meant for the client, e.g. "duplicate parameter: port".
Status parse_announce(std::string_view query, AnnounceRequest& out, const QueryLimits& limits = {});

// The decoded value of the first `name` parameter of a query ("" if absent), for hooks that
// read extra parameters (BEP 41 URLData). Errors: malformed escape, value over max_bytes.
Status find_query_param(std::string_view query, std::string_view name, std::string& out, size_t max_bytes = 4096);

struct ScrapeRequest {
  std::vector<InfoHash> info_hashes;  // sorted, unique, at most max_infohashes
};

// Parses a scrape query: one or more info_hash parameters. Like Chihaya, more than
// `max_infohashes` distinct hashes are cut to the first max_infohashes.
Status parse_scrape(std::string_view query, ScrapeRequest& out, size_t max_infohashes,
                    const QueryLimits& limits = {});

struct SwarmCounts {
  uint32_t seeders = 0;
  uint32_t leechers = 0;
  uint32_t downloaded = 0;
};

struct AnnounceReply {
  SwarmCounts counts;
  int64_t interval_s = 1800;
  int64_t min_interval_s = 900;
  bool ipv6 = false;           // peers are 18-byte entries (BEP 7 peers6) instead of 6-byte
  std::string_view peers;      // compact entries: ip (network order) then port (big-endian)
  bool compact = true;
  bool no_peer_id = false;     // peer ids are not stored: dict lists (compact=false) omit them
  std::string_view external_ip;  // BEP 24: 4 or 16 raw bytes, "" to omit
};

// Appends the bencoded announce response to `out`.
void write_announce_reply(std::string& out, const AnnounceReply& reply);
// Appends d14:failure reason…e.
void write_failure(std::string& out, std::string_view reason);
// Appends the scrape response; `hashes` must be sorted and unique (as parse_scrape leaves them),
// `counts` parallel to it.
void write_scrape_reply(std::string& out, std::span<const InfoHash> hashes,
                        std::span<const SwarmCounts> counts);

}  // namespace sc
