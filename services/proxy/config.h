#pragma once
// swarmcache-proxy configuration: the flags every daemon shares (design.md) plus the proxy's
// own keys. TLS for the mirror endpoint takes torrent-cache's names: CERTFILE / PRIVATEKEY.
#include <cstdint>
#include <string>
#include <vector>

#include "common/core/config.h"

namespace sc {

struct ProxyConfig {
  std::string listen = "0.0.0.0:8888";
  std::string upstream = "https://registry-1.docker.io";
  std::string upstream_username, upstream_password;
  std::string upstream_ca_file;
  bool upstream_tls_verify = true;
  int64_t upstream_timeout_ms = 30'000;
  int64_t upstream_retries = 3;
  std::string metastore;   // "" = no swarm coordination (cache + upstream only)
  std::string tracker;     // announce URL put into torrents we create
  std::string token_file;  // bearer token sent to the metastore
  std::string cache_dir = "/var/cache/swarmcache/proxy";
  int64_t cache_size = 10LL << 30;
  std::string state_dir = "/var/lib/swarmcache/proxy";
  std::string peer_listen = "0.0.0.0:6883";  // clear of the seeder (6881) and leecher (6882)
  bool swarm = true;                 // false: never use BitTorrent (cache + upstream only)
  std::string node_id;               // lease holder name; default hostname-pid
  int64_t tag_ttl_ms = 30'000;       // how long a tag → digest answer is reused
  int64_t lease_ttl_ms = 120'000;    // upstream-fetch lease lifetime
  int64_t lease_wait_ms = 30'000;    // how long a lease loser waits for the torrent
  int64_t swarm_timeout_ms = 30'000;  // a swarm download without progress this long → upstream
  bool forward_proxy = true;         // serve absolute-form requests (OSTree http_proxy)
  // CONNECT is tunnelled only to these ports: an open tunnel to any port would make the proxy
  // a relay for anything (SMTP, SSH…).
  std::vector<std::string> connect_ports = {"443"};
  std::string tls_cert_file, tls_key_file;
  std::string log_level = "info";
};

void declare_proxy_options(Options& opts, ProxyConfig& cfg);

}  // namespace sc
