#pragma once
// In-memory PeerStore: swarms sharded by info hash, one mutex per shard, peers kept as packed
// 10-byte (IPv4) / 22-byte (IPv6) entries in sorted vectors (address, port, last-seen second),
// seeders and leechers apart. Peers are identified by address and port; peer ids are not kept.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/core/clock.h"
#include "services/tracker/peer_store.h"

namespace sc {

struct MemoryStoreOptions {
  size_t shards = 1024;
  int64_t peer_lifetime_ms = 31 * 60 * 1000;
};

class MemoryPeerStore final : public PeerStore {
 public:
  MemoryPeerStore(const Clock& clock, MemoryStoreOptions options);
  ~MemoryPeerStore() override;

  void announce(const StoreAnnounce& req, StoreAnnounceResult& out, Done done) override;
  void scrape(std::span<const InfoHash> hashes, std::vector<SwarmCounts>& out, Done done) override;
  uint64_t collect_garbage() override;
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
};

}  // namespace sc
