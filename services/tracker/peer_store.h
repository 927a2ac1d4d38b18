#pragma once
// The tracker's peer storage interface. Implementations: the sharded in-memory store
// (peer_store_memory.h) and, for several tracker instances sharing swarms, Redis. Every
// implementation passes tests/unit/tracker/peer_store_conformance.h.
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "proto/announce.h"

struct sockaddr;

namespace sc {

// A peer's public address. IPv4 uses ip[0..4); IPv4-mapped IPv6 addresses are stored as IPv4.
struct PeerAddr {
  bool ipv6 = false;
  std::array<uint8_t, 16> ip{};
  uint16_t port = 0;

  size_t ip_len() const { return ipv6 ? 16 : 4; }
  // Compact encoding (BEP 23 / BEP 7): ip then big-endian port; 6 or 18 bytes.
  void append_compact(std::string& out) const;
  std::string ip_text() const;
  bool operator==(const PeerAddr&) const = default;
};

// Parses a textual IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4). Port is left 0.
Result<PeerAddr> parse_ip(std::string_view text);
// The address (and port) of a sockaddr_in/sockaddr_in6; IPv4-mapped IPv6 becomes IPv4.
PeerAddr peer_addr_from_sockaddr(const struct sockaddr* sa);

struct StoreAnnounce {
  InfoHash info_hash{};
  PeerAddr peer;
  bool seeder = false;          // left == 0
  AnnounceEvent event = AnnounceEvent::none;
  uint32_t numwant = 0;         // already capped by the logic
};

struct StoreAnnounceResult {
  SwarmCounts counts;           // after this announce, both address families together
  // Compact entries of the announcer's family only (6 or 18 bytes each), never the announcer
  // itself. A seeder gets leechers only; a leecher gets seeders first, then leechers.
  std::string peers;
};

struct StoreStats {
  uint64_t torrents = 0;
  uint64_t seeders = 0;
  uint64_t leechers = 0;
  uint64_t swarm_limit_refusals = 0;  // announces refused since start: max_swarms reached
};

// storage.max_swarms: an unknown info hash is refused once this many swarms exist, so random
// hashes cannot grow memory without bound (~180 B per swarm in the memory store: 1M swarms
// ≈ 180 MB before any peer). Generous for a real deployment; configurable.
inline constexpr uint64_t kDefaultMaxSwarms = 1'000'000;
// The failure reason a client gets then (a tracker-side limit, not the client's mistake).
inline constexpr const char* kSwarmLimitReason = "tracker full: no new torrents accepted (swarm limit reached)";

class PeerStore {
 public:
  using Done = std::function<void(Status)>;
  virtual ~PeerStore() = default;

  // Records the announce and fills `out` (its string capacity is reused). event=stopped removes
  // the peer at once and returns no peers; event=completed counts a download. `done` runs
  // exactly once, possibly before announce() returns (memory) or later on the caller's
  // thread (Redis); `out` must stay valid until then. Errors: unavailable (backend down);
  // too_large with kSwarmLimitReason when the announce would create a swarm beyond
  // max_swarms (announces to existing swarms, and stops, are always served).
  virtual void announce(const StoreAnnounce& req, StoreAnnounceResult& out, Done done) = 0;

  // Counts for each hash (parallel to `hashes`; unknown swarms are zeros). Same contract.
  virtual void scrape(std::span<const InfoHash> hashes, std::vector<SwarmCounts>& out, Done done) = 0;

  // Drops peers not seen for peer_lifetime and empty swarms. Called from a timer on the main
  // loop, so it never waits on I/O: `done` gets the number of peers dropped, exactly once,
  // before collect_garbage() returns (memory) or later on the store's own thread (Redis). A
  // call while a sweep is still running gets done(0) at once.
  using GcDone = std::function<void(uint64_t dropped)>;
  virtual void collect_garbage(GcDone done) = 0;

  // Approximate totals for /metrics; thread-safe.
  virtual StoreStats stats() const = 0;

  // False while the backend cannot serve (drives /readyz).
  virtual bool ready() const { return true; }
};

}  // namespace sc
