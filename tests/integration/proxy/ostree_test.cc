// OSTree through the forward proxy: an archive repository with static deltas served by a
// plain HTTP server (python3 http.server), `ostree pull` with http_proxy through proxy A, then
// into a fresh repository through proxy B. The origin is a configured remote ("origin"); delta
// files go through the swarm keyed ostree/origin/<path below the remote's prefix>: the origin
// serves each delta file once; B gets them from A.
#include <gtest/gtest.h>

#include "tests/integration/proxy/proxy_test_util.h"

namespace sc::test {
namespace {

class OstreeProxy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_tool("ostree")) GTEST_SKIP() << "ostree not installed";
    std::string repo = dir_.file("www/repo"), src = dir_.file("src");
    std::string mk = "mkdir -p " + repo + " " + src + "/usr/share && head -c 3000000 /dev/urandom > " + src +
                     "/usr/share/a && ostree --repo=" + repo + " init --mode=archive && ostree --repo=" + repo +
                     " commit -b main --tree=dir=" + src + " -s v1 && head -c 2000000 /dev/urandom > " + src +
                     "/usr/share/b && ostree --repo=" + repo + " commit -b main --tree=dir=" + src +
                     " -s v2 && ostree --repo=" + repo + " static-delta generate --empty --to=main && ostree --repo=" +
                     repo + " static-delta generate main && ostree --repo=" + repo + " summary -u";
    ASSERT_EQ(run_cmd(mk), 0);
    origin_port_ = free_port();
    origin_ = std::make_unique<Process>(std::vector<std::string>{
        "python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", std::to_string(origin_port_), "--directory",
        dir_.file("www")});
    ASSERT_TRUE(wait_until([&] { return http_request(origin_port_, "GET", "/repo/config").status == 200; }, 20s))
        << origin_->output();

    tracker_ = start_tracker(&tracker_port_);
    ASSERT_NE(tracker_port_, 0) << tracker_->output();
    std::ofstream(dir_.file("tokens")) << "t0k\n";
    meta_ = start_metastore(redis_.url(), dir_.file("tokens"), &meta_port_);
    ASSERT_NE(meta_port_, 0) << meta_->output();
  }

  std::string remotes_config() {
    std::string cfg = dir_.file("remotes.yaml");
    std::ofstream(cfg) << "ostree:\n  remotes:\n    - name: origin\n      url: http://127.0.0.1:" << origin_port_
                       << "/repo\n";
    return cfg;
  }

  ProxyProc proxy(const std::string& id) {
    return start_proxy(dir_, id, "http://127.0.0.1:1",
                       {"--metastore", "http://127.0.0.1:" + std::to_string(meta_port_), "--tracker",
                        "http://127.0.0.1:" + std::to_string(tracker_port_) + "/announce", "--token-file",
                        dir_.file("tokens"), "--config", remotes_config()});
  }

  int pull(const ProxyProc& p, const std::string& client) {
    std::string repo = dir_.file(client);
    std::string cmd = "ostree --repo=" + repo + " init --mode=bare-user && ostree --repo=" + repo +
                      " remote add --no-gpg-verify origin http://127.0.0.1:" + std::to_string(origin_port_) +
                      "/repo && http_proxy=http://127.0.0.1:" + std::to_string(p.port) + " ostree --repo=" + repo +
                      " pull origin main";
    return run_cmd(cmd);
  }

  TempDir dir_;
  RedisServer redis_;
  std::unique_ptr<Process> origin_, tracker_, meta_;
  int origin_port_ = 0, tracker_port_ = 0, meta_port_ = 0;
};

TEST_F(OstreeProxy, DeltasThroughTheSwarmTwice) {
  auto a = proxy("a");
  auto b = proxy("b");
  ASSERT_EQ(pull(a, "client-a"), 0) << a.proc->output();
  std::string log = origin_->output();
  size_t delta_gets = count_occurrences(log, "GET /repo/deltas/");
  ASSERT_GE(delta_gets, 2u) << "the pull used a static delta (superblock and part)\n" << log;
  EXPECT_EQ(metric_or_zero(a.metrics(), "swarmcache_proxy_requests_total{kind=\"forward\",result=\"pass\"}") > 0, true);
  ASSERT_TRUE(wait_until(
      [&] { return metric_or_zero(a.metrics(), "swarmcache_proxy_torrents_registered_total") >= double(delta_gets); }, 30s))
      << a.proc->output();

  // Registered under the configured remote's name, never under the host the client named.
  auto listing = http_request(meta_port_, "GET", "/v1/torrents?prefix=ostree/");
  EXPECT_NE(listing.body.find("\"ostree/origin/deltas/"), std::string::npos) << listing.body;
  EXPECT_EQ(listing.body.find("127.0.0.1"), std::string::npos) << listing.body;

  ASSERT_EQ(pull(b, "client-b"), 0) << b.proc->output();
  EXPECT_EQ(count_occurrences(origin_->output(), "GET /repo/deltas/"), delta_gets)
      << "proxy B took every delta file from the swarm\n" << origin_->output();
  auto mb = b.metrics();
  EXPECT_GT(metric_or_zero(mb, "swarmcache_proxy_served_bytes_total{source=\"peer\"}"), 4'000'000) << mb;
  EXPECT_EQ(metric_or_zero(mb, "swarmcache_proxy_swarm_downloads_total{result=\"ok\"}"), double(delta_gets));
  // Both clients hold the same commit.
  EXPECT_EQ(run_cmd("test \"$(ostree --repo=" + dir_.file("client-a") + " rev-parse main)\" = \"$(ostree --repo=" +
                    dir_.file("client-b") + " rev-parse main)\""),
            0);
  EXPECT_EQ(run_cmd("ostree --repo=" + dir_.file("client-b") + " fsck"), 0);
}

TEST_F(OstreeProxy, ConnectTunnelsToAllowedTargetsOnly) {
  std::string origin = "127.0.0.1:" + std::to_string(origin_port_);
  auto a = start_proxy(dir_, "a", "http://127.0.0.1:1",
                       {"--metastore", "http://127.0.0.1:" + std::to_string(meta_port_), "--connect-allow",
                        "registry.example:443," + origin});
  // Through the tunnel, a plain request reaches the origin untouched.
  std::string resp = raw_exchange(a.port,
                                  "CONNECT " + origin + " HTTP/1.1\r\nHost: " + origin + "\r\n\r\n" +
                                      "GET /repo/config HTTP/1.1\r\nHost: " + origin + "\r\nConnection: close\r\n\r\n",
                                  10s);
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.")) << resp;
  EXPECT_NE(resp.find("[core]"), std::string::npos) << "the origin's repo config came back\n" << resp;
  // Targets outside the allow-list are refused: the proxy is no open relay. The metastore's port
  // on the same (allowed) address is not reachable either: pairs, not ports or hosts.
  for (const std::string& target :
       std::vector<std::string>{"127.0.0.1:25", "127.0.0.1:" + std::to_string(meta_port_), "registry.example:80"}) {
    std::string refused = raw_exchange(a.port, "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n", 5s);
    EXPECT_NE(refused.find(" 403 "), std::string::npos) << target << "\n" << refused;
  }
  auto r = http_request(a.port, "GET", "/repo/config", "", {}, 10s, "127.0.0.1");
  EXPECT_EQ(r.status, 404) << "a direct non-/v2 request is not proxied anywhere";
  EXPECT_TRUE(wait_until(
      [&] { return metric_or_zero(a.metrics(), "swarmcache_proxy_requests_total{kind=\"connect\",result=\"ok\"}") == 1; }, 10s))
      << a.metrics();
}

}  // namespace
}  // namespace sc::test
