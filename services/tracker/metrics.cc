// Registration of the tracker's metrics (names: swarmcache_tracker_<thing>_<unit>).
#include "services/tracker/metrics.h"

#include "services/tracker/peer_store.h"

namespace sc {

TrackerMetrics::TrackerMetrics(MetricsRegistry& registry) : registry_(registry) {
  auto& requests = registry.counter_family("swarmcache_tracker_requests_total",
                                           "Tracker requests by action, address family and result.",
                                           {"action", "af", "result"});
  auto& latency = registry.histogram_family("swarmcache_tracker_request_duration_seconds",
                                            "Time from request parsed to response written.", {"action", "af"});
  static constexpr const char* kActions[] = {"announce", "scrape"};
  static constexpr const char* kFamilies[] = {"ipv4", "ipv6"};
  static constexpr const char* kResults[] = {"ok", "client_error", "server_error"};
  for (int a = 0; a < 2; ++a)
    for (int f = 0; f < 2; ++f) {
      latency_[a][f] = &latency.with({kActions[a], kFamilies[f]});
      for (int r = 0; r < 3; ++r) requests_[a][f][r] = &requests.with({kActions[a], kFamilies[f], kResults[r]});
    }
  gc_duration_ = &registry.histogram("swarmcache_tracker_gc_duration_seconds", "Duration of each expired-peer sweep.");
  gc_dropped_ = &registry.counter("swarmcache_tracker_gc_expired_peers_total", "Peers dropped by the sweep.");
}

void TrackerMetrics::watch_store(const PeerStore& store, uint64_t max_swarms) {
  registry_.gauge_callback("swarmcache_tracker_max_swarms", "storage.max_swarms: the bound on swarms.",
                           [max_swarms] { return static_cast<double>(max_swarms); });
  registry_.gauge_callback("swarmcache_tracker_swarm_limit_refusals",
                           "Announces refused since start because max_swarms swarms existed (only grows).",
                           [&store] { return static_cast<double>(store.stats().swarm_limit_refusals); });
  registry_.gauge_callback("swarmcache_tracker_torrents", "Swarms with at least one peer.",
                           [&store] { return static_cast<double>(store.stats().torrents); });
  registry_.gauge_callback("swarmcache_tracker_seeders", "Seeders across all swarms.",
                           [&store] { return static_cast<double>(store.stats().seeders); });
  registry_.gauge_callback("swarmcache_tracker_leechers", "Leechers across all swarms.",
                           [&store] { return static_cast<double>(store.stats().leechers); });
}

void TrackerMetrics::record_gc(double seconds, uint64_t dropped) {
  gc_duration_->observe(seconds);
  gc_dropped_->inc(dropped);
}

}  // namespace sc
