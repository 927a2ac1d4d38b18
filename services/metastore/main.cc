// swarmcache-metastore: the composition root. Reads the config, connects to Redis, builds
// the store and the HTTP service, adopts a systemd socket named "http", prints the bound
// port, and runs until SIGTERM, ending event streams and draining requests before exiting.
#include <cstdio>
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

// Clients send a handful of headers; a reverse proxy adds a few.
constexpr size_t kMaxHeaders = 64;
constexpr size_t kMaxHeaderBytes = 16 << 10;
// Keys are at most kMaxKeyBytes, percent-encoded up to 3x, plus a query.
constexpr size_t kMaxUriBytes = 8 << 10;

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
  opts.add_string("listen", &listen, "HTTP listener HOST:PORT (port 0 picks a free one)", "listen");
  opts.add_string("redis.url", &redis_url, "redis://[:password@]host:port/db", "redis");
  opts.add_string("redis.prefix", &redis_prefix, "prefix of every Redis key this service writes");
  opts.add_string("auth.tokens_file", &tokens_file, "file of bearer tokens allowed to write, one per line", "auth-tokens");
  opts.add_string("auth.jwt.keys_file", &jwt_keys_file, "JWKS (JSON) or PEM public key: JWTs signed with it may write");
  opts.add_string("auth.jwt.issuer", &jwt.issuer, "required JWT iss (empty: not checked)");
  opts.add_string("auth.jwt.audience", &jwt.audience, "required JWT aud (empty: not checked)");
  opts.add_bool("auth.read_requires_token", &cfg.read_requires_token, "require a bearer token for reads too");
  opts.add_string("log_level", &log_level, "debug, info, warn or error", "log-level");
  opts.add_bytes("limits.max_torrent_bytes", &cfg.max_torrent_bytes, "largest .torrent accepted");
  opts.add_duration("gc.max_age", &cfg.gc_max_age_ms, "delete torrents not accessed for this long (0: never)");
  opts.add_int("gc.max_count", &cfg.gc_max_count, "keep at most this many torrents, least recently used go first (0: no limit)");
  opts.add_duration("gc.interval", &cfg.gc_interval_ms, "how often the GC policy runs");
  opts.add_duration("nodes.default_ttl", &cfg.node_default_ttl_ms, "node heartbeat lifetime when the node asks for none");
  auto parsed = opts.parse(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "swarmcache-metastore: %s\n", parsed.error().message.c_str());
    return 2;
  }
  if (*parsed == Options::Outcome::exit_ok) return 0;
  daemon_init();
  auto level = parse_log_level(log_level);
  if (!level) {
    std::fprintf(stderr, "swarmcache-metastore: log-level: %s\n", level.error().message.c_str());
    return 2;
  }
  set_log_level(*level);
  for (const auto& w : opts.warnings()) SC_WARN("config", {"detail", w});

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
    if (auto st = auth.set_jwt_keys(text.str(), jwt); !st) {
      SC_ERROR("bad auth.jwt.keys_file", {"error", st.error().message});
      return 2;
    }
  }
  if (!auth.configured()) SC_WARN("no --auth-tokens nor JWT keys: writes are open to anyone who can reach this port");
  if (cfg.max_torrent_bytes <= 0 || cfg.gc_interval_ms <= 0 || cfg.gc_max_age_ms < 0 || cfg.gc_max_count < 0) {
    SC_ERROR("invalid limits or gc settings");
    return 2;
  }

  EventLoop loop;
  MetricsRegistry metrics;
  ropts->command_timeout_ms = kRedisCommandTimeoutMs;
  ropts->rtt_seconds = &metrics.histogram("swarmcache_metastore_redis_rtt_seconds", "Redis command round-trip time");
  RedisClient redis(loop.base(), *ropts);
  if (auto st = redis.start(); !st) {
    SC_ERROR("cannot use --redis", {"error", st.error().message});
    return 2;
  }
  RedisTorrentStore store(redis, redis_prefix);
  MetastoreService service(loop, store, std::move(auth), metrics, cfg);

  HttpServerOptions hopts;
  hopts.listen = listen;
  adopt_systemd_socket(hopts, "http");
  // Handlers share the loop with the Redis connection: one thread, every Redis call
  // pipelined on one socket (bench/metastore measures this against raw Redis).
  hopts.threads = 0;
  // The server's own limit sits just above ours so an oversized upload gets our 413.
  hopts.max_body_bytes = static_cast<uint64_t>(cfg.max_torrent_bytes) + 1;
  hopts.max_headers = kMaxHeaders;
  hopts.max_header_bytes = kMaxHeaderBytes;
  hopts.max_uri_bytes = kMaxUriBytes;
  hopts.read_timeout_ms = kMaxWaitMs + 10'000;  // covers a held long-poll's connection
  HttpServer server(loop, hopts);
  service.install_routes(server);
  if (auto st = server.start(); !st) {
    SC_ERROR("cannot listen", {"listen", listen}, {"error", st.error().message});
    return 1;
  }
  log_listener("http", server.port());
  service.start();
  return run_daemon(loop, [&](std::function<void()> done) {
    service.stop();
    server.shutdown(std::move(done));
  });
}

}  // namespace
}  // namespace sc::metastore

int main(int argc, char** argv) { return sc::metastore::run(argc, argv); }
