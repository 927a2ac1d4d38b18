// swarmcache-metastore: the composition root. Reads the config, connects to Redis, builds
// the store and the HTTP service, adopts a systemd socket named "http", prints the bound
// port, and runs until SIGTERM, ending event streams and draining requests before exiting.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>
#include <fstream>
#include <sstream>
#include <memory>
#include <string>

#include "common/core/config.h"
#include "common/core/jwt.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/io/daemon.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "common/io/redis_client.h"
#include "services/metastore/auth.h"
#include "services/metastore/metastore_service.h"
#include "services/metastore/torrent_store_redis.h"
#include "services/metastore/tunables.h"

namespace sc::metastore {
namespace {

// What one thread serves requests with: its own Redis connection, store and service.
struct Worker {
  std::unique_ptr<RedisClient> redis;
  std::unique_ptr<RedisTorrentStore> store;
  std::unique_ptr<MetastoreService> service;
};

thread_local MetastoreService* t_service = nullptr;

int run(int argc, char** argv) {
  Options opts("swarmcache-metastore", "Redis-backed registry of .torrent files under content keys");
  std::string listen = "0.0.0.0:7070";
  std::string redis_url = "redis://127.0.0.1:6379/0";
  std::string redis_prefix = "mt:";
  std::string tokens_file;
  std::string log_level = "info";
  std::string jwt_keys_file;
  JwtVerifyOptions jwt;
  MetastoreConfig cfg;
  // Measured by bench/metastore on 2 busy cores: 0.44-0.56x raw Redis GET with 0 threads,
  // 0.57-0.71x with 2.
  int64_t threads = 2;
  opts.add_string("listen", &listen, "HTTP listener HOST:PORT (port 0 picks a free one)", "listen");
  opts.add_string("redis.url", &redis_url, "redis://[:password@]host:port/db or sentinel://[:password@]h1:26379,h2:26379/master/db", "redis");
  opts.add_string("redis.prefix", &redis_prefix, "prefix of every Redis key this service writes");
  int64_t wait_replicas = 0;
  opts.add_int("redis.wait_replicas", &wait_replicas,
               "acknowledge a write only once this many replicas have it (Redis WAIT; 0: do not wait)");
  opts.add_string("auth.tokens_file", &tokens_file, "file of bearer tokens allowed to write, one per line", "auth-tokens");
  opts.add_string("auth.jwt.keys_file", &jwt_keys_file, "JWKS (JSON) or PEM public key: JWTs signed with it may write");
  opts.add_string("auth.jwt.issuer", &jwt.issuer, "required JWT iss (empty: not checked)");
  opts.add_string("auth.jwt.audience", &jwt.audience, "required JWT aud (empty: not checked)");
  bool jwt_require_exp = true;
  opts.add_bool("auth.jwt.require_exp", &jwt_require_exp, "refuse JWTs without an exp claim (tokens that never expire)");
  opts.add_bool("auth.read_requires_token", &cfg.read_requires_token, "require a bearer token for reads too");
  opts.add_int("http.threads", &threads,
               "HTTP worker threads, each with its own Redis connection (0: serve on the main loop)");
  opts.add_string("log_level", &log_level, "debug, info, warn or error", "log-level");
  opts.add_bytes("limits.max_torrent_bytes", &cfg.max_torrent_bytes, "largest .torrent accepted");
  opts.add_duration("gc.max_age", &cfg.gc_max_age_ms, "delete torrents not accessed for this long (0: never)");
  opts.add_int("gc.max_count", &cfg.gc_max_count, "keep at most this many torrents, least recently used go first (0: no limit)");
  opts.add_duration("gc.interval", &cfg.gc_interval_ms, "how often the GC policy runs");
  opts.add_int("events.max_len", &cfg.events_max_len, "events kept in the stream (approximately); older ones are trimmed");
  opts.add_duration("nodes.default_ttl", &cfg.node_default_ttl_ms, "node heartbeat lifetime when the node asks for none");
  if (auto exit_code = parse_command_line(opts, "swarmcache-metastore", argc, argv, log_level)) return *exit_code;

  auto ropts = parse_redis_url(redis_url);
  if (!ropts) {
    SC_ERROR("bad --redis", {"error", ropts.error().message});
    return 2;
  }
  TokenAuth auth;
  if (!tokens_file.empty()) {
    auto a = TokenAuth::from_file(tokens_file);
    if (!a) {
      SC_ERROR("cannot load --auth-tokens", {"error", a.error().message});
      return 2;
    }
    auth = std::move(*a);
  }
  if (!jwt_keys_file.empty()) {
    std::ifstream in(jwt_keys_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      SC_ERROR("cannot read auth.jwt.keys_file", {"path", jwt_keys_file});
      return 2;
    }
    if (auto st = auth.set_jwt_keys(text.str(), jwt, jwt_require_exp); !st) {
      SC_ERROR("bad auth.jwt.keys_file", {"error", st.error().message});
      return 2;
    }
  }
  if (!auth.configured()) SC_WARN("no --auth-tokens nor JWT keys: writes are open to anyone who can reach this port");
  if (cfg.max_torrent_bytes <= 0 || cfg.gc_interval_ms <= 0 || cfg.gc_max_age_ms < 0 || cfg.gc_max_count < 0 ||
      threads < 0 || threads > 64 || cfg.events_max_len < 1 || wait_replicas < 0 || wait_replicas > 100) {
    SC_ERROR("invalid limits or gc settings");
    return 2;
  }

  EventLoop loop;
  MetricsRegistry metrics;
  ropts->command_timeout_ms = kRedisCommandTimeoutMs;
  ropts->rtt_seconds = &metrics.histogram("swarmcache_metastore_redis_rtt_seconds", "Redis command round-trip time");
  auto make_worker = [&](struct event_base* base, bool housekeeping) -> Result<std::unique_ptr<Worker>> {
    auto w = std::make_unique<Worker>();
    w->redis = std::make_unique<RedisClient>(base, *ropts);
    if (auto st = w->redis->start(); !st) return std::unexpected(st.error());
    w->store = std::make_unique<RedisTorrentStore>(*w->redis, redis_prefix, cfg.events_max_len, wait_replicas);
    w->service = std::make_unique<MetastoreService>(base, loop.clock(), *w->store, auth, metrics, cfg, housekeeping);
    return w;
  };
  EventBell bell;  // declared before every worker: it outlives its members
  // The main loop's worker runs the GC and the gauges, and serves requests when threads = 0.
  auto main_worker = make_worker(loop.base(), true);
  if (!main_worker) {
    SC_ERROR("cannot use --redis", {"error", main_worker.error().message});
    return 2;
  }
  t_service = (*main_worker)->service.get();
  (*main_worker)->service->join(bell);
  std::atomic<bool> stopping{false};
  std::mutex workers_mu;
  std::vector<std::unique_ptr<Worker>> workers;

  HttpServerOptions hopts;
  hopts.listen = listen;
  adopt_systemd_socket(hopts, "http");
  // threads = 0: handlers share the main loop with one pipelined Redis connection. threads = N:
  // each evhtp worker gets its own connection and service (bench/metastore compares both).
  hopts.threads = static_cast<int>(threads);
  // A PUT carries a whole .torrent: the HTTP limit follows limits.max_torrent_bytes (else the
  // server's own 1 MiB default would answer 413 first), and never drops below what the JSON
  // routes need.
  hopts.max_body_bytes = static_cast<uint64_t>(std::max<int64_t>(cfg.max_torrent_bytes, kMaxJsonBodyBytes));
  hopts.max_headers = kMaxHeaders;
  hopts.max_header_bytes = kMaxHeaderBytes;
  hopts.max_uri_bytes = kMaxUriBytes;
  hopts.thread_init = [&](struct event_base* base) {
    auto w = make_worker(base, false);
    if (!w) return;  // start() fails only on an empty host/port, already refused above
    t_service = (*w)->service.get();
    (*w)->service->join(bell);
    (*w)->service->start(&stopping);
    std::lock_guard lock(workers_mu);
    workers.push_back(std::move(*w));
  };
  // On the worker thread as it ends, before its event_base goes: its service, store and Redis
  // connection are torn down there, in that order.
  hopts.thread_exit = [&](struct event_base*) {
    std::unique_ptr<Worker> mine;
    {
      std::lock_guard lock(workers_mu);
      auto it = std::find_if(workers.begin(), workers.end(), [](const auto& w) { return w->service.get() == t_service; });
      if (it == workers.end()) return;
      mine = std::move(*it);
      workers.erase(it);
    }
    t_service = nullptr;
  };
  HttpServer server(loop, hopts);
  MetastoreService::install_routes(server, [] { return t_service; });
  if (auto st = server.start(); !st) {
    SC_ERROR("cannot listen", {"listen", listen}, {"error", st.error().message});
    return 1;
  }
  log_listener("http", server.port());
  (*main_worker)->service->start();
  int rc = run_daemon(loop, [&](std::function<void()> done) {
    stopping = true;  // worker services stop themselves on their own threads
    (*main_worker)->service->stop();
    server.shutdown(std::move(done));
  });
  return rc;  // the server's worker threads free their Workers on the way out (thread_exit)
}

}  // namespace
}  // namespace sc::metastore

int main(int argc, char** argv) {
  return sc::guarded_main("swarmcache-metastore", [&] { return sc::metastore::run(argc, argv); });
}
