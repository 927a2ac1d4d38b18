// No client gets a complete 2xx body whose bytes are not the digest, whatever happens to the
// cache on disk: a flipped byte is caught while the entry is first served after a restart (the
// response is cut short and the entry evicted), a truncated file is dropped at start, a Range
// request waits for the whole-file check, and the background scrub finds rot on its own, also
// in an entry already verified and served by plain sendfile, which is then never served again.
#include <gtest/gtest.h>

#include "tests/integration/proxy/proxy_test_util.h"

namespace sc::test {
namespace {

class Integrity : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = start_fake_upstream(&up_port_);
    ASSERT_NE(up_port_, 0) << upstream_->output();
    good_ = fake_upstream_digest("good");
    target_ = "/v2/good/blobs/" + good_;
  }
  void start(const std::string& yaml = "") {
    std::string cfg = dir_.file("proxy.yaml");
    std::ofstream(cfg) << yaml << "\n";
    proxy_ = start_proxy(dir_, "a", "http://127.0.0.1:" + std::to_string(up_port_), {"--config", cfg});
    ASSERT_NE(proxy_.port, 0);
  }
  void restart(const std::string& yaml = "") {
    proxy_.proc->stop();
    if (mutate_) mutate_(blob_file());
    start(yaml);
  }
  std::string blob_file() { return proxy_.cache + "/blobs/" + good_.substr(7); }
  HttpResult get(std::map<std::string, std::string> headers = {}) {
    return http_request(proxy_.port, "GET", target_, "", headers, 20s);
  }
  double m(const std::string& series) { return metric_or_zero(proxy_.metrics(), series); }
  static void flip_byte(const std::string& path) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(1000);
    char c = 0;
    f.get(c);
    f.seekp(1000);
    f.put(static_cast<char>(c ^ 0x20));
  }

  TempDir dir_;
  std::unique_ptr<Process> upstream_;
  int up_port_ = 0;
  std::string good_, target_;
  ProxyProc proxy_;
  std::function<void(const std::string&)> mutate_;
};

TEST_F(Integrity, FlippedByteIsCaughtOnFirstServeAfterRestart) {
  start();
  auto r = get();
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body.size(), 2400u);
  mutate_ = flip_byte;
  restart();
  r = get();
  EXPECT_EQ(r.headers["content-length"], "2400");
  EXPECT_LT(r.body.size(), 2400u) << "cut short: the bytes did not match the digest";
  EXPECT_TRUE(wait_until([&] { return m("swarmcache_proxy_cache_corrupt_total") == 1; }, 10s)) << proxy_.metrics();
  EXPECT_FALSE(std::filesystem::exists(blob_file())) << "the bad entry is evicted";
  // The next request starts clean: upstream again, correct bytes, cached again.
  r = get();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 2400u);
  EXPECT_EQ(r.body.substr(0, 24), "authorized blob content\n");
  EXPECT_EQ(count_occurrences(upstream_->output(), "REQ GET /v2/good/blobs/"), 2u);
}

TEST_F(Integrity, IntactEntryIsVerifiedOnceThenServedPlainly) {
  start();
  ASSERT_EQ(get().status, 200);
  restart();
  auto r = get();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 2400u);
  EXPECT_EQ(r.headers["docker-content-digest"], good_);
  EXPECT_TRUE(wait_until(
      [&] { return m("swarmcache_proxy_requests_total{kind=\"blob\",result=\"cache_verified\"}") == 1; }, 10s));
  r = get();
  EXPECT_EQ(r.body.size(), 2400u);
  EXPECT_EQ(m("swarmcache_proxy_requests_total{kind=\"blob\",result=\"cache\"}"), 1) << "sendfile, no second hash";
  EXPECT_EQ(m("swarmcache_proxy_cache_corrupt_total"), 0);
  EXPECT_EQ(count_occurrences(upstream_->output(), "REQ GET /v2/good/blobs/"), 1u);
}

TEST_F(Integrity, TruncatedFileIsDroppedAtStart) {
  start();
  ASSERT_EQ(get().status, 200);
  mutate_ = [](const std::string& path) { std::filesystem::resize_file(path, 1000); };
  restart();
  EXPECT_EQ(m("swarmcache_proxy_cache_corrupt_total"), 1);
  EXPECT_FALSE(std::filesystem::exists(blob_file()));
  auto r = get();
  EXPECT_EQ(r.body.size(), 2400u) << "fetched again, whole";
}

TEST_F(Integrity, RangeOnAnUnverifiedCorruptEntryIsRefused) {
  start();
  ASSERT_EQ(get().status, 200);
  mutate_ = flip_byte;
  restart();
  auto r = get({{"Range", "bytes=0-99"}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_FALSE(std::filesystem::exists(blob_file()));
  r = get({{"Range", "bytes=0-23"}});
  EXPECT_EQ(r.status, 206) << "refetched, checked, then the range";
  EXPECT_EQ(r.body, "authorized blob content\n");
}

TEST_F(Integrity, ScrubFindsRotWithoutARequest) {
  start();
  ASSERT_EQ(get().status, 200);
  mutate_ = flip_byte;
  restart("cache:\n  scrub_rate: 1M\n");
  EXPECT_TRUE(wait_until([&] { return m("swarmcache_proxy_cache_corrupt_total") == 1; }, 20s)) << proxy_.metrics();
  EXPECT_FALSE(std::filesystem::exists(blob_file()));
  EXPECT_GE(m("swarmcache_proxy_cache_scrubbed_bytes_total"), 2400);
}

// Rot after the entry was verified in this run: hits are plain sendfile without a hash, so only
// the scrub can catch it; once it has, the bad copy is gone and the next request refetches.
TEST_F(Integrity, ScrubbedRotInAVerifiedEntryIsNeverServedAgain) {
  start("cache:\n  scrub_rate: 1M\n");
  ASSERT_EQ(get().status, 200);
  ASSERT_EQ(get().body.size(), 2400u);
  ASSERT_EQ(m("swarmcache_proxy_requests_total{kind=\"blob\",result=\"cache\"}"), 1) << "a plain sendfile hit";
  flip_byte(blob_file());
  EXPECT_TRUE(wait_until([&] { return m("swarmcache_proxy_cache_corrupt_total") == 1; }, 20s)) << proxy_.metrics();
  EXPECT_FALSE(std::filesystem::exists(blob_file()));
  auto r = get();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 2400u);
  EXPECT_EQ(r.body.substr(0, 24), "authorized blob content\n");
  EXPECT_EQ(count_occurrences(upstream_->output(), "REQ GET /v2/good/blobs/"), 2u) << "refetched, not the bad copy";
  EXPECT_EQ(m("swarmcache_proxy_requests_total{kind=\"blob\",result=\"cache\"}"), 1);
}

}  // namespace
}  // namespace sc::test
