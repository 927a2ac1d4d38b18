#pragma once
// In-memory PeerStore: swarms sharded by info hash, one mutex per shard, peers kept as packed
// 8-byte (IPv4) / 20-byte (IPv6) entries in sorted vectors (address, port, 16-bit last-seen),
// seeders and leechers apart. Peers are identified by address and port; peer ids are not kept.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/core/clock.h"
#include "services/tracker/peer_store.h"

namespace sc {

// Last-seen seconds are kept modulo 2^16: gc_interval + peer_lifetime must stay below this.
inline constexpr int64_t kSeenWrapS = 65'536;

struct MemoryStoreOptions {
  size_t shards = 1024;
  int64_t peer_lifetime_ms = 31 * 60 * 1000;
  uint64_t max_swarms = kDefaultMaxSwarms;
};

class MemoryPeerStore final : public PeerStore {
 public:
  MemoryPeerStore(const Clock& clock, MemoryStoreOptions options);
  ~MemoryPeerStore() override;

  void announce(const StoreAnnounce& req, StoreAnnounceResult& out, Done done) override;
  void scrape(std::span<const InfoHash> hashes, std::vector<SwarmCounts>& out, Done done) override;
  void collect_garbage(GcDone done) override;
  StoreStats stats() const override;

  // Bytes held by peer entries (vector capacity), for memory accounting in tests and benches.
  size_t peer_bytes() const;

 private:
  struct Shard;
  Shard& shard_for(const InfoHash& ih, uint64_t& hash) const;

  const Clock& clock_;
  MemoryStoreOptions options_;
  std::unique_ptr<Shard[]> shards_;
  uint64_t hash_key_[3];
  // Swarms in all shards: checked (not locked) before a swarm is created, so concurrent
  // creators may overshoot max_swarms by at most one per thread.
  std::atomic<uint64_t> swarms_{0};
  std::atomic<uint64_t> swarm_limit_refusals_{0};
};

}  // namespace sc
