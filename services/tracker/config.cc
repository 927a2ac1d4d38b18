// The tracker's configuration keys, Chihaya aliases (v2.0: prometheus_addr, storage.shards,
// storage.max_numwant, prehooks with `config:`; current: metrics_addr, storage.config.*,
// prehooks with `options:`), and validation into LogicOptions.
#include "services/tracker/config.h"

#include "services/tracker/peer_store_memory.h"

#include <algorithm>

namespace sc {

void declare_tracker_options(Options& o, TrackerConfig& c) {
  o.set_optional_root("chihaya");
  // Chihaya configs carry keys for features we lack; they must still start us, loudly.
  o.set_unknown_keys_are_warnings(true);

  o.add_duration("announce_interval", &c.announce_interval_ms, "Interval clients are told to wait between announces.");
  o.add_duration("min_announce_interval", &c.min_announce_interval_ms, "Minimum announce interval sent to clients.");
  o.add_string("metrics_addr", &c.metrics_addr, "Admin listener HOST:PORT: /metrics, /healthz, /readyz.", "admin-listen");
  o.alias("prometheus_addr", "metrics_addr");
  o.add_string("log_level", &c.log_level, "debug, info, warn or error.", "log-level");

  o.add_string("http.addr", &c.http_addr, "Public HTTP tracker listener HOST:PORT (port 0: any free port).", "http-listen");
  o.add_string("listen", &c.http_addr, "Same as http.addr (--listen, as on every other daemon).", "listen");
  o.add_int("http.threads", &c.http_threads, "Worker threads for the public listener; 0 = one per core.", "http-threads");
  o.add_duration("http.read_timeout", &c.read_timeout_ms, "Time allowed to receive a request (slow clients are cut off).");
  o.add_duration("http.write_timeout", &c.write_timeout_ms, "Time allowed to send a response.");
  o.add_duration("http.request_timeout", &c.request_timeout_ms, "Upper bound for a whole request; the smaller of this and read_timeout applies.");
  o.add_bool("http.allow_ip_spoofing", &c.allow_ip_spoofing, "Honour the announce `ip` parameter.");
  o.add_string("http.real_ip_header", &c.real_ip_header, "Header carrying the client address (e.g. X-Forwarded-For); read only from http.trusted_proxies.");
  o.add_list("http.trusted_proxies", &c.trusted_proxies, "Address blocks (CIDR) of proxies whose real_ip_header is believed.");
  o.add_int("http.max_numwant", &c.max_numwant, "Most peers returned by one announce.");
  o.alias("storage.max_numwant", "http.max_numwant");
  o.add_int("http.default_numwant", &c.default_numwant, "Peers returned when the client sends no numwant.");
  o.add_int("http.max_scrape_infohashes", &c.max_scrape_infohashes, "Most info hashes answered in one scrape (extra ones are dropped).");
  o.add_list("http.announce_routes", &c.announce_routes, "Paths served as announce.");
  o.add_list("http.scrape_routes", &c.scrape_routes, "Paths served as scrape.");
  o.add_string("http.tls_cert_path", &c.tls_cert_path, "PEM certificate: serve HTTPS on http.addr when set with tls_key_path.");
  o.add_string("http.tls_key_path", &c.tls_key_path, "PEM private key for tls_cert_path.");
  o.tolerate("http.https_addr", "use http.addr with tls_cert_path/tls_key_path");
  o.tolerate("http.enable_keepalive", "keep-alive is always on");
  o.tolerate("http.idle_timeout", "idle connections are bounded by read_timeout");
  o.tolerate("http.enable_request_timing", "request latency is always in /metrics");

  o.add_string("udp.addr", &c.udp_addr, "UDP tracker (BEP 15) listener HOST:PORT; \"\" = none.", "udp-listen");
  o.add_int("udp.threads", &c.udp_threads, "Threads reading the UDP socket.");
  o.add_string("udp.private_key", &c.udp_private_key, "Key of the connection-id MAC; \"\" = random at start (ids die with a restart).");
  o.add_duration("udp.max_clock_skew", &c.udp_max_clock_skew_ms, "Extra validity of connection ids either side of their 2 minutes.");
  o.add_bool("udp.allow_ip_spoofing", &c.udp_allow_ip_spoofing, "Honour the announce packet's IP field.");
  o.add_int("udp.max_numwant", &c.udp_max_numwant, "As http.max_numwant for UDP; -1 = same as HTTP.");
  o.add_int("udp.default_numwant", &c.udp_default_numwant, "As http.default_numwant for UDP; -1 = same as HTTP.");
  o.add_int("udp.max_scrape_infohashes", &c.udp_max_scrape_infohashes, "As http.max_scrape_infohashes for UDP; -1 = same as HTTP.");
  o.tolerate("udp.enable_request_timing", "request latency is always in /metrics");

  o.add_string("storage.name", &c.storage_name, "Peer store: memory, or redis (shared by several trackers).");
  o.add_duration("storage.config.gc_interval", &c.gc_interval_ms, "How often expired peers are swept.");
  o.alias("storage.gc_interval", "storage.config.gc_interval");
  o.add_duration("storage.config.peer_lifetime", &c.peer_lifetime_ms, "A peer not heard from for this long is dropped.");
  o.alias("storage.peer_lifetime", "storage.config.peer_lifetime");
  o.add_int("storage.config.shard_count", &c.shard_count, "Shards (locks) of the memory store.");
  o.alias("storage.shards", "storage.config.shard_count");
  o.add_int("storage.config.max_swarms", &c.max_swarms,
            "Most swarms kept; an announce for a new info hash beyond it is refused (failure reason "
            "\"tracker full\") and counted in swarmcache_tracker_swarm_limit_refusals.");
  o.alias("storage.max_swarms", "storage.config.max_swarms");
  o.add_string("storage.config.redis_broker", &c.redis_broker, "redis store: redis://[[user]:password@]host:port/db.", "redis");
  o.add_duration("storage.config.redis_read_timeout", &c.redis_read_timeout_ms, "redis store: a reply later than this fails the request and drops the connection.");
  o.add_duration("storage.config.redis_write_timeout", &c.redis_write_timeout_ms, "redis store: as redis_read_timeout (one deadline per command covers both).");
  o.add_duration("storage.config.redis_connect_timeout", &c.redis_connect_timeout_ms, "redis store: connection attempt timeout.");
  o.add_string("storage.config.redis_key_prefix", &c.redis_key_prefix, "redis store: prefix of every key (trackers sharing swarms use the same).");
  o.tolerate("storage.config.prometheus_reporting_interval", "store gauges are computed when /metrics is scraped");

  o.add_node(
      "prehooks",
      [&c](const YAML::Node& n) -> Status {
        c.prehooks.clear();
        if (n.IsNull()) return {};
        if (!n.IsSequence()) return fail(Errc::invalid_argument, "expected a list of {name, options} maps");
        for (const auto& item : n) {
          if (!item.IsMap() || !item["name"] || !item["name"].IsScalar()) {
            return fail(Errc::invalid_argument, "each prehook needs a `name`");
          }
          HookConfig h;
          h.name = item["name"].Scalar();
          if (item["options"]) {
            h.options = item["options"];
          } else if (item["config"]) {
            h.options = item["config"];
          }
          c.prehooks.push_back(std::move(h));
        }
        return {};
      },
      "Ordered prehook chain: [{name: jwt|client approval|torrent approval|interval variation, options: {...}}]; "
      "Chihaya v2.0's `config:` is accepted for `options:`.");
  o.tolerate("posthooks", "no posthooks are implemented");
}

Result<LogicOptions> make_logic_options(const TrackerConfig& c) {
  auto bad = [](std::string m) { return fail(Errc::invalid_argument, std::move(m)); };
  constexpr int64_t kMaxNumwantCeiling = 10'000;  // one reply of 10k peers is already 60 KB
  if (c.max_numwant < 0 || c.max_numwant > kMaxNumwantCeiling) return bad("http.max_numwant must be 0..10000");
  if (c.default_numwant < 0 || c.default_numwant > kMaxNumwantCeiling) return bad("http.default_numwant must be 0..10000");
  if (c.max_scrape_infohashes < 1 || c.max_scrape_infohashes > 1000) return bad("http.max_scrape_infohashes must be 1..1000");
  if (c.announce_interval_ms < 1000) return bad("announce_interval must be at least 1s");
  if (c.min_announce_interval_ms < 0) return bad("min_announce_interval must not be negative");
  if (c.gc_interval_ms < 100) return bad("storage.config.gc_interval must be at least 100ms");
  if (c.peer_lifetime_ms < 1000) return bad("storage.config.peer_lifetime must be at least 1s");
  if (c.shard_count < 1 || c.shard_count > (1 << 20)) return bad("storage.config.shard_count must be 1..1048576");
  if (c.max_swarms < 1) return bad("storage.config.max_swarms must be at least 1");
  if (c.storage_name == "memory" && c.gc_interval_ms + c.peer_lifetime_ms >= kSeenWrapS * 1000) {
    // The memory store keeps last-seen seconds modulo 2^16 (peer_store_memory.h).
    return bad("storage.config.gc_interval + peer_lifetime must stay below 18h12m with the memory store");
  }
  if (c.http_threads < 0 || c.http_threads > 256) return bad("http.threads must be 0..256");

  LogicOptions lo;
  lo.announce_interval_s = c.announce_interval_ms / 1000;
  lo.min_announce_interval_s = c.min_announce_interval_ms / 1000;
  lo.default_numwant = static_cast<uint32_t>(c.default_numwant);
  lo.max_numwant = static_cast<uint32_t>(c.max_numwant);
  lo.max_scrape_infohashes = static_cast<size_t>(c.max_scrape_infohashes);
  lo.allow_ip_spoofing = c.allow_ip_spoofing;
  lo.real_ip_header = c.real_ip_header;
  for (const auto& p : c.trusted_proxies) {
    auto cidr = parse_cidr(p);
    if (!cidr) return bad("http.trusted_proxies: " + cidr.error().message);
    lo.trusted_proxies.push_back(*cidr);
  }
  return lo;
}

Result<LogicOptions> make_udp_logic_options(const TrackerConfig& c) {
  auto lo = make_logic_options(c);
  if (!lo) return lo;
  if (c.udp_threads < 1 || c.udp_threads > 64) return fail(Errc::invalid_argument, "udp.threads must be 1..64");
  lo->allow_ip_spoofing = c.udp_allow_ip_spoofing;
  lo->real_ip_header.clear();
  lo->trusted_proxies.clear();
  if (c.udp_max_numwant >= 0) lo->max_numwant = static_cast<uint32_t>(std::min<int64_t>(c.udp_max_numwant, 10'000));
  if (c.udp_default_numwant >= 0) lo->default_numwant = static_cast<uint32_t>(std::min<int64_t>(c.udp_default_numwant, 10'000));
  if (c.udp_max_scrape_infohashes >= 1) lo->max_scrape_infohashes = static_cast<size_t>(std::min<int64_t>(c.udp_max_scrape_infohashes, 1000));
  return lo;
}

}  // namespace sc
