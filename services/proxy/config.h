#pragma once
// swarmcache-proxy configuration: the flags every daemon shares (--listen, --metastore,
// --token-file, --log-level…) plus the proxy's own keys. TLS for the mirror endpoint takes
// torrent-cache's names: CERTFILE / PRIVATEKEY.
#include <cstdint>
#include <string>
#include <vector>

#include "common/core/config.h"

namespace sc {

// A registry the mirror serves (`upstreams:`); containerd names it in ?ns=<name>.
struct RegistryUpstream {
  std::string name;  // "docker.io", "quay.io"
  std::string url;   // "https://registry-1.docker.io"
  std::string username, password;
  std::string ca_file;
};

// An OSTree origin the forward proxy serves (`ostree.remotes:`): requests whose absolute-form
// URL is http://<host>:<port><prefix>/… are fetched from it, keyed ostree/<name>/<rest>.
struct OstreeRemote {
  std::string name;
  std::string url;     // as configured
  std::string origin;  // "http://host:port", what requests are sent to
  std::string host;    // lower-case
  uint16_t port = 80;
  std::string prefix;  // path prefix without a trailing '/', "" for the root
};

inline constexpr std::string_view kDockerHub = "docker.io";

struct ProxyConfig {
  std::string listen = "0.0.0.0:8888";
  // upstream.* (and --upstream) describe the docker.io entry; "" = the default URL, so that an
  // explicit setting that clashes with an `upstreams` entry for docker.io can be refused.
  std::string upstream;
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
  int64_t cache_scrub_rate = 0;  // bytes/s re-hashed in the background; 0 = no scrub
  std::string state_dir = "/var/lib/swarmcache/proxy";
  std::string peer_listen = "0.0.0.0:6883";  // clear of the seeder (6881) and leecher (6882)
  bool swarm = true;                 // false: never use BitTorrent (cache + upstream only)
  std::string node_id;               // lease holder name; default hostname-pid
  int64_t tag_ttl_ms = 30'000;       // how long a tag → digest answer is reused
  int64_t lease_ttl_ms = 120'000;    // upstream-fetch lease lifetime
  int64_t lease_wait_ms = 30'000;    // how long a lease loser waits for the torrent
  int64_t swarm_timeout_ms = 30'000;  // a swarm download without progress this long → upstream
  std::vector<RegistryUpstream> upstreams;  // after finish_proxy_config: docker.io included
  std::string default_registry = std::string(kDockerHub);  // requests without ?ns=
  std::vector<OstreeRemote> ostree_remotes;
  // Serve absolute-form requests for ostree.remotes (off anyway while the list is empty).
  bool forward_proxy = true;
  // CONNECT targets, exact host:port pairs; empty = CONNECT refused. A tunnel to any port
  // would make the proxy a relay for anything (SMTP, SSH, the metastore…).
  std::vector<std::string> connect_allow;
  std::vector<std::string> connect_ports;  // removed key: any value is a start-up error
  std::string tls_cert_file, tls_key_file;
  std::string log_level = "info";
};

void declare_proxy_options(Options& opts, ProxyConfig& cfg);
// After parsing: adds the docker.io entry from upstream.*, checks names, URLs and host:port
// pairs. Errors: invalid_argument naming the key.
Status finish_proxy_config(ProxyConfig& cfg);
// The configured registry called `name`; nullptr when not mirrored.
const RegistryUpstream* find_registry(const ProxyConfig& cfg, std::string_view name);

}  // namespace sc
