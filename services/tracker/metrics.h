#pragma once
// The tracker's Prometheus metrics, resolved once at start so the hot path only touches
// pre-looked-up counters and histograms.
#include <cstdint>

#include "common/core/metrics.h"
#include "services/tracker/logic.h"

namespace sc {

class PeerStore;

class TrackerMetrics {
 public:
  explicit TrackerMetrics(MetricsRegistry& registry);

  // Request count and latency by action, address family and result.
  void record(Action action, bool ipv6, Outcome outcome, double seconds) {
    const int a = static_cast<int>(action), f = ipv6 ? 1 : 0;
    requests_[a][f][static_cast<int>(outcome)]->inc();
    latency_[a][f]->observe(seconds);
  }
  // Torrents, seeders, leechers and swarm-limit refusals, read from the store when scraped,
  // and the configured bound on swarms.
  void watch_store(const PeerStore& store, uint64_t max_swarms);
  void record_gc(double seconds, uint64_t dropped);

  MetricsRegistry& registry() { return registry_; }

 private:
  MetricsRegistry& registry_;
  Counter* requests_[2][2][3];
  Histogram* latency_[2][2];
  Histogram* gc_duration_;
  Counter* gc_dropped_;
};

}  // namespace sc
