#pragma once
// The metastore's HTTP frontend and logic: routes, auth, limits, JSON errors, events
// (long-poll and SSE), leases, nodes, GC and metrics, over a TorrentStore. Runs on one loop
// (the HttpServer's handlers and the store's callbacks share its thread).
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/core/metrics.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "services/metastore/auth.h"
#include "services/metastore/torrent_store.h"
#include "services/metastore/tunables.h"

namespace sc::metastore {

struct MetastoreConfig {
  int64_t max_torrent_bytes = kDefaultMaxTorrentBytes;
  bool read_requires_token = false;
  int64_t gc_max_age_ms = 0;    // 0: no age limit
  int64_t gc_max_count = 0;     // 0: no count limit
  int64_t gc_interval_ms = kDefaultGcIntervalMs;
  int64_t node_default_ttl_ms = kDefaultNodeTtlMs;
};

class MetastoreService {
 public:
  MetastoreService(EventLoop& loop, TorrentStore& store, TokenAuth auth, MetricsRegistry& metrics, MetastoreConfig config);
  ~MetastoreService();
  MetastoreService(const MetastoreService&) = delete;
  MetastoreService& operator=(const MetastoreService&) = delete;

  void install_routes(HttpServer& server);
  // Starts the periodic work: access-time flushes, GC, the torrents gauge, event waiters.
  void start();
  // Ends every long-poll and SSE stream (so a graceful shutdown can drain) and refuses new ones.
  void stop();

 private:
  enum Route : int {
    kPut, kGet, kHead, kDelete, kList, kEvents, kLeasePost, kLeaseDelete, kNodePut, kNodes,
    kHealthz, kReadyz, kMetrics, kOther, kRouteCount
  };
  struct Waiter;

  void on_torrents(HttpRequest& req);
  void on_torrent(HttpRequest& req);
  void on_events(HttpRequest& req);
  void on_lease(HttpRequest& req);
  void on_nodes(HttpRequest& req);
  void on_node(HttpRequest& req);
  void on_readyz(HttpRequest& req);

  void do_put(HttpRequest& req, const std::string& key, int64_t t0);
  void do_get(HttpRequest& req, const std::string& key, bool head, int64_t t0);
  void do_delete(HttpRequest& req, const std::string& key, int64_t t0);

  bool authorized(HttpRequest& req, Route route, int64_t t0, bool write);
  void send(HttpRequest& req, Route route, int64_t t0, int status, std::string_view content_type, std::string_view body);
  void send_error(HttpRequest& req, Route route, int64_t t0, const Error& err);
  void method_not_allowed(HttpRequest& req, Route route, int64_t t0, std::string_view allow);
  void record(Route route, int status, int64_t t0);

  void add_waiter(std::shared_ptr<Waiter> w);
  void fetch(const std::shared_ptr<Waiter>& w);
  void wake_all();
  void on_waiter_tick();
  void finish_waiter(Waiter& w);
  void run_gc();

  EventLoop& loop_;
  TorrentStore& store_;
  TokenAuth auth_;
  MetastoreConfig cfg_;
  MetricsRegistry& metrics_;

  Family<Counter>& requests_;
  std::vector<std::unordered_map<int, Counter*>> request_counters_;
  std::vector<Histogram*> durations_;
  Gauge& torrents_;
  Gauge& waiters_gauge_;
  Counter& gc_deleted_;
  Counter& internal_errors_;

  std::vector<std::shared_ptr<Waiter>> waiters_;
  std::string tip_ = "0-0";
  bool tip_fetching_ = false;
  bool stopping_ = false;
  bool gc_running_ = false;
  std::unique_ptr<Timer> touch_timer_, gc_timer_, count_timer_, waiter_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sc::metastore
