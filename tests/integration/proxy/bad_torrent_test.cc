// A bad torrent registered under a real digest, served by a real peer: proxy A seeds bytes
// that are not the blob (planted in its cache, with a lying record) and the torrent of those
// bytes is registered under sha256:<the blob's digest>. Proxy B streams it, finds the sha256
// wrong and cuts the response short (never a complete 200), reports the torrent to the
// metastore's quarantine (the registration is dropped), and the next client is served right.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/proxy/proxy_test_util.h"

namespace sc::test {
namespace {

class BadTorrent : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_tool("mktorrent")) GTEST_SKIP() << "mktorrent not installed";
    upstream_ = start_fake_upstream(&up_port_);
    ASSERT_NE(up_port_, 0) << upstream_->output();
    good_ = fake_upstream_digest("good");

    tracker_ = start_tracker(&tracker_port_);
    ASSERT_NE(tracker_port_, 0) << tracker_->output();
    std::ofstream(dir_.file("tokens")) << "proxy-token\n";
    meta_ = start_metastore(redis_.url(), dir_.file("tokens"), &meta_port_);
    ASSERT_NE(meta_port_, 0) << meta_->output();
  }
  ProxyProc proxy(const std::string& id) {
    return start_proxy(dir_, id, "http://127.0.0.1:" + std::to_string(up_port_),
                       {"--metastore", "http://127.0.0.1:" + std::to_string(meta_port_), "--tracker", announce(),
                        "--token-file", dir_.file("tokens")});
  }
  std::string announce() { return "http://127.0.0.1:" + std::to_string(tracker_port_) + "/announce"; }
  HttpResult torrent_of(const std::string& key) { return http_request(meta_port_, "GET", "/v1/torrents/" + key); }

  TempDir dir_;
  RedisServer redis_;
  std::unique_ptr<Process> upstream_, tracker_, meta_;
  int up_port_ = 0, tracker_port_ = 0, meta_port_ = 0;
  std::string good_;
};

TEST_F(BadTorrent, WrongSwarmBytesAreCutShortQuarantinedAndThenServedRight) {
  std::string hex = good_.substr(7);
  // Proxy A's cache holds 100 000 bytes that are not the blob, with a record that claims they
  // are, and the torrent of those bytes (4 pieces of 32 KiB) among the torrents it seeds.
  std::string cache_a = dir_.file("cache-a"), state_a = dir_.file("state-a");
  std::filesystem::create_directories(cache_a + "/blobs");
  std::filesystem::create_directories(cache_a + "/meta");
  std::filesystem::create_directories(state_a + "/torrents");
  std::ofstream(cache_a + "/blobs/" + hex) << std::string(100'000, 'X');
  std::ofstream(cache_a + "/meta/" + hex) << "100000 " << hex << "\n";
  std::string torrent = state_a + "/torrents/" + hex + ".torrent";
  ASSERT_EQ(run_cmd("mktorrent -l 15 -a " + announce() + " -o " + torrent + " " + cache_a + "/blobs/" + hex), 0);
  auto a = proxy("a");
  ASSERT_NE(a.port, 0);
  auto put = http_request(meta_port_, "PUT", "/v1/torrents/" + good_, read_text(torrent),
                          {{"Authorization", "Bearer proxy-token"}, {"Content-Type", "application/x-bittorrent"}});
  ASSERT_EQ(put.status, 201) << put.body;

  auto b = proxy("b");
  ASSERT_NE(b.port, 0);
  auto r = http_request(b.port, "GET", "/v2/good/blobs/" + good_, "", {}, 60s);
  EXPECT_EQ(r.headers["content-length"], "100000") << r.status << " " << r.body.substr(0, 200);
  EXPECT_LT(r.body.size(), 100'000u) << "a complete 200 of the wrong bytes";
  auto mb = b.metrics();
  EXPECT_EQ(metric_or_zero(mb, "swarmcache_proxy_swarm_downloads_total{result=\"digest_mismatch\"}"), 1) << mb;
  EXPECT_EQ(metric_or_zero(mb, "swarmcache_proxy_torrents_quarantined_total"), 1) << mb;

  // B fell back upstream for the cache: its next client gets the blob, whole and right.
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(b.cache + "/blobs/" + hex); }, 20s)) << b.proc->output();
  r = http_request(b.port, "GET", "/v2/good/blobs/" + good_, "", {}, 20s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 2400u);
  EXPECT_EQ(r.headers["docker-content-digest"], good_);
  // The bad registration is gone (B's own good torrent may have replaced it), so a fresh proxy
  // is served right too.
  ASSERT_TRUE(wait_until(
      [&] {
        auto t = torrent_of(good_);
        return t.status == 404 || (t.status == 200 && t.body != read_text(torrent));
      },
      20s));
  auto c = proxy("c");
  r = http_request(c.port, "GET", "/v2/good/blobs/" + good_, "", {}, 60s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 2400u);
  EXPECT_EQ(r.body.substr(0, 24), "authorized blob content\n");
}

}  // namespace
}  // namespace sc::test
