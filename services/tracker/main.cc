// swarmcache-tracker: the composition root. Reads the config (ours or Chihaya's), builds the
// clock, peer store, logic, HTTP frontend and admin listener, adopts systemd sockets, and
// runs until SIGTERM, draining in-flight requests before it exits.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/io/daemon.h"
#include "common/core/metrics.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "common/io/systemd.h"
#include "services/tracker/config.h"
#include "services/tracker/http_frontend.h"
#include "services/tracker/logic.h"
#include "services/tracker/metrics.h"
#include "services/tracker/peer_store_memory.h"
#include "services/tracker/peer_store_redis.h"
#include "services/tracker/prehooks.h"
#include "services/tracker/udp_frontend.h"

namespace sc {
namespace {

// Admin endpoints are scraped by Prometheus and health checkers only: a small limit is plenty.
constexpr uint64_t kAdminMaxBody = 1024;
// Announces are GETs; any body is a mistake.
constexpr uint64_t kPublicMaxBody = 1024;
// Real announce URIs are ~300-600 bytes (a JWT adds ~1 KB).
constexpr size_t kPublicMaxUri = 4096;
// Clients send ~10 headers; proxies add a few.
constexpr size_t kPublicMaxHeaders = 64;
constexpr size_t kPublicMaxHeaderBytes = 8 << 10;

int run(int argc, char** argv) {
  Options opts("swarmcache-tracker",
               "BitTorrent tracker (HTTP, BEP 3/7/23/24/48); reads its own YAML or a Chihaya config");
  TrackerConfig cfg;
  declare_tracker_options(opts, cfg);
  if (auto exit_code = parse_command_line(opts, "swarmcache-tracker", argc, argv, cfg.log_level)) return *exit_code;

  auto logic_opts = make_logic_options(cfg);
  if (!logic_opts) {
    SC_ERROR("invalid configuration", {"error", logic_opts.error().message});
    return 2;
  }
  if (!cfg.real_ip_header.empty() && cfg.trusted_proxies.empty()) {
    SC_WARN("real_ip_header is ignored until http.trusted_proxies lists your proxies",
            {"real_ip_header", cfg.real_ip_header});
  }
  if (cfg.storage_name != "memory" && cfg.storage_name != "redis") {
    SC_ERROR("unsupported storage", {"storage.name", cfg.storage_name}, {"supported", "memory, redis"});
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  EventLoop loop;
  MetricsRegistry registry;
  TrackerMetrics metrics(registry);

  std::unique_ptr<PeerStore> store;
  RedisPeerStore* redis_store = nullptr;
  if (cfg.storage_name == "redis") {
    auto ropts = parse_redis_url(cfg.redis_broker);
    if (!ropts) {
      SC_ERROR("invalid storage.config.redis_broker", {"error", ropts.error().message});
      return 2;
    }
    if (cfg.redis_read_timeout_ms < 1 || cfg.redis_write_timeout_ms < 1 || cfg.redis_connect_timeout_ms < 1) {
      SC_ERROR("storage.config.redis_*_timeout must be positive");
      return 2;
    }
    ropts->command_timeout_ms = std::max(cfg.redis_read_timeout_ms, cfg.redis_write_timeout_ms);
    ropts->connect_timeout_ms = cfg.redis_connect_timeout_ms;
    RedisStoreOptions rsopts{.redis = *ropts,
                             .key_prefix = cfg.redis_key_prefix,
                             .peer_lifetime_ms = cfg.peer_lifetime_ms,
                             .max_swarms = static_cast<uint64_t>(cfg.max_swarms)};
    auto rs = std::make_unique<RedisPeerStore>(loop.clock(), std::move(rsopts));
    if (auto st = rs->start(); !st) {
      SC_ERROR("cannot start the redis peer store", {"error", st.error().message});
      return 2;
    }
    redis_store = rs.get();
    store = std::move(rs);
  } else {
    MemoryStoreOptions mopts;
    mopts.shards = static_cast<size_t>(cfg.shard_count);
    mopts.peer_lifetime_ms = cfg.peer_lifetime_ms;
    mopts.max_swarms = static_cast<uint64_t>(cfg.max_swarms);
    store = std::make_unique<MemoryPeerStore>(loop.clock(), mopts);
  }
  metrics.watch_store(*store, static_cast<uint64_t>(cfg.max_swarms));

  TrackerLogic logic(*logic_opts, *store);
  auto hooks = make_prehooks(cfg.prehooks, loop, registry, loop.clock());
  if (!hooks) {
    // Starting without a configured jwt or approval hook would silently open the tracker.
    SC_ERROR("invalid prehook configuration", {"error", hooks.error().message});
    return 2;
  }
  for (auto& h : *hooks) logic.add_prehook(std::move(h));
  loop.on_signal(SIGHUP, [&] {
    for (const auto& h : logic.prehooks()) reload_prehook(*h);
  });
  HttpFrontend frontend(logic, metrics);

  HttpServerOptions popts;
  popts.listen = cfg.http_addr;
  popts.adopted_fd = systemd_socket("http");
  popts.threads = cfg.http_threads > 0 ? static_cast<int>(cfg.http_threads)
                                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  popts.read_timeout_ms = std::min(cfg.read_timeout_ms, cfg.request_timeout_ms);
  popts.write_timeout_ms = cfg.write_timeout_ms;
  popts.max_body_bytes = kPublicMaxBody;
  popts.max_uri_bytes = kPublicMaxUri;
  popts.max_headers = kPublicMaxHeaders;
  popts.max_header_bytes = kPublicMaxHeaderBytes;
  popts.tls_cert_file = cfg.tls_cert_path;
  popts.tls_key_file = cfg.tls_key_path;
  // Each worker gets its own Redis connection, so a held announce completes on its thread.
  if (redis_store) {
    popts.thread_init = [redis_store](struct event_base* base) { redis_store->attach_thread(base); };
    popts.thread_exit = [redis_store](struct event_base*) { redis_store->detach_thread(); };
  }
  HttpServer pub(loop, popts);
  frontend.install(pub, cfg.announce_routes, cfg.scrape_routes);

  bool draining = false;
  HttpServerOptions aopts;
  aopts.listen = cfg.metrics_addr;
  aopts.adopted_fd = systemd_socket("admin");
  aopts.threads = 0;
  aopts.max_body_bytes = kAdminMaxBody;
  HttpServer admin(loop, aopts);
  admin.route("/metrics", [&](HttpRequest& req) {
    req.reply(200, "text/plain; version=0.0.4; charset=utf-8", registry.render());
  });
  admin.route("/healthz", [](HttpRequest& req) { req.reply(200, "text/plain", "ok\n"); });
  admin.route("/readyz", [&](HttpRequest& req) {
    if (draining) return req.reply(503, "text/plain", "draining\n");
    if (!store->ready()) return req.reply(503, "text/plain", "storage unavailable\n");
    req.reply(200, "text/plain", "ready\n");
  });

  if (auto st = pub.start(); !st) {
    SC_ERROR("cannot start the public listener", {"addr", cfg.http_addr}, {"error", st.error().message});
    return 1;
  }
  if (auto st = admin.start(); !st) {
    SC_ERROR("cannot start the admin listener", {"addr", cfg.metrics_addr}, {"error", st.error().message});
    return 1;
  }
  std::unique_ptr<TrackerLogic> udp_logic;
  std::unique_ptr<UdpFrontend> udp;
  const int udp_fd = systemd_socket("udp");
  if (!cfg.udp_addr.empty() || udp_fd >= 0) {
    auto uopts = make_udp_logic_options(cfg);
    if (!uopts) {
      SC_ERROR("invalid configuration", {"error", uopts.error().message});
      return 2;
    }
    udp_logic = std::make_unique<TrackerLogic>(*uopts, *store);
    for (const auto& h : logic.prehooks()) udp_logic->add_prehook(h);
    UdpFrontendOptions fo;
    fo.listen = cfg.udp_addr;
    fo.adopted_fd = udp_fd;
    fo.threads = static_cast<int>(cfg.udp_threads);
    fo.private_key = cfg.udp_private_key;
    fo.max_clock_skew_s = cfg.udp_max_clock_skew_ms / 1000;
    udp = std::make_unique<UdpFrontend>(*udp_logic, metrics, loop.clock(), fo);
    if (auto st = udp->start(); !st) {
      SC_ERROR("cannot start the UDP listener", {"addr", cfg.udp_addr}, {"error", st.error().message});
      return 1;
    }
  }

  auto gc_timer = loop.every(cfg.gc_interval_ms, [&] {
    // Asynchronous with Redis: the main loop (and the systemd watchdog) never waits on it.
    store->collect_garbage([&metrics, t0 = std::chrono::steady_clock::now()](uint64_t dropped) {
      metrics.record_gc(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), dropped);
    });
  });
  log_listener("http", pub.port());
  log_listener("admin", admin.port());
  if (udp) log_listener("udp", udp->port());
  SC_INFO("tracker started", {"threads", popts.threads}, {"http_adopted", popts.adopted_fd >= 0},
          {"admin_adopted", aopts.adopted_fd >= 0});
  int rc = run_daemon(loop, [&](std::function<void()> done) {
    draining = true;
    SC_INFO("draining", {"in_flight", pub.in_flight()});
    if (udp) udp->stop();
    pub.shutdown([&admin, done = std::move(done)] { admin.shutdown(done); });
  });
  SC_INFO("stopped");
  // The listeners, then the store, go out of scope in order: each worker thread drops its
  // Redis connection on its way out (HttpServerOptions::thread_exit).
  return rc;
}

}  // namespace
}  // namespace sc

int main(int argc, char** argv) {
  return sc::guarded_main("swarmcache-tracker", [&] { return sc::run(argc, argv); });
}
