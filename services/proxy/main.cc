// swarmcache-proxy: the composition root. Reads the config, opens (and reconciles) the blob
// cache, starts the swarm session, wires the upstream and metastore clients into the proxy
// logic, and serves /v2/ (registry mirror), forward-proxy requests, /healthz, /readyz and
// /metrics until SIGTERM.
#include <memory>
#include <string>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/io/daemon.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "common/swarm/metastore_client.h"
#include "common/swarm/session.h"
#include "services/proxy/blob_cache.h"
#include "services/proxy/config.h"
#include "services/proxy/proxy.h"

namespace sc {
namespace {

// Clients send GETs and HEADs; nothing we serve takes a body.
constexpr uint64_t kMaxBody = 64 << 10;
// Blobs stream for as long as they need; a stalled client is cut after this much silence.
constexpr int64_t kWriteTimeoutMs = 120'000;
// Metastore calls are small; a slow metastore must not hold a pull for long.
constexpr int64_t kMetastoreTimeoutMs = 5'000;

int run(int argc, char** argv) {
  Options opts("swarmcache-proxy", "OCI registry pull-through mirror and OSTree forward proxy over the swarm");
  ProxyConfig cfg;
  declare_proxy_options(opts, cfg);
  if (auto exit_code = parse_command_line(opts, "swarmcache-proxy", argc, argv, cfg.log_level)) return *exit_code;
  if (auto st = finish_proxy_config(cfg); !st) {
    SC_ERROR("bad configuration", {"error", st.error().message});
    return 2;
  }
  if (cfg.cache_size <= 0) {
    SC_ERROR("cache.size must be positive");
    return 2;
  }

  EventLoop loop;
  MetricsRegistry metrics;

  auto cache = BlobCache::open({cfg.cache_dir, cfg.cache_size});
  if (!cache) {
    SC_ERROR("cannot open the cache", {"dir", cfg.cache_dir}, {"error", cache.error().message});
    return 1;
  }
  const auto& rep = (*cache)->reconcile_report();
  SC_INFO("cache reconciled", {"kept", rep.kept}, {"bytes", rep.bytes}, {"removed_partial", rep.removed_partial},
          {"removed_unknown", rep.removed_unknown});

  std::unique_ptr<SwarmSession> swarm;
  if (cfg.swarm) {
    SwarmOptions so;
    so.peer_listen = cfg.peer_listen;
    so.state_dir = cfg.state_dir + "/swarm";
    auto s = SwarmSession::start(loop, so);
    if (!s) {
      SC_ERROR("cannot start the swarm session", {"peer_listen", cfg.peer_listen}, {"error", s.error().message});
      return 1;
    }
    swarm = std::move(*s);
    log_listener("peer", swarm->listen_port());
  }
  std::unique_ptr<MetastoreAsync> metastore;
  if (!cfg.metastore.empty()) {
    auto token = read_token_file(cfg.token_file);
    if (!token) {
      SC_ERROR("cannot read the token file", {"file", cfg.token_file}, {"error", token.error().message});
      return 1;
    }
    metastore = std::make_unique<MetastoreAsync>(loop, MetastoreClientOptions{cfg.metastore, *token, kMetastoreTimeoutMs});
  }

  Proxy proxy(loop, cfg, **cache, metastore.get(), swarm.get(), metrics);
  if (swarm) proxy.add_own_port(swarm->listen_port());
  proxy.sync_torrents();

  HttpServerOptions hopts;
  hopts.listen = cfg.listen;
  adopt_systemd_socket(hopts, "http");
  hopts.threads = 0;  // one loop: the cache, swarm and in-flight maps are single-threaded
  hopts.max_body_bytes = kMaxBody;
  hopts.write_timeout_ms = kWriteTimeoutMs;
  hopts.tls_cert_file = cfg.tls_cert_file;
  hopts.tls_key_file = cfg.tls_key_file;
  HttpServer server(loop, hopts);
  bool draining = false;
  server.route("/healthz", [](HttpRequest& req) { req.reply(200, "text/plain", "ok\n"); });
  server.route("/readyz", [&](HttpRequest& req) {
    if (draining) return req.reply(503, "text/plain", "draining\n");
    req.reply(200, "text/plain", "ready\n");
  });
  server.route("/metrics", [&](HttpRequest& req) {
    req.reply(200, "text/plain; version=0.0.4; charset=utf-8", metrics.render());
  });
  proxy.install(server);
  if (auto st = server.start(); !st) {
    SC_ERROR("cannot listen", {"listen", cfg.listen}, {"error", st.error().message});
    return 1;
  }
  proxy.add_own_port(server.port());
  log_listener("http", server.port());

  return run_daemon(loop, [&](std::function<void()> done) {
    draining = true;
    server.shutdown([&, done] {
      if (swarm) swarm->shutdown(done);
      else done();
    });
  });
}

}  // namespace
}  // namespace sc

int main(int argc, char** argv) { return sc::run(argc, argv); }
