// Declares swarmcache-proxy's configuration keys, flags and their environment variables.
#include "services/proxy/config.h"

namespace sc {

void declare_proxy_options(Options& o, ProxyConfig& c) {
  o.add_string("listen", &c.listen, "Registry mirror / forward proxy listener HOST:PORT", "listen");
  o.add_string("upstream.url", &c.upstream, "Upstream registry base URL", "upstream");
  o.add_string("upstream.username", &c.upstream_username, "Upstream registry user (token endpoint basic auth)");
  o.add_string("upstream.password", &c.upstream_password, "Upstream registry password");
  o.add_string("upstream.ca_file", &c.upstream_ca_file, "Extra CA bundle for upstream TLS");
  o.add_bool("upstream.tls_verify", &c.upstream_tls_verify, "Verify upstream TLS certificates");
  o.add_duration("upstream.timeout", &c.upstream_timeout_ms, "Upstream connect/read idle timeout");
  o.add_int("upstream.retries", &c.upstream_retries, "Upstream retries (with back-off) before any byte is sent");
  o.add_string("metastore", &c.metastore, "Metastore base URL (empty: no swarm coordination)", "metastore");
  o.add_string("tracker", &c.tracker, "Announce URL for torrents this proxy creates", "tracker");
  o.add_string("token_file", &c.token_file, "File holding the bearer token for metastore writes", "token-file");
  o.add_string("cache.dir", &c.cache_dir, "Blob cache directory", "cache");
  o.add_bytes("cache.size", &c.cache_size, "Blob cache byte budget (LRU eviction)", "cache-size");
  o.add_string("state", &c.state_dir, "State directory (torrents, resume data)", "state");
  o.add_string("peer_listen", &c.peer_listen, "BitTorrent listener HOST:PORT", "peer-listen");
  o.add_bool("swarm.enabled", &c.swarm, "Use the swarm (false: cache + upstream only)");
  o.add_string("node_id", &c.node_id, "Name used as lease holder (default hostname-pid)");
  o.add_duration("tag_ttl", &c.tag_ttl_ms, "How long a tag's digest is reused before re-resolving");
  o.add_duration("lease.ttl", &c.lease_ttl_ms, "Upstream-fetch lease lifetime");
  o.add_duration("lease.wait", &c.lease_wait_ms, "How long a lease loser waits for the torrent");
  o.add_duration("swarm.timeout", &c.swarm_timeout_ms, "A swarm download that gains no byte for this long falls back upstream");
  o.add_bool("forward_proxy", &c.forward_proxy, "Serve absolute-form (http_proxy) requests");
  o.add_list("connect_ports", &c.connect_ports, "Ports CONNECT may tunnel to (forward proxy)", "connect-ports");
  o.add_string("tls.cert_file", &c.tls_cert_file, "Certificate for HTTPS on the listener (torrent-cache CERTFILE)",
               "certfile");
  o.add_string("tls.key_file", &c.tls_key_file, "Private key for HTTPS on the listener (torrent-cache PRIVATEKEY)",
               "privatekey");
  o.add_string("log_level", &c.log_level, "debug, info, warn, error", "log-level");
}

}  // namespace sc
