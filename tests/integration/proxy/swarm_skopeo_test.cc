// The registry mirror end to end with real clients: a real docker-registry upstream loaded
// with a locally made image, a tracker, a metastore on a real redis-server, and proxies.
// skopeo through proxy A (miss → upstream → torrent registered), then through proxy B (hit →
// the bytes come from A over the swarm); the upstream's access log shows each blob once.
// Then two more proxies pull another image at the same time: the lease lets one go upstream.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <thread>

#include <unistd.h>

#include "tests/integration/proxy/proxy_test_util.h"

namespace sc::test {
namespace {

std::vector<std::string> json_strings_after(const std::string& json, const std::string& key) {
  std::vector<std::string> out;
  size_t p = json.find("\"" + key + "\"");
  if (p == std::string::npos) return out;
  size_t end = json.find_first_of("]}", p);
  std::regex re("sha256:[0-9a-f]{64}");
  std::string part = json.substr(p, end - p);
  for (std::sregex_iterator it(part.begin(), part.end(), re), e; it != e; ++it) out.push_back(it->str());
  return out;
}

class SwarmSkopeo : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_tool("docker-registry") || !have_tool("skopeo")) GTEST_SKIP() << "docker-registry/skopeo not installed";
    reg_port_ = free_port();
    std::ofstream(dir_.file("reg.yml")) << "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n"
                                        << "    rootdirectory: " << dir_.file("reg") << "\nhttp:\n  addr: 127.0.0.1:"
                                        << reg_port_ << "\n";
    registry_ = std::make_unique<Process>(std::vector<std::string>{"docker-registry", "serve", dir_.file("reg.yml")});
    ASSERT_TRUE(wait_until([&] { return http_request(reg_port_, "GET", "/v2/").status == 200; }, 20s))
        << registry_->output();

    tracker_ = start_tracker(&tracker_port_);
    ASSERT_NE(tracker_port_, 0) << tracker_->output();

    std::ofstream(dir_.file("tokens")) << "proxy-token\n";
    std::ofstream(dir_.file("token")) << "proxy-token\n";
    meta_ = start_metastore(redis_.url(), dir_.file("tokens"), &meta_port_);
    ASSERT_NE(meta_port_, 0) << meta_->output();
  }

  // Builds an OCI layout and pushes it to the registry; returns the image's JSON summary.
  std::string push_image(const std::string& name, std::vector<int> layer_kib) {
    std::string layout = dir_.file("layout-" + std::to_string(++images_));
    std::string cmd = "python3 " + source_path("tests/integration/proxy/make_oci_image.py") + " " + layout + " v1";
    for (int k : layer_kib) cmd += " " + std::to_string(k);
    std::string out;
    FILE* f = popen(cmd.c_str(), "r");
    char buf[4096];
    while (f && fgets(buf, sizeof buf, f)) out += buf;
    if (f) pclose(f);
    EXPECT_EQ(run_cmd("skopeo copy --dest-tls-verify=false oci:" + layout + ":v1 docker://127.0.0.1:" +
                      std::to_string(reg_port_) + "/" + name + ":v1"),
              0);
    return out;
  }

  ProxyProc proxy(const std::string& id) {
    return start_proxy(dir_, id, "http://127.0.0.1:" + std::to_string(reg_port_),
                       {"--metastore", "http://127.0.0.1:" + std::to_string(meta_port_), "--tracker",
                        "http://127.0.0.1:" + std::to_string(tracker_port_) + "/announce", "--token-file",
                        dir_.file("token")});
  }

  int pull(const ProxyProc& p, const std::string& name, const std::string& out) {
    return run_cmd("skopeo copy --src-tls-verify=false docker://127.0.0.1:" + std::to_string(p.port) + "/" + name +
                   ":v1 dir:" + out);
  }

  size_t upstream_gets(const std::string& name, const std::string& digest) {
    return count_occurrences(registry_->output(), "\"GET /v2/" + name + "/blobs/" + digest);
  }

  TempDir dir_;
  RedisServer redis_;
  std::unique_ptr<Process> registry_, tracker_, meta_;
  int reg_port_ = 0, tracker_port_ = 0, meta_port_ = 0, images_ = 0;
};

TEST_F(SwarmSkopeo, MissThenHitOverTheSwarm) {
  std::string image = push_image("test/small", {300, 3000});
  auto layers = json_strings_after(image, "layers");
  ASSERT_EQ(layers.size(), 2u) << image;
  auto a = proxy("a");
  auto b = proxy("b");
  ASSERT_EQ(pull(a, "test/small", dir_.file("out-a")), 0) << a.proc->output();
  // A registers each blob it fetched (torrent made after the blob is served).
  ASSERT_TRUE(wait_until([&] { return metric_or_zero(a.metrics(), "swarmcache_proxy_torrents_registered_total") >= 3; }, 30s))
      << a.proc->output();
  ASSERT_EQ(pull(b, "test/small", dir_.file("out-b")), 0) << b.proc->output();
  EXPECT_EQ(run_cmd("diff -r " + dir_.file("out-a") + " " + dir_.file("out-b")), 0);
  for (auto& d : layers) EXPECT_EQ(upstream_gets("test/small", d), 1u) << d << "\n" << registry_->output();
  auto mb = b.metrics();
  EXPECT_EQ(metric_or_zero(mb, "swarmcache_proxy_served_bytes_total{source=\"upstream\"}"), 0) << mb;
  EXPECT_GT(metric_or_zero(mb, "swarmcache_proxy_served_bytes_total{source=\"peer\"}"), 3000 * 1024) << mb;
  EXPECT_EQ(metric_or_zero(mb, "swarmcache_proxy_swarm_downloads_total{result=\"ok\"}"), 3);
  auto ma = a.metrics();
  EXPECT_GT(metric_or_zero(ma, "swarmcache_proxy_served_bytes_total{source=\"upstream\"}"), 3000 * 1024);
  EXPECT_EQ(metric_or_zero(ma, "swarmcache_proxy_leases_total{outcome=\"granted\"}"), 3);

  // A restarted proxy B keeps its cache and seeds again (torrents re-added from its state).
  b.proc->stop();
  auto b2 = start_proxy(dir_, "b", "http://127.0.0.1:" + std::to_string(reg_port_),
                        {"--metastore", "http://127.0.0.1:" + std::to_string(meta_port_)});
  ASSERT_EQ(pull(b2, "test/small", dir_.file("out-b2")), 0);
  auto mb2 = b2.metrics();
  EXPECT_GT(metric_or_zero(mb2, "swarmcache_proxy_served_bytes_total{source=\"cache\"}"), 3000 * 1024) << mb2;
  EXPECT_EQ(metric_or_zero(mb2, "swarmcache_proxy_cache_entries"), 3);
}

TEST_F(SwarmSkopeo, ConcurrentPullsFetchEachBlobOnce) {
  std::string image = push_image("test/herd", {2000, 4000});
  auto layers = json_strings_after(image, "layers");
  ASSERT_EQ(layers.size(), 2u);
  auto c = proxy("c");
  auto d = proxy("d");
  int rc_c = -1, rc_d = -1;
  std::thread tc([&] { rc_c = pull(c, "test/herd", dir_.file("out-c")); });
  std::thread td([&] { rc_d = pull(d, "test/herd", dir_.file("out-d")); });
  tc.join();
  td.join();
  ASSERT_EQ(rc_c, 0) << c.proc->output();
  ASSERT_EQ(rc_d, 0) << d.proc->output();
  EXPECT_EQ(run_cmd("diff -r " + dir_.file("out-c") + " " + dir_.file("out-d")), 0);
  for (auto& dg : layers) EXPECT_EQ(upstream_gets("test/herd", dg), 1u) << dg << "\n" << registry_->output();
  auto mc = c.metrics(), md = d.metrics();
  EXPECT_EQ(metric_or_zero(mc, "swarmcache_proxy_leases_total{outcome=\"granted\"}") +
                metric_or_zero(md, "swarmcache_proxy_leases_total{outcome=\"granted\"}"),
            3)
      << mc << md;
  // The other proxy got every blob from the swarm (found the torrent, or lost the lease and
  // waited for it).
  EXPECT_EQ(metric_or_zero(mc, "swarmcache_proxy_swarm_downloads_total{result=\"ok\"}") +
                metric_or_zero(md, "swarmcache_proxy_swarm_downloads_total{result=\"ok\"}"),
            3);
}

// The torrent is registered but its only seeder is gone: B's swarm download makes no progress,
// and after swarm.timeout B fetches upstream instead; the pull still succeeds.
TEST_F(SwarmSkopeo, StalledSwarmFallsBackUpstream) {
  std::string image = push_image("test/gone", {1000});
  auto layers = json_strings_after(image, "layers");
  ASSERT_EQ(layers.size(), 1u);
  auto a = proxy("a");
  ASSERT_EQ(pull(a, "test/gone", dir_.file("out-a")), 0);
  ASSERT_TRUE(wait_until([&] { return metric_or_zero(a.metrics(), "swarmcache_proxy_torrents_registered_total") >= 2; }, 30s));
  a.proc->stop();
  std::ofstream(dir_.file("fast.yaml")) << "swarm:\n  timeout: 1s\n";
  auto b = start_proxy(dir_, "b", "http://127.0.0.1:" + std::to_string(reg_port_),
                       {"--config", dir_.file("fast.yaml"), "--metastore",
                        "http://127.0.0.1:" + std::to_string(meta_port_), "--tracker",
                        "http://127.0.0.1:" + std::to_string(tracker_port_) + "/announce"});
  ASSERT_EQ(pull(b, "test/gone", dir_.file("out-b")), 0) << b.proc->output();
  EXPECT_EQ(run_cmd("diff -r " + dir_.file("out-a") + " " + dir_.file("out-b")), 0);
  auto mb = b.metrics();
  EXPECT_GE(metric_or_zero(mb, "swarmcache_proxy_swarm_downloads_total{result=\"timeout\"}"), 1) << mb;
  EXPECT_EQ(upstream_gets("test/gone", layers[0]), 2u);
  EXPECT_EQ(count_files(b.cache + "/tmp"), 0u);
}

// A real dockerd pulls through proxy A (registry by host:port; 127.0.0.0/8 is an insecure
// registry by default), then through proxy B, whose layers come over the swarm.
TEST_F(SwarmSkopeo, DockerdPullsThroughTwoProxies) {
  if (!have_tool("docker") || run_cmd("docker info") != 0) GTEST_SKIP() << "no docker daemon";
  std::string image = push_image("test/dockerd", {500, 1500});
  auto layers = json_strings_after(image, "layers");
  ASSERT_EQ(layers.size(), 2u);
  auto a = proxy("a");
  auto b = proxy("b");
  std::string ref_a = "127.0.0.1:" + std::to_string(a.port) + "/test/dockerd:v1";
  std::string ref_b = "127.0.0.1:" + std::to_string(b.port) + "/test/dockerd:v1";
  ASSERT_EQ(run_cmd("docker pull " + ref_a), 0) << a.proc->output();
  ASSERT_TRUE(wait_until([&] { return metric_or_zero(a.metrics(), "swarmcache_proxy_torrents_registered_total") >= 3; }, 30s));
  // Drop the image so the daemon must fetch the layers again, this time through B.
  EXPECT_EQ(run_cmd("docker rmi " + ref_a), 0);
  int rc = run_cmd("docker pull " + ref_b);
  run_cmd("docker rmi " + ref_b);
  ASSERT_EQ(rc, 0) << b.proc->output();
  for (auto& d : layers) EXPECT_EQ(upstream_gets("test/dockerd", d), 1u) << d;
  auto mb = b.metrics();
  EXPECT_GT(metric_or_zero(mb, "swarmcache_proxy_served_bytes_total{source=\"peer\"}"), 1500 * 1024) << mb;
  EXPECT_EQ(metric_or_zero(mb, "swarmcache_proxy_served_bytes_total{source=\"upstream\"}"), 0) << mb;
}

// A private containerd (its own root, state and socket) pulls with `ctr image pull --hosts-dir`:
// hosts.toml names proxy A as the mirror of the registry, so containerd asks A with
// ?ns=<registry>; the image is removed (content garbage-collected) and pulled again through
// proxy B, whose layers come over the swarm. The registry serves each layer once. containerd
// falls back to the registry itself when a mirror fails, so the registry's log and the
// proxies' counters are what prove the mirror path was taken.
TEST_F(SwarmSkopeo, ContainerdPullsThroughTwoProxies) {
  if (!have_tool("containerd") || !have_tool("ctr") || geteuid() != 0) GTEST_SKIP() << "needs root and containerd";
  std::string image = push_image("test/ctd", {700, 1800});
  auto layers = json_strings_after(image, "layers");
  ASSERT_EQ(layers.size(), 2u);
  std::string registry = "127.0.0.1:" + std::to_string(reg_port_);
  std::ofstream(dir_.file("mirror.yaml")) << "upstreams:\n  - name: \"" << registry << "\"\n    url: http://" << registry
                                          << "\n";
  auto mirror = [&](const std::string& id) {
    return start_proxy(dir_, id, "http://127.0.0.1:1",
                       {"--config", dir_.file("mirror.yaml"), "--metastore",
                        "http://127.0.0.1:" + std::to_string(meta_port_), "--tracker",
                        "http://127.0.0.1:" + std::to_string(tracker_port_) + "/announce", "--token-file",
                        dir_.file("token")});
  };
  auto a = mirror("a");
  auto b = mirror("b");

  std::string sock = dir_.file("ctd.sock");
  std::ofstream(dir_.file("containerd.toml")) << "version = 2\nroot = \"" << dir_.file("ctd-root") << "\"\nstate = \""
                                              << dir_.file("ctd-state") << "\"\n"
                                              << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
                                              << "[grpc]\n  address = \"" << sock << "\"\n";
  Process containerd({"containerd", "--config", dir_.file("containerd.toml")});
  std::string ctr = "ctr -a " + sock + " ";
  ASSERT_TRUE(wait_until([&] { return run_cmd(ctr + "version") == 0; }, 20s)) << containerd.output();

  auto pull_via = [&](const ProxyProc& p) {
    std::string hosts = dir_.file("hosts-" + std::to_string(p.port));
    std::filesystem::create_directories(hosts + "/" + registry);
    std::ofstream(hosts + "/" + registry + "/hosts.toml")
        << "server = \"http://" << registry << "\"\n[host.\"http://127.0.0.1:" << p.port
        << "\"]\n  capabilities = [\"pull\", \"resolve\"]\n";
    return run_cmd(ctr + "images pull --snapshotter native --hosts-dir " + hosts + " " + registry + "/test/ctd:v1");
  };
  ASSERT_EQ(pull_via(a), 0) << a.proc->output() << containerd.output();
  ASSERT_TRUE(wait_until([&] { return metric_or_zero(a.metrics(), "swarmcache_proxy_torrents_registered_total") >= 3; }, 30s))
      << a.proc->output();
  ASSERT_EQ(run_cmd(ctr + "images rm --sync " + registry + "/test/ctd:v1"), 0);
  ASSERT_EQ(pull_via(b), 0) << b.proc->output() << containerd.output();
  for (auto& d : layers) EXPECT_EQ(upstream_gets("test/ctd", d), 1u) << d << "\n" << registry_->output();
  auto ma = a.metrics(), mb = b.metrics();
  EXPECT_GT(metric_or_zero(ma, "swarmcache_proxy_served_bytes_total{source=\"upstream\"}"), 1800 * 1024) << ma;
  EXPECT_GT(metric_or_zero(mb, "swarmcache_proxy_served_bytes_total{source=\"peer\"}"), 1800 * 1024) << mb;
  EXPECT_EQ(metric_or_zero(mb, "swarmcache_proxy_served_bytes_total{source=\"upstream\"}"), 0) << mb;
  EXPECT_EQ(run_cmd(ctr + "images check | grep -q 'test/ctd:v1.*complete'"), 0);
}

std::string scrape_complete(int tracker_port, const std::string& infohash_hex) {
  std::string q;
  for (size_t i = 0; i < infohash_hex.size(); i += 2) q += "%" + infohash_hex.substr(i, 2);
  auto r = http_request(tracker_port, "GET", "/scrape?info_hash=" + q);
  std::smatch m;
  if (std::regex_search(r.body, m, std::regex("8:completei([0-9]+)e"))) return m[1];
  return "?";
}

// A cache over its budget evicts the least recently used blob, stops seeding it and tells the
// tracker (event=stopped): the swarm no longer lists this proxy as a seed for it.
TEST_F(SwarmSkopeo, EvictionStopsSeeding) {
  std::string first = push_image("test/old", {2500});
  auto old_layers = json_strings_after(first, "layers");
  ASSERT_EQ(old_layers.size(), 1u);
  auto a = start_proxy(dir_, "a", "http://127.0.0.1:" + std::to_string(reg_port_),
                       {"--metastore", "http://127.0.0.1:" + std::to_string(meta_port_), "--tracker",
                        "http://127.0.0.1:" + std::to_string(tracker_port_) + "/announce", "--token-file",
                        dir_.file("token"), "--cache-size", "4M"});
  ASSERT_EQ(pull(a, "test/old", dir_.file("out-old")), 0) << a.proc->output();
  ASSERT_TRUE(wait_until([&] { return metric_or_zero(a.metrics(), "swarmcache_proxy_torrents_registered_total") >= 2; }, 30s));
  std::string hex = old_layers[0].substr(7);
  auto meta = http_request(meta_port_, "GET", "/v1/torrents/sha256%3A" + hex, "", {{"Accept", "application/json"}});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(meta.body, m, std::regex("\"infohash\":\"([0-9a-f]{40})\""))) << meta.body;
  std::string ih = m[1];
  ASSERT_TRUE(wait_until([&] { return scrape_complete(tracker_port_, ih) == "1"; }, 20s))
      << "A seeds the blob it fetched: " << scrape_complete(tracker_port_, ih);

  push_image("test/new", {3000});
  ASSERT_EQ(pull(a, "test/new", dir_.file("out-new")), 0) << a.proc->output();
  EXPECT_FALSE(std::filesystem::exists(a.cache + "/blobs/" + hex)) << "the old layer was evicted";
  auto ma = a.metrics();
  EXPECT_GE(metric_or_zero(ma, "swarmcache_proxy_cache_evictions_total"), 1);
  EXPECT_LE(metric_or_zero(ma, "swarmcache_proxy_cache_bytes"), 4 << 20);
  EXPECT_TRUE(wait_until([&] { return scrape_complete(tracker_port_, ih) == "0"; }, 20s))
      << "the tracker still lists a seed: " << scrape_complete(tracker_port_, ih);
}

}  // namespace
}  // namespace sc::test
