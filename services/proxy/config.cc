// Declares swarmcache-proxy's configuration keys, flags and their environment variables, and
// checks the access lists (registries, OSTree remotes, CONNECT targets) once parsed.
#include "services/proxy/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "common/io/http_server.h"
#include "proto/oci.h"

namespace sc {
namespace {

constexpr std::string_view kDockerHubUrl = "https://registry-1.docker.io";

// Names end up in content keys (ostree/<name>/…) and log lines: keep them plain.
bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_' || c == ':';
  });
}

std::string scalar(const YAML::Node& n, const char* key) {
  return n[key] && n[key].IsScalar() ? n[key].Scalar() : std::string();
}

Status bad(std::string m) { return fail(Errc::invalid_argument, std::move(m)); }

Status parse_upstreams(const YAML::Node& n, std::vector<RegistryUpstream>& out) {
  out.clear();
  if (n.IsNull()) return {};
  if (!n.IsSequence()) return bad("expected a list of {name, url, username, password, ca_file} maps");
  for (const auto& item : n) {
    if (!item.IsMap()) return bad("each upstream is a map");
    for (const auto& kv : item) {
      std::string k = kv.first.Scalar();
      if (k != "name" && k != "url" && k != "username" && k != "password" && k != "ca_file")
        return bad("unknown key `" + k + "` in an upstream");
    }
    RegistryUpstream u{scalar(item, "name"), scalar(item, "url"), scalar(item, "username"), scalar(item, "password"),
                       scalar(item, "ca_file")};
    if (!valid_name(u.name)) return bad("an upstream needs a `name` (the registry, as in ?ns=docker.io)");
    out.push_back(std::move(u));
  }
  return {};
}

Status parse_remotes(const YAML::Node& n, std::vector<OstreeRemote>& out) {
  out.clear();
  if (n.IsNull()) return {};
  if (!n.IsSequence()) return bad("expected a list of {name, url} maps");
  for (const auto& item : n) {
    if (!item.IsMap()) return bad("each remote is a map");
    for (const auto& kv : item) {
      std::string k = kv.first.Scalar();
      if (k != "name" && k != "url") return bad("unknown key `" + k + "` in a remote");
    }
    OstreeRemote r;
    r.name = scalar(item, "name");
    r.url = scalar(item, "url");
    if (!valid_name(r.name) || r.name.find(':') != std::string::npos)
      return bad("a remote needs a `name` of letters, digits, '.', '-', '_'");
    auto u = parse_absolute_url(r.url);
    if (!u) return bad("remote " + r.name + ": " + u.error().message);
    if (u->scheme != "http")
      return bad("remote " + r.name + ": only http:// origins can be proxied (clients tunnel https with CONNECT: "
                 "list host:443 under connect.allow)");
    if (!u->query.empty()) return bad("remote " + r.name + ": no query string in a remote URL");
    r.host = u->host;
    r.port = u->port;
    bool v6 = r.host.find(':') != std::string::npos;
    r.origin = "http://" + (v6 ? "[" + r.host + "]" : r.host) + ":" + std::to_string(r.port);
    r.prefix = u->path;
    while (!r.prefix.empty() && r.prefix.back() == '/') r.prefix.pop_back();
    out.push_back(std::move(r));
  }
  return {};
}

}  // namespace

void declare_proxy_options(Options& o, ProxyConfig& c) {
  o.add_string("listen", &c.listen, "Registry mirror / forward proxy listener HOST:PORT", "listen");
  o.add_string("upstream.url", &c.upstream, "URL of the docker.io upstream (default https://registry-1.docker.io)",
               "upstream");
  o.add_string("upstream.username", &c.upstream_username, "docker.io upstream user (token endpoint basic auth)");
  o.add_string("upstream.password", &c.upstream_password, "docker.io upstream password");
  o.add_string("upstream.ca_file", &c.upstream_ca_file, "Extra CA bundle for the docker.io upstream's TLS");
  o.add_bool("upstream.tls_verify", &c.upstream_tls_verify, "Verify upstream TLS certificates (every upstream)");
  o.add_duration("upstream.timeout", &c.upstream_timeout_ms, "Upstream connect/read idle timeout (every upstream)");
  o.add_int("upstream.retries", &c.upstream_retries,
            "Upstream retries (with back-off) before any byte is sent (every upstream)");
  o.add_node("upstreams", [&c](const YAML::Node& n) { return parse_upstreams(n, c.upstreams); },
             "Registries mirrored: [{name: quay.io, url: https://quay.io, username, password, ca_file}]; chosen by "
             "containerd's ?ns=<name>");
  o.add_string("default_registry", &c.default_registry, "Registry for requests without ?ns= (dockerd mirrors only docker.io)");
  o.add_node("ostree.remotes", [&c](const YAML::Node& n) { return parse_remotes(n, c.ostree_remotes); },
             "OSTree origins the forward proxy serves: [{name: fedora, url: http://host:port/repo}]");
  o.add_string("metastore", &c.metastore, "Metastore base URL (empty: no swarm coordination)", "metastore");
  o.add_string("tracker", &c.tracker, "Announce URL for torrents this proxy creates", "tracker");
  o.add_string("token_file", &c.token_file, "File holding the bearer token for metastore writes", "token-file");
  o.add_string("cache.dir", &c.cache_dir, "Blob cache directory", "cache");
  o.add_bytes("cache.size", &c.cache_size, "Blob cache byte budget (LRU eviction)", "cache-size");
  o.add_bytes("cache.scrub_rate", &c.cache_scrub_rate,
              "Bytes per second re-hashed by the background scrub (0: off; at most 80M is used)");
  o.add_string("state", &c.state_dir, "State directory (torrents, resume data)", "state");
  o.add_string("peer_listen", &c.peer_listen, "BitTorrent listener HOST:PORT", "peer-listen");
  o.add_bool("swarm.enabled", &c.swarm, "Use the swarm (false: cache + upstream only)");
  o.add_string("node_id", &c.node_id, "Name used as lease holder (default hostname-pid)");
  o.add_duration("tag_ttl", &c.tag_ttl_ms, "How long a tag's digest is reused before re-resolving");
  o.add_duration("lease.ttl", &c.lease_ttl_ms, "Upstream-fetch lease lifetime");
  o.add_duration("lease.wait", &c.lease_wait_ms, "How long a lease loser waits for the torrent");
  o.add_duration("swarm.timeout", &c.swarm_timeout_ms, "A swarm download that gains no byte for this long falls back upstream");
  o.add_bool("forward_proxy", &c.forward_proxy, "Serve absolute-form (http_proxy) requests for ostree.remotes");
  o.add_list("connect.allow", &c.connect_allow, "host:port pairs CONNECT may tunnel to (empty: CONNECT refused)",
             "connect-allow");
  o.add_list("connect_ports", &c.connect_ports, "Removed (it allowed any host): use connect.allow", "connect-ports");
  o.add_string("tls.cert_file", &c.tls_cert_file, "Certificate for HTTPS on the listener (torrent-cache CERTFILE)",
               "certfile");
  o.add_string("tls.key_file", &c.tls_key_file, "Private key for HTTPS on the listener (torrent-cache PRIVATEKEY)",
               "privatekey");
  o.add_string("log_level", &c.log_level, "debug, info, warn, error", "log-level");
}

Status finish_proxy_config(ProxyConfig& c) {
  if (!c.connect_ports.empty())
    return bad("connect_ports was removed: it let CONNECT reach any host on those ports; list host:port pairs "
               "under connect.allow instead");
  bool listed = find_registry(c, kDockerHub) != nullptr;
  if (listed && !c.upstream.empty())
    return bad("docker.io is configured twice: by upstream.url (--upstream) and in upstreams");
  if (!listed) {
    c.upstreams.push_back({std::string(kDockerHub), c.upstream.empty() ? std::string(kDockerHubUrl) : c.upstream,
                           c.upstream_username, c.upstream_password, c.upstream_ca_file});
  }
  for (size_t i = 0; i < c.upstreams.size(); ++i) {
    const auto& u = c.upstreams[i];
    auto url = parse_absolute_url(u.url);
    if (!url || !url->query.empty()) return bad("upstream " + u.name + ": bad url `" + u.url + "`");
    for (size_t j = 0; j < i; ++j)
      if (c.upstreams[j].name == u.name) return bad("upstream " + u.name + " is listed twice");
  }
  if (!find_registry(c, c.default_registry))
    return bad("default_registry " + c.default_registry + " is not one of the upstreams");
  for (size_t i = 0; i < c.ostree_remotes.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (c.ostree_remotes[j].name == c.ostree_remotes[i].name)
        return bad("ostree remote " + c.ostree_remotes[i].name + " is listed twice");
  for (auto& a : c.connect_allow) {
    auto hp = split_host_port(a);
    if (!hp || hp->first.empty() || hp->second == 0) return bad("connect.allow: `" + a + "` is not host:port");
  }
  return {};
}

const RegistryUpstream* find_registry(const ProxyConfig& c, std::string_view name) {
  for (const auto& u : c.upstreams)
    if (u.name == name) return &u;
  return nullptr;
}

}  // namespace sc
