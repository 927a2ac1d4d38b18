// What the proxy fetches comes from its configuration, never from the request: each attack on
// an open relay, sent as curl would send it (Host header, absolute-form http and https, paths outside
// a remote, CONNECT, unknown registries, names and redirects that lead to loopback) is refused
// and never reaches anything.
#include <gtest/gtest.h>

#include "tests/integration/proxy/proxy_test_util.h"

namespace sc::test {
namespace {

class Access : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = start_fake_upstream(&up_port_);
    ASSERT_NE(up_port_, 0) << upstream_->output();
    up_ = "127.0.0.1:" + std::to_string(up_port_);
  }
  ProxyProc proxy(const std::string& id, const std::string& yaml, const std::string& upstream = "") {
    std::string cfg = dir_.file(id + ".yaml");
    std::ofstream(cfg) << "upstream:\n  timeout: 2s\n  retries: 0\n" << yaml;
    auto p = start_proxy(dir_, id, upstream.empty() ? "http://" + up_ : upstream, {"--config", cfg});
    EXPECT_NE(p.port, 0);
    return p;
  }
  std::string remote_yaml() { return "ostree:\n  remotes:\n    - name: fedora\n      url: http://" + up_ + "/repo\n"; }
  // An absolute-form request line, as `curl -x http://proxy URL` sends it.
  std::string via_proxy(const ProxyProc& p, const std::string& method, const std::string& url) {
    return raw_exchange(p.port, method + " " + url + " HTTP/1.1\r\nHost: " + host_of(url) +
                                    "\r\nConnection: close\r\n\r\n", 10s);
  }
  static std::string host_of(const std::string& url) {
    size_t start = url.find("://") + 3;
    return url.substr(start, url.find('/', start) - start);
  }
  size_t upstream_hits(const std::string& part) { return count_occurrences(upstream_->output(), part); }
  double refused(ProxyProc& p, const std::string& kind) {
    return metric_or_zero(p.metrics(), "swarmcache_proxy_requests_total{kind=\"" + kind + "\",result=\"refused\"}");
  }

  TempDir dir_;
  std::unique_ptr<Process> upstream_;
  int up_port_ = 0;
  std::string up_;
};

TEST_F(Access, HostHeaderNeverSelectsATarget) {
  auto p = proxy("a", remote_yaml());
  // curl -H 'Host: 127.0.0.1:<port>' http://proxy/v1/nodes
  auto r = http_request(p.port, "GET", "/v1/nodes", "", {{"Host", up_}}, 10s);
  EXPECT_EQ(r.status, 404) << r.body;
  r = http_request(p.port, "GET", "/repo/config", "", {{"Host", up_}}, 10s);
  EXPECT_EQ(r.status, 404) << "even a configured remote's host in Host is not a forward request";
  EXPECT_EQ(upstream_hits("REQ GET /v1/nodes"), 0u);
  EXPECT_EQ(upstream_hits("REQ GET /repo/config"), 0u);
}

TEST_F(Access, AbsoluteFormOnlyForConfiguredRemotes) {
  auto p = proxy("a", remote_yaml());
  // curl -x http://proxy http://127.0.0.1:<port>/v1/nodes: the right host, outside the prefix.
  std::string resp = via_proxy(p, "GET", "http://" + up_ + "/v1/nodes");
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 403")) << resp;
  // Another host entirely, with a path that would be swarmed and registered.
  resp = via_proxy(p, "GET", "http://attacker.invalid/any/deltas/x");
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 403")) << resp;
  // The proxy's own listener.
  resp = via_proxy(p, "GET", "http://127.0.0.1:" + std::to_string(p.port) + "/repo/config");
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 403")) << resp;
  // Dot segments would climb out of the prefix at the origin.
  resp = via_proxy(p, "GET", "http://" + up_ + "/repo/../v1/nodes");
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 400")) << resp;
  resp = via_proxy(p, "GET", "http://" + up_ + "/repo/%2e%2e/v1/nodes");
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 400")) << resp;
  EXPECT_EQ(upstream_hits("REQ GET /v1/"), 0u) << upstream_->output();
  // The configured remote itself is served.
  resp = via_proxy(p, "GET", "http://" + up_ + "/repo/config");
  EXPECT_EQ(upstream_hits("REQ GET /repo/config"), 1u) << resp;
  EXPECT_EQ(refused(p, "forward"), 3);
  EXPECT_EQ(count_files(p.cache + "/blobs"), 0u);
}

TEST_F(Access, AbsoluteHttpsIsRefusedNeverDowngraded) {
  auto p = proxy("a", remote_yaml());
  std::string resp = via_proxy(p, "GET", "https://" + up_ + "/repo/config");
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 403")) << resp;
  EXPECT_NE(resp.find("CONNECT"), std::string::npos) << resp;
  EXPECT_EQ(upstream_hits("REQ GET /repo/config"), 0u);
}

TEST_F(Access, ForwardProxyIsOffWithoutRemotes) {
  auto p = proxy("a", "");
  std::string resp = via_proxy(p, "GET", "http://" + up_ + "/repo/config");
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 403")) << resp;
  EXPECT_EQ(upstream_hits("REQ GET /repo/"), 0u);
}

TEST_F(Access, ConnectIsOffByDefault) {
  auto p = proxy("a", remote_yaml());
  std::string resp = raw_exchange(p.port, "CONNECT " + up_ + " HTTP/1.1\r\nHost: " + up_ + "\r\n\r\n", 2s);
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 403")) << resp;
  EXPECT_EQ(refused(p, "connect"), 1);
}

TEST_F(Access, ConnectPortsIsRemovedWithAClearError) {
  Process p({build_path("services/proxy/swarmcache-proxy"), "--listen", "127.0.0.1:0", "--cache", dir_.file("c"),
             "--state", dir_.file("s"), "--connect-ports", "443"});
  ASSERT_TRUE(wait_until([&] { return !p.running(); }, 20s));
  auto status = p.stop();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << *status;
  EXPECT_NE(p.output().find("connect.allow"), std::string::npos) << p.output();
}

TEST_F(Access, RegistriesByNs) {
  std::string yaml = "upstreams:\n  - name: quay.io\n    url: http://" + up_ + "\n";
  auto p = proxy("a", yaml);
  auto r = http_request(p.port, "GET", "/v2/good/manifests/v1?ns=ghcr.io", "", {}, 10s);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("NAME_UNKNOWN"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("ghcr.io"), std::string::npos) << r.body;
  EXPECT_EQ(upstream_hits("REQ GET /v2/good/manifests/v1"), 0u);
  r = http_request(p.port, "GET", "/v2/good/manifests/v1?ns=quay.io", "", {}, 10s);
  EXPECT_EQ(r.status, 200) << r.body;
  r = http_request(p.port, "GET", "/v2/good/manifests/v1", "", {}, 10s);
  EXPECT_EQ(r.status, 200) << "no ?ns= → docker.io, here the --upstream\n" << r.body;
  EXPECT_EQ(upstream_hits("REQ GET /v2/good/manifests/v1"), 2u) << "tags are cached per registry";
  // containerd escapes the value (registry "host:port" arrives as "host%3Aport").
  r = http_request(p.port, "GET", "/v2/good/manifests/v1?ns=quay%2Eio", "", {}, 10s);
  EXPECT_EQ(r.status, 200) << r.body;
  r = http_request(p.port, "GET", "/v2/good/manifests/v1?ns=quay%zzio", "", {}, 10s);
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(Access, NamesAndRedirectsToLoopbackAreNotDialled) {
  // Configured by name, "localhost" resolves to loopback: only a literal address may be.
  auto by_name = proxy("a", "", "http://localhost:" + std::to_string(up_port_));
  auto r = http_request(by_name.port, "GET", "/v2/good/blobs/sha256:" + std::string(64, 'a'), "", {}, 10s);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("DENIED"), std::string::npos) << r.body;
  EXPECT_EQ(upstream_hits("REQ GET /v2/good/"), 0u);
  // The literal upstream may redirect, but not to another loopback address.
  auto p = proxy("b", "");
  r = http_request(p.port, "GET", "/v2/bad/redirect-internal/blobs/sha256:" + std::string(64, 'b'), "", {}, 10s);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(upstream_hits("REQ GET /v2/bad/redirect-internal/"), 1u);
  EXPECT_EQ(upstream_hits("REQ GET /storage/"), 0u);
  EXPECT_EQ(count_files(p.cache + "/blobs"), 0u);
}

}  // namespace
}  // namespace sc::test
