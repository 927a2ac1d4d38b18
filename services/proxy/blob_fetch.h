#pragma once
// The blob state machine, one per digest being fetched: cache → swarm (a torrent registered
// under the key) → lease/wait (another proxy is fetching it: wait for its torrent) → upstream
// tee → verify → register. Concurrent requests for one blob share one fetch. Bytes reach a
// client only as they are checked, the last chunk only once the whole blob matched: when bytes
// already sent turn out wrong the response is aborted (never completed), the bad source is
// dropped (cache entry evicted, torrent marked bad) and the next request starts clean.
// Driven only through blob_ports.h and an EventLoop (manual time in the unit suite).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "services/proxy/blob_ports.h"

namespace sc {

class Counter;
class EventLoop;
template <typename T>
class Family;
class MetricsRegistry;

struct BlobFetchOptions {
  int64_t lease_wait_ms = 60'000;    // a lease loser waits this long for the winner's torrent
  int64_t swarm_timeout_ms = 10'000;  // a swarm download gaining nothing this long goes upstream
};

// What is asked for: the blob's file name in the store (hex) and content key, and whether its
// bytes must hash to hex (registry blobs) or are only vouched for by piece hashes (OSTree).
struct BlobAsk {
  std::string hex, key;
  bool verify = true;
};

class BlobFetcher {
 public:
  struct Ports {
    BlobStore& store;
    TorrentRegistry* registry = nullptr;  // with swarm: the cluster path (lookup, lease, register)
    // Without a registry, fetched blobs are still seeded.
    SwarmDownloads* swarm = nullptr;
  };
  BlobFetcher(EventLoop& loop, Ports ports, BlobFetchOptions options, MetricsRegistry& metrics);
  ~BlobFetcher();
  BlobFetcher(const BlobFetcher&) = delete;
  BlobFetcher& operator=(const BlobFetcher&) = delete;

  // Serves one request: from the cache, or by joining (or starting) the blob's fetch from the
  // source `make_source` gives (called only on a miss). A HEAD that misses asks the source.
  using SourceFactory = std::function<std::shared_ptr<UpstreamSource>()>;
  void serve(const BlobAsk& ask, BlobSink& sink, const SourceFactory& make_source);
  size_t fetches_in_flight() const { return inflight_.size(); }
  size_t cache_checks_running() const { return checks_.size(); }

 private:
  struct Fetch;
  struct CacheCheck;
  using FetchPtr = std::shared_ptr<Fetch>;

  void serve_cached(const BlobAsk& ask, BlobSink& sink, const BlobStore::Entry& e,
                    Counter& served_from);
  void check_cached(const BlobAsk& ask, std::shared_ptr<BlobSink> sink, int fd, const BlobStore::Entry& e,
                    Counter& served_from);
  void check_tick(uint64_t id);
  void head_upstream(const BlobAsk& ask, std::shared_ptr<BlobSink> sink, UpstreamSource& source);

  void start(const FetchPtr& f);
  void wait_for_torrent(const FetchPtr& f, int64_t deadline_ms);
  void fetch_swarm(const FetchPtr& f, const std::string& torrent);
  void swarm_tick(const FetchPtr& f);
  void swarm_stall_check(const FetchPtr& f, int64_t last_progress);
  void swarm_done(const FetchPtr& f);
  void abandon_swarm(const FetchPtr& f);
  void fetch_upstream(const FetchPtr& f);
  void upstream_data(const FetchPtr& f, std::string_view data);
  void upstream_done(const FetchPtr& f, Status st);
  void finish(const FetchPtr& f, Status st, Counter& first_source);
  void register_blob(const FetchPtr& f);
  void release(const FetchPtr& f);
  std::shared_ptr<BlobSink> take_streamer(Fetch& f);
  void count(std::string_view result);

  EventLoop& loop_;
  Ports ports_;
  BlobFetchOptions opt_;
  std::unordered_map<std::string, FetchPtr> inflight_;  // by hex
  std::unordered_map<uint64_t, std::unique_ptr<CacheCheck>> checks_;
  uint64_t next_check_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<SourceCall>> heads_;  // HEADs of blobs not cached
  std::unordered_set<uint64_t> answered_heads_;
  uint64_t next_head_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  Counter &served_cache_, &served_peer_, &served_upstream_;
  Family<Counter>& requests_;
  Counter& digest_mismatch_;
  Counter& registered_;
  Family<Counter>& swarm_downloads_;
  Family<Counter>& leases_;
  Counter& upstream_fetches_;
  Counter& quarantined_;
};

}  // namespace sc
