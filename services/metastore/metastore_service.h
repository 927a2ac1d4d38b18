#pragma once
// The metastore's HTTP frontend and logic: routes, auth, limits, JSON errors, events
// (long-poll and SSE), leases, nodes, GC and metrics, over a TorrentStore. One instance per
// event_base: the main loop's, or one per HttpServer worker thread (each with its own Redis
// connection); handlers, store callbacks and timers of an instance share its thread.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/core/metrics.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "services/metastore/auth.h"
#include "services/metastore/event_bell.h"
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
  int64_t events_max_len = kEventsMaxLen;
};

class MetastoreService {
 public:
  // `clock` is read from this instance's thread (a CoarseClock is safe for that). The instance
  // that runs the GC policy and refreshes the torrents gauge is the one with `housekeeping`.
  MetastoreService(struct event_base* base, const Clock& clock, TorrentStore& store, const TokenAuth& auth,
                   MetricsRegistry& metrics, MetastoreConfig config, bool housekeeping);
  ~MetastoreService();
  MetastoreService(const MetastoreService&) = delete;
  MetastoreService& operator=(const MetastoreService&) = delete;

  // Registers the routes; each request goes to the instance `current()` returns for the
  // calling thread.
  static void install_routes(HttpServer& server, std::function<MetastoreService*()> current);
  // Starts the periodic work: access-time flushes, event waiters, and with housekeeping the GC
  // and the torrents gauge. Once `*stop_flag` turns true the instance stops itself on its own
  // thread (within one waiter tick).
  void start(const std::atomic<bool>* stop_flag = nullptr);
  // Shares event wake-ups with the other instances of this process that join `bell`. Call on
  // this instance's thread, before start(); the bell must outlive the instance.
  void join(EventBell& bell);
  // Ends every long-poll and SSE stream (so a graceful shutdown can drain) and refuses new ones.
  void stop();

  void on_torrents(HttpRequest& req);
  void on_torrent(HttpRequest& req);
  void on_events(HttpRequest& req);
  void on_lease(HttpRequest& req);
  void on_quarantine(HttpRequest& req);
  void on_nodes(HttpRequest& req);
  void on_node(HttpRequest& req);
  void on_readyz(HttpRequest& req);
  void on_healthz(HttpRequest& req);
  void on_metrics(HttpRequest& req);

 private:
  enum Route : int {
    kPut, kGet, kHead, kDelete, kList, kEvents, kLeasePost, kLeaseDelete, kNodePut, kNodes,
    kHealthz, kReadyz, kMetrics, kQuarantine, kOther, kRouteCount
  };
  struct Waiter;

  void do_put(HttpRequest& req, const std::string& key, int64_t t0);
  void do_get(HttpRequest& req, const std::string& key, bool head, int64_t t0);
  void do_delete(HttpRequest& req, const std::string& key, int64_t t0);

  bool authorized(HttpRequest& req, Route route, int64_t t0, bool write);
  void send(HttpRequest& req, Route route, int64_t t0, int status, std::string_view content_type, std::string_view body);
  void send_error(HttpRequest& req, Route route, int64_t t0, const Error& err);
  void method_not_allowed(HttpRequest& req, Route route, int64_t t0, std::string_view allow);
  void record(Route route, int status, int64_t t0);

  void add_waiter(std::shared_ptr<Waiter> w);
  // Runs next() unless events after w's id were trimmed, in which case answers 410 Gone.
  void unless_lost(const std::shared_ptr<Waiter>& w, std::function<void()> next);
  void fetch(const std::shared_ptr<Waiter>& w);
  // After this instance appended to the event stream: wakes its waiters and rings the bell.
  void wake_all();
  void wake_waiters();
  void on_waiter_tick();
  void finish_waiter(Waiter& w);
  void run_gc();

  struct event_base* base_;
  const Clock& clock_;
  TorrentStore& store_;
  const TokenAuth& auth_;
  MetastoreConfig cfg_;
  MetricsRegistry& metrics_;

  Family<Counter>& requests_;
  std::vector<std::unordered_map<int, Counter*>> request_counters_;
  std::vector<Histogram*> durations_;
  Gauge& torrents_;
  Gauge& waiters_gauge_;
  Counter& gc_deleted_;
  Counter& quarantined_;
  Counter& internal_errors_;

  std::vector<std::shared_ptr<Waiter>> waiters_;
  std::string tip_ = "0-0";
  bool tip_fetching_ = false;
  bool stopping_ = false;
  bool gc_running_ = false;
  bool housekeeping_ = false;
  const std::atomic<bool>* stop_flag_ = nullptr;
  std::unique_ptr<Timer> touch_timer_, gc_timer_, count_timer_, waiter_timer_, gc_again_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<EventBell::Member> bell_;
};

}  // namespace sc::metastore
