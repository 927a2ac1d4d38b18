// The sharded in-memory peer store. Hot-path work per announce: one keyed hash, one shard
// lock, a binary search in a packed sorted vector, and a contiguous copy of compact peers.
// Expiry is a sweep run by collect_garbage() from a timer, never on the announce path.
#include "services/tracker/peer_store_memory.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <cstring>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

namespace sc {
namespace {

// One peer: address bytes, big-endian port, then the last-seen second modulo 2^16 (native
// order). 16 bits wrap every ~18 h; ages are taken modulo 2^16, which is exact as long as a
// sweep comes within 18 h - peer_lifetime of the last announce (the config enforces
// gc_interval + peer_lifetime < kSeenWrapS). That makes an IPv4 entry 8 bytes instead of 10.
// Byte arrays keep alignment 1, so a vector packs them with no padding.
template <size_t A>
struct Entry {
  static constexpr size_t kKey = A + 2;
  uint8_t key[kKey];
  uint8_t seen[2];

  uint16_t seen16() const {
    uint16_t s;
    std::memcpy(&s, seen, 2);
    return s;
  }
  void set_seen(uint32_t s) {
    const auto s16 = static_cast<uint16_t>(s);
    std::memcpy(seen, &s16, 2);
  }
  // Seconds since last seen, modulo 2^16.
  uint32_t age(uint32_t now) const { return static_cast<uint16_t>(static_cast<uint16_t>(now) - seen16()); }
};
static_assert(sizeof(Entry<4>) == 8);
static_assert(sizeof(Entry<16>) == 20);

template <size_t A>
class PeerSet {
 public:
  using E = Entry<A>;

  size_t size() const { return v_.size(); }
  size_t capacity_bytes() const { return v_.capacity() * sizeof(E); }

  // Returns true when the peer is new.
  bool upsert(const uint8_t* key, uint32_t now) {
    auto it = lower(key);
    if (it != v_.end() && std::memcmp(it->key, key, E::kKey) == 0) {
      it->set_seen(now);
      return false;
    }
    if (v_.size() == v_.capacity()) {
      // Grow by 1/8 rather than 2x: swarms are long-lived, so memory matters more than the
      // extra reallocations (slack averages ~6 % instead of ~12 % with 1/4: at 1M IPv4 peers
      // 11.0 → 10.5 B/peer RSS, bench/tracker; the per-peer goal is 11 bytes).
      size_t pos = static_cast<size_t>(it - v_.begin());
      v_.reserve(v_.size() + v_.size() / 8 + 4);
      it = v_.begin() + static_cast<ptrdiff_t>(pos);
    }
    E e;
    std::memcpy(e.key, key, E::kKey);
    e.set_seen(now);
    v_.insert(it, e);
    return true;
  }

  bool erase(const uint8_t* key) {
    auto it = lower(key);
    if (it == v_.end() || std::memcmp(it->key, key, E::kKey) != 0) return false;
    v_.erase(it);
    return true;
  }

  // Appends up to k compact entries starting at a random offset, skipping `self`.
  size_t sample(std::string& out, size_t k, const uint8_t* self, uint64_t rnd) const {
    const size_t n = v_.size();
    if (n == 0 || k == 0) return 0;
    size_t start = static_cast<size_t>(rnd % n);
    size_t taken = 0;
    for (size_t i = 0; i < n && taken < k; ++i) {
      size_t idx = start + i;
      if (idx >= n) idx -= n;
      const E& e = v_[idx];
      if (self && std::memcmp(e.key, self, E::kKey) == 0) continue;
      out.append(reinterpret_cast<const char*>(e.key), E::kKey);
      ++taken;
    }
    return taken;
  }

  // Drops entries older than max_age seconds.
  size_t sweep(uint32_t now, uint32_t max_age) {
    auto end = std::remove_if(v_.begin(), v_.end(), [&](const E& e) { return e.age(now) > max_age; });
    size_t removed = static_cast<size_t>(v_.end() - end);
    v_.erase(end, v_.end());
    // Give memory back after a swarm shrinks a lot (flash crowds leave large vectors).
    if (v_.capacity() > 2 * v_.size() + 8) v_.shrink_to_fit();
    return removed;
  }

 private:
  typename std::vector<E>::iterator lower(const uint8_t* key) {
    return std::lower_bound(v_.begin(), v_.end(), key,
                            [](const E& e, const uint8_t* k) { return std::memcmp(e.key, k, E::kKey) < 0; });
  }
  std::vector<E> v_;
};

struct V6Peers {
  PeerSet<16> seeders, leechers;
};

struct Swarm {
  PeerSet<4> seeders4, leechers4;
  // Allocated on the first IPv6 announce: most swarms never see one, and two empty vectors
  // cost 48 bytes per swarm (~0.5 B per peer at 100 peers per swarm).
  std::unique_ptr<V6Peers> v6;
  uint32_t downloaded = 0;

  size_t seeders6() const { return v6 ? v6->seeders.size() : 0; }
  size_t leechers6() const { return v6 ? v6->leechers.size() : 0; }
  uint32_t seeders() const { return static_cast<uint32_t>(seeders4.size() + seeders6()); }
  uint32_t leechers() const { return static_cast<uint32_t>(leechers4.size() + leechers6()); }
  bool empty() const { return seeders() == 0 && leechers() == 0; }
  SwarmCounts counts() const { return {seeders(), leechers(), downloaded}; }
  V6Peers& ipv6() {
    if (!v6) v6 = std::make_unique<V6Peers>();
    return *v6;
  }
};

struct PrecomputedHash {
  size_t operator()(uint64_t h) const { return static_cast<size_t>(h); }
};

uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t thread_random() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32 | rd()) | 1;
  }();
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

struct HashKeyedSwarm {
  InfoHash ih;
  Swarm swarm;
};

}  // namespace

struct alignas(64) MemoryPeerStore::Shard {
  mutable std::mutex mu;
  // Keyed by the store's keyed hash of the info hash; collisions resolved by comparing ih.
  std::unordered_multimap<uint64_t, HashKeyedSwarm, PrecomputedHash> swarms;
  std::atomic<uint64_t> seeders{0}, leechers{0}, torrents{0};

  Swarm* find(uint64_t h, const InfoHash& ih) {
    auto [b, e] = swarms.equal_range(h);
    for (auto it = b; it != e; ++it)
      if (it->second.ih == ih) return &it->second.swarm;
    return nullptr;
  }
  void erase(uint64_t h, const InfoHash& ih) {
    auto [b, e] = swarms.equal_range(h);
    for (auto it = b; it != e; ++it)
      if (it->second.ih == ih) {
        swarms.erase(it);
        return;
      }
  }
  void publish(int64_t d_seeders, int64_t d_leechers) {
    if (d_seeders) seeders.fetch_add(static_cast<uint64_t>(d_seeders), std::memory_order_relaxed);
    if (d_leechers) leechers.fetch_add(static_cast<uint64_t>(d_leechers), std::memory_order_relaxed);
    torrents.store(swarms.size(), std::memory_order_relaxed);
  }
};

MemoryPeerStore::MemoryPeerStore(const Clock& clock, MemoryStoreOptions options)
    : clock_(clock), options_(options) {
  if (options_.shards == 0) options_.shards = 1;
  shards_ = std::make_unique<Shard[]>(options_.shards);
  // A secret key, so clients cannot pick info hashes that all land in one bucket.
  std::random_device rd;
  for (auto& k : hash_key_) k = static_cast<uint64_t>(rd()) << 32 | rd();
}

MemoryPeerStore::~MemoryPeerStore() = default;

MemoryPeerStore::Shard& MemoryPeerStore::shard_for(const InfoHash& ih, uint64_t& hash) const {
  uint64_t w[3] = {0, 0, 0};
  std::memcpy(&w[0], ih.data(), 8);
  std::memcpy(&w[1], ih.data() + 8, 8);
  std::memcpy(&w[2], ih.data() + 16, 4);
  uint64_t h = mix64(w[0] ^ hash_key_[0]);
  h = mix64(h ^ w[1] ^ hash_key_[1]);
  h = mix64(h ^ w[2] ^ hash_key_[2]);
  hash = h;
  return shards_[(h >> 32) % options_.shards];
}

void MemoryPeerStore::announce(const StoreAnnounce& req, StoreAnnounceResult& out, Done done) {
  out.peers.clear();
  out.counts = {};
  uint64_t h;
  Shard& sh = shard_for(req.info_hash, h);
  uint8_t key[18];
  const size_t alen = req.peer.ip_len();
  std::memcpy(key, req.peer.ip.data(), alen);
  key[alen] = static_cast<uint8_t>(req.peer.port >> 8);
  key[alen + 1] = static_cast<uint8_t>(req.peer.port & 0xff);
  const uint32_t now = static_cast<uint32_t>(clock_.now_s());
  const uint64_t rnd = thread_random();
  bool refused = false;

  {
    std::lock_guard lock(sh.mu);
    Swarm* s = sh.find(h, req.info_hash);
    if (req.event == AnnounceEvent::stopped) {
      if (s) {
        int64_t ds = 0, dl = 0;
        if (!req.peer.ipv6) {
          ds -= s->seeders4.erase(key);
          dl -= s->leechers4.erase(key);
        } else if (s->v6) {
          ds -= s->v6->seeders.erase(key);
          dl -= s->v6->leechers.erase(key);
        }
        out.counts = s->counts();
        if (s->empty()) {
          sh.erase(h, req.info_hash);
          swarms_.fetch_sub(1, std::memory_order_relaxed);
        }
        sh.publish(ds, dl);
      }
    } else {
      if (!s) {
        if (swarms_.load(std::memory_order_relaxed) >= options_.max_swarms) {
          swarm_limit_refusals_.fetch_add(1, std::memory_order_relaxed);
          refused = true;
        } else {
          swarms_.fetch_add(1, std::memory_order_relaxed);
          s = &sh.swarms.emplace(h, HashKeyedSwarm{req.info_hash, {}})->second.swarm;
        }
      }
    }
    if (s && req.event != AnnounceEvent::stopped) {
      int64_t ds = 0, dl = 0;
      // Same steps for either family; only the pair of peer sets differs.
      auto announce_in = [&](auto& seeders, auto& leechers) {
        auto& mine = req.seeder ? seeders : leechers;
        auto& other = req.seeder ? leechers : seeders;
        bool added = mine.upsert(key, now);
        bool moved = other.erase(key);
        (req.seeder ? ds : dl) += added;
        (req.seeder ? dl : ds) -= moved;
        if (req.seeder) {
          leechers.sample(out.peers, req.numwant, nullptr, rnd);
        } else {
          size_t got = seeders.sample(out.peers, req.numwant, nullptr, rnd);
          leechers.sample(out.peers, req.numwant - got, key, rnd >> 7);
        }
      };
      if (req.peer.ipv6) announce_in(s->ipv6().seeders, s->ipv6().leechers);
      else announce_in(s->seeders4, s->leechers4);
      if (req.event == AnnounceEvent::completed) ++s->downloaded;
      out.counts = s->counts();
      sh.publish(ds, dl);
    }
  }
  if (refused) return done(fail(Errc::too_large, kSwarmLimitReason));
  done({});
}

void MemoryPeerStore::scrape(std::span<const InfoHash> hashes, std::vector<SwarmCounts>& out, Done done) {
  out.assign(hashes.size(), SwarmCounts{});
  for (size_t i = 0; i < hashes.size(); ++i) {
    uint64_t h;
    Shard& sh = shard_for(hashes[i], h);
    std::lock_guard lock(sh.mu);
    if (Swarm* s = sh.find(h, hashes[i])) out[i] = s->counts();
  }
  done({});
}

void MemoryPeerStore::collect_garbage(GcDone done) {
  const auto now = static_cast<uint32_t>(clock_.now_s());
  const auto max_age = static_cast<uint32_t>(options_.peer_lifetime_ms / 1000);
  uint64_t dropped = 0;
  for (size_t i = 0; i < options_.shards; ++i) {
    Shard& sh = shards_[i];
    std::lock_guard lock(sh.mu);
    int64_t ds = 0, dl = 0;
    for (auto it = sh.swarms.begin(); it != sh.swarms.end();) {
      Swarm& s = it->second.swarm;
      size_t a = s.seeders4.sweep(now, max_age);
      size_t b = s.leechers4.sweep(now, max_age);
      if (s.v6) {
        a += s.v6->seeders.sweep(now, max_age);
        b += s.v6->leechers.sweep(now, max_age);
        if (s.v6->seeders.size() + s.v6->leechers.size() == 0) s.v6.reset();
      }
      ds -= static_cast<int64_t>(a);
      dl -= static_cast<int64_t>(b);
      dropped += a + b;
      if (s.empty()) {
        it = sh.swarms.erase(it);
        swarms_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++it;
      }
    }
    sh.publish(ds, dl);
  }
  done(dropped);
}

StoreStats MemoryPeerStore::stats() const {
  StoreStats st;
  for (size_t i = 0; i < options_.shards; ++i) {
    st.torrents += shards_[i].torrents.load(std::memory_order_relaxed);
    st.seeders += shards_[i].seeders.load(std::memory_order_relaxed);
    st.leechers += shards_[i].leechers.load(std::memory_order_relaxed);
  }
  st.swarm_limit_refusals = swarm_limit_refusals_.load(std::memory_order_relaxed);
  return st;
}

size_t MemoryPeerStore::peer_bytes() const {
  size_t total = 0;
  for (size_t i = 0; i < options_.shards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    for (const auto& [h, hs] : shards_[i].swarms) {
      const Swarm& s = hs.swarm;
      total += s.seeders4.capacity_bytes() + s.leechers4.capacity_bytes();
      if (s.v6) total += s.v6->seeders.capacity_bytes() + s.v6->leechers.capacity_bytes();
    }
  }
  return total;
}

}  // namespace sc
