#pragma once
// The proxy's request logic: OCI registry mirror (/v2/…), forward proxy (absolute-form
// requests from OSTree's http_proxy) and CONNECT. Blobs go through BlobFetch (cache → swarm →
// lease → upstream tee → verify → register, see blob_fetch.h); manifests are passed through,
// cached by digest, tags re-resolved after a TTL. Everything runs on one loop thread; torrent
// creation runs on a worker thread and reports back through the loop.
#include <memory>

#include "services/proxy/config.h"

namespace sc {

class EventLoop;
class HttpServer;
class MetricsRegistry;
class BlobCache;
class MetastoreAsync;
class SwarmSession;

class Proxy {
 public:
  // metastore and swarm may be null (cache + upstream only).
  // One upstream client per configured registry is made here; every address the proxy dials
  // passes its TargetPolicy.
  Proxy(EventLoop& loop, const ProxyConfig& cfg, BlobCache& cache, MetastoreAsync* metastore, SwarmSession* swarm,
        MetricsRegistry& metrics);
  ~Proxy();
  // Re-adds torrents of cached blobs (seeding resumes) and drops torrents whose blob is gone.
  void sync_torrents();
  // Registers /v2 and the forward-proxy catch-all; call before the server starts.
  void install(HttpServer& server);
  // A port this process listens on: local addresses on it are never dialled.
  void add_own_port(uint16_t port);
  bool ready() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc
