#pragma once
// UDP tracker protocol (BEP 15) with BEP 41 URLData options: a pure, bounds-checked packet
// parser, response writers, and stateless connection ids (a keyed MAC of the client address
// and a coarse timestamp, so no per-client state is kept).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"
#include "proto/announce.h"

namespace sc {

inline constexpr uint64_t kUdpProtocolId = 0x41727101980ULL;

enum class UdpAction : uint32_t { connect = 0, announce = 1, scrape = 2, error = 3 };

struct UdpRequest {
  UdpAction action = UdpAction::connect;
  uint64_t connection_id = 0;
  uint32_t transaction_id = 0;
  // announce
  AnnounceRequest announce;   // numwant -1 when the client sent -1; ip/jwt filled as below
  uint32_t ipv4 = 0;          // the packet's ip field (host order), 0 if unset
  uint32_t key = 0;
  std::string url_data;       // BEP 41: concatenated URLData options ("/announce?jwt=…")
  // scrape
  std::vector<InfoHash> info_hashes;
};

struct UdpLimits {
  // BEP 15 allows ~74 hashes per scrape in a 1500-byte datagram; more is not a real client.
  size_t max_scrape_hashes = 74;
  size_t max_url_data = 1024;  // a JWT-bearing path fits easily
};

// The fixed 16-byte head of every request. False when the datagram is shorter.
struct UdpHeader {
  uint64_t connection_id = 0;
  uint32_t action = 0;
  uint32_t transaction_id = 0;
};
bool read_udp_header(std::span<const uint8_t> packet, UdpHeader& out);

// Parses a request datagram. Errors (invalid_argument) name the problem; the caller answers
// with an error packet when a transaction id could be read (`transaction_id_out` set), or
// drops the datagram otherwise. The connection id is not checked here.
Status parse_udp_request(std::span<const uint8_t> packet, UdpRequest& out, const UdpLimits& limits = {},
                         uint32_t* transaction_id_out = nullptr);

// SipHash-2-4 (Aumasson & Bernstein), a keyed PRF for short inputs; key as two little-endian
// 64-bit words.
uint64_t siphash24(const uint64_t key[2], std::span<const uint8_t> data);

// Stateless connection ids: 4 bytes of timestamp (seconds) and 4 bytes of a keyed MAC of
// timestamp || client address (Chihaya's construction, with SipHash-2-4 instead of
// HMAC-SHA256: as unforgeable for 32 bits of output, and ~100x cheaper per announce).
class ConnectionIdIssuer {
 public:
  ConnectionIdIssuer(std::string key, int64_t max_clock_skew_s);
  uint64_t issue(std::span<const uint8_t> client_addr, int64_t now_s) const;
  // Valid for 2 minutes after issue (BEP 15), plus the configured clock skew either side.
  bool valid(uint64_t id, std::span<const uint8_t> client_addr, int64_t now_s) const;

 private:
  uint32_t mac(uint32_t ts, std::span<const uint8_t> client_addr) const;
  uint64_t sip_key_[2];
  int64_t skew_s_;
};

void write_udp_connect(std::string& out, uint32_t transaction_id, uint64_t connection_id);
// `peers`: compact entries (6 bytes for IPv4, 18 for IPv6) — the family of the request.
void write_udp_announce(std::string& out, uint32_t transaction_id, int64_t interval_s, const SwarmCounts& counts,
                        std::string_view peers);
void write_udp_scrape(std::string& out, uint32_t transaction_id, std::span<const SwarmCounts> counts);
void write_udp_error(std::string& out, uint32_t transaction_id, std::string_view message);

}  // namespace sc
