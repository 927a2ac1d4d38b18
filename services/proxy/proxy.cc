// swarmcache-proxy's router: /v2/ (the OCI pull-through mirror: manifests and tags in
// manifests.cc, blobs through the BlobFetch state machine), absolute-form requests (the OSTree
// forward proxy, forward.cc) and CONNECT (connect.cc). It builds the state machine's ports
// over the real cache, metastore, swarm and upstreams, and owns the cache's metrics and scrub.
#include "services/proxy/proxy.h"

#include <unistd.h>

#include <map>

#include "common/core/bytes.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/io/event_loop.h"
#include "common/io/http_request_target.h"
#include "common/io/http_server.h"
#include "proto/oci.h"
#include "services/proxy/blob_cache.h"
#include "services/proxy/blob_fetch.h"
#include "services/proxy/cache_scrub.h"
#include "services/proxy/cache_store.h"
#include "services/proxy/connect.h"
#include "services/proxy/forward.h"
#include "services/proxy/http_blob_sink.h"
#include "services/proxy/manifests.h"
#include "services/proxy/metastore_registry.h"
#include "services/proxy/oci_reply.h"
#include "services/proxy/swarm_blobs.h"
#include "services/proxy/target_policy.h"
#include "services/proxy/upstream.h"
#include "services/proxy/upstream_sources.h"

namespace sc {
namespace {

// The value of `name` in a raw query string ("" when absent).
std::string_view query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    if (kv.size() > name.size() && kv.starts_with(name) && kv[name.size()] == '=') return kv.substr(name.size() + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::vector<std::string> configured_targets(const ProxyConfig& c) {
  std::vector<std::string> out = c.connect_allow;
  for (const auto& u : c.upstreams) out.push_back(u.url);
  for (const auto& r : c.ostree_remotes) out.push_back(r.url);
  return out;
}

std::string node_id_of(const ProxyConfig& c) {
  if (!c.node_id.empty()) return c.node_id;
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(::getpid());
}

}  // namespace

struct Proxy::Impl {
  EventLoop& loop;
  ProxyConfig cfg;
  BlobCache& cache;
  TargetPolicy policy;
  std::map<std::string, std::unique_ptr<Upstream>, std::less<>> registries;  // by configured name
  UrlFetcher urls;  // OSTree remotes and pass-through
  CacheStore store;
  std::unique_ptr<MetastoreRegistry> registry;
  std::unique_ptr<SwarmBlobs> swarm;
  BlobFetcher blobs;
  Family<Counter>& requests;
  ConnectHandler connect;
  ManifestMirror manifests;
  ForwardProxy forward;
  std::unique_ptr<CacheScrubber> scrubber;

  Impl(EventLoop& l, const ProxyConfig& c, BlobCache& bc, MetastoreAsync* ms, SwarmSession* sw, MetricsRegistry& m)
      : loop(l),
        cfg(c),
        cache(bc),
        policy(configured_targets(c)),
        urls(l, c.upstream_tls_verify),
        store(bc),
        registry(ms && sw ? std::make_unique<MetastoreRegistry>(*ms, node_id_of(c), c.lease_ttl_ms) : nullptr),
        swarm(sw ? std::make_unique<SwarmBlobs>(l, *sw, bc, c.state_dir, c.tracker) : nullptr),
        blobs(l, BlobFetcher::Ports{store, registry.get(), swarm.get()},
              BlobFetchOptions{c.lease_wait_ms, c.swarm_timeout_ms}, m),
        requests(m.counter_family("swarmcache_proxy_requests_total", "Requests by kind and result", {"kind", "result"})),
        connect(l, c.connect_allow, policy, requests),
        manifests(l, c.tag_ttl_ms, requests,
                  m.counter("swarmcache_proxy_digest_mismatch_total",
                            "Blobs whose bytes did not match their digest (never cached)")),
        forward(urls, cfg, blobs, dial_check(), m) {
    for (const auto& r : cfg.upstreams) {
      registries[r.name] = std::make_unique<Upstream>(
          loop, UpstreamOptions{r.url, r.username, r.password, r.ca_file, cfg.upstream_timeout_ms,
                                static_cast<int>(cfg.upstream_retries), dial_check(), cfg.upstream_tls_verify});
    }
    m.gauge_callback("swarmcache_proxy_cache_bytes", "Bytes in the blob cache",
                     [this] { return static_cast<double>(cache.used_bytes()); });
    m.gauge_callback("swarmcache_proxy_cache_entries", "Blobs in the cache",
                     [this] { return static_cast<double>(cache.count()); });
    cache.set_counters(&m.counter("swarmcache_proxy_cache_evictions_total", "Blobs evicted to stay in budget"),
                       &m.counter("swarmcache_proxy_cache_corrupt_total",
                                  "Cache entries deleted because their bytes or size did not match their record"));
    if (cfg.cache_scrub_rate > 0)
      scrubber = std::make_unique<CacheScrubber>(
          loop, cache, cfg.cache_scrub_rate,
          m.counter("swarmcache_proxy_cache_scrubbed_bytes_total", "Bytes re-hashed by the background scrub"));
    cache.on_evict([this](const std::string& hex) {
      if (swarm) swarm->stop_seeding(hex);
    });
  }

  std::function<Status(std::string_view, uint16_t)> dial_check() {
    return [this](std::string_view ip, uint16_t port) { return policy.check(ip, port); };
  }

  void count(std::string_view kind, std::string_view result) { requests.with({kind, result}).inc(); }

  // /v2/ is always the mirror, whatever the Host header says: behind a port mapping (docker
  // -p 5000:8888) clients name a port that is not ours.
  void handle_v2(HttpRequest& req) {
    auto p = parse_oci_path(req.path());
    if (!p) {
      count("v2", "bad_request");
      return reply_oci(req, p.error().code, p.error().status, p.error().message);
    }
    if (req.method() != "GET" && req.method() != "HEAD") {
      count("v2", "method");
      return reply_oci(req, "UNSUPPORTED", 405, "this mirror is read-only");
    }
    req.add_header("Docker-Distribution-API-Version", "registry/2.0");
    if (p->route == OciRoute::base) return req.reply(200, "application/json", "{}");
    if (p->route == OciRoute::unsupported) return reply_oci(req, "UNSUPPORTED", 404, "not served by this mirror");
    // containerd names the registry it mirrors in ?ns= (escaped: "127.0.0.1%3A5000"); dockerd
    // mirrors docker.io only.
    auto ns = percent_decode(query_param(req.query(), "ns"), false);
    if (!ns) {
      count("v2", "bad_request");
      return reply_oci(req, "NAME_INVALID", 400, "malformed ?ns= value");
    }
    std::string_view name = ns->empty() ? std::string_view(cfg.default_registry) : std::string_view(*ns);
    auto it = registries.find(name);
    if (it == registries.end()) {
      count("v2", "unknown_registry");
      SC_WARN("refused target", {"method", req.method()}, {"registry", name}, {"client", req.peer_ip()},
              {"reason", "registry not in upstreams"});
      return reply_oci(req, "NAME_UNKNOWN", 404, "registry " + std::string(name) + " is not mirrored here");
    }
    Upstream& up = *it->second;
    switch (p->route) {
      case OciRoute::tags_list: return manifests.handle_tags(req, *p, up);
      case OciRoute::manifest: return manifests.handle_manifest(req, *p, up, it->first);
      case OciRoute::blob: {
        std::string hex = p->reference.substr(7);
        HttpBlobSink sink(req);
        return blobs.serve(BlobAsk{hex, p->reference, true}, sink,
                           [&] { return std::make_shared<RegistryBlobSource>(up, p->name, p->reference); });
      }
      default: return;
    }
  }
};

Proxy::Proxy(EventLoop& loop, const ProxyConfig& cfg, BlobCache& cache, MetastoreAsync* metastore, SwarmSession* swarm,
             MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(loop, cfg, cache, metastore, swarm, metrics)) {}

Proxy::~Proxy() = default;

void Proxy::sync_torrents() {
  if (impl_->swarm) impl_->swarm->sync_torrents();
}

bool Proxy::ready() const { return true; }

void Proxy::add_own_port(uint16_t port) { impl_->policy.add_own_port(port); }

void Proxy::install(HttpServer& server) {
  Impl* p = impl_.get();
  server.route("/v2", [p](HttpRequest& req) { p->handle_v2(req); });
  server.route("/v2/*", [p](HttpRequest& req) { p->handle_v2(req); });
  server.route("*", [p](HttpRequest& req) {  // "*", not "/*": a CONNECT target is "host:port"
    if (req.method() == "CONNECT") return p->connect.handle(req);
    if (std::string origin = absolute_form_origin(req); !origin.empty()) return p->forward.handle(req, origin);
    req.reply(404, "application/json", oci_error_json("UNSUPPORTED", "not a registry API path"));
  });
}

}  // namespace sc
