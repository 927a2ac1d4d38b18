// swarmcache-proxy against a misbehaving upstream (fake_upstream.py): malformed digests, path
// traversal, upstream 404/500/timeout, a truncated body, a digest mismatch, the bearer token
// dance, redirects, tag TTL. Each gets the right OCI error and nothing bad enters the cache.
#include <gtest/gtest.h>

#include "tests/integration/proxy/proxy_test_util.h"

namespace sc::test {
namespace {

const std::string kHexA(64, 'a');

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = start_fake_upstream(&up_port_);
    ASSERT_NE(up_port_, 0) << upstream_->output();
    std::string cfg = dir_.file("proxy.yaml");
    std::ofstream(cfg) << "upstream:\n  timeout: 1s\n  retries: 1\n";
    proxy_ = start_proxy(dir_, "a", "http://127.0.0.1:" + std::to_string(up_port_), {"--config", cfg});
    ASSERT_NE(proxy_.port, 0);
    good_ = fake_upstream_digest("good");
    redirected_ = fake_upstream_digest("redirected");
    manifest_ = fake_upstream_digest("manifest");
  }
  HttpResult get(const std::string& target, std::map<std::string, std::string> headers = {}) {
    return http_request(proxy_.port, "GET", target, "", headers, 20s);
  }
  size_t upstream_hits(const std::string& path_part) { return count_occurrences(upstream_->output(), path_part); }
  size_t cached() { return count_files(proxy_.cache + "/blobs"); }

  TempDir dir_;
  std::unique_ptr<Process> upstream_;
  int up_port_ = 0;
  ProxyProc proxy_;
  std::string good_, redirected_, manifest_;
};

TEST_F(BadInput, MalformedDigestsAndNames) {
  auto r = get("/v2/bad/x/blobs/sha256:abc");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("DIGEST_INVALID"), std::string::npos) << r.body;
  r = get("/v2/bad/x/blobs/sha256:" + std::string(64, 'A'));
  EXPECT_EQ(r.status, 400);
  r = get("/v2/bad/x/blobs/md5:" + kHexA);
  EXPECT_NE(r.body.find("DIGEST_INVALID"), std::string::npos);
  r = get("/v2/a/../../blobs/sha256:" + kHexA);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("NAME_INVALID"), std::string::npos) << r.body;
  r = get("/v2/a/%2e%2e/%2e%2e/blobs/sha256:" + kHexA);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("NAME_INVALID"), std::string::npos);
  r = get("/v2/Bad/manifests/latest");
  EXPECT_NE(r.body.find("NAME_INVALID"), std::string::npos);
  r = http_request(proxy_.port, "PUT", "/v2/good/blobs/uploads/", "x");
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.body.find("UNSUPPORTED"), std::string::npos);
  r = get("/v2/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["docker-distribution-api-version"], "registry/2.0");
  EXPECT_EQ(upstream_hits("REQ GET /v2/bad/x"), 0u) << "malformed requests never reach upstream";
  EXPECT_EQ(cached(), 0u);
}

TEST_F(BadInput, UpstreamNotFoundErrorAndTimeout) {
  auto r = get("/v2/bad/notfound/blobs/sha256:" + kHexA);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("BLOB_UNKNOWN"), std::string::npos) << r.body;
  r = get("/v2/bad/error/blobs/sha256:" + kHexA);
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find("\"errors\""), std::string::npos) << r.body;
  EXPECT_EQ(upstream_hits("REQ GET /v2/bad/error/"), 2u) << "one retry with back-off, then give up";
  r = get("/v2/bad/slow/blobs/sha256:" + kHexA);
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_NE(r.body.find("\"errors\""), std::string::npos);
  r = get("/v2/bad/notfound/manifests/latest");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("MANIFEST_UNKNOWN"), std::string::npos);
  EXPECT_EQ(cached(), 0u);
}

TEST_F(BadInput, TruncatedBodyIsNotCompleteAndNotCached) {
  auto r = get("/v2/bad/truncated/blobs/sha256:" + kHexA);
  // Headers were already sent when the upstream died: the client must see a short body.
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], "100000");
  EXPECT_LT(r.body.size(), 100000u);
  EXPECT_EQ(cached(), 0u);
  EXPECT_EQ(count_files(proxy_.cache + "/tmp"), 0u) << "the partial file is deleted";
}

TEST_F(BadInput, DigestMismatchIsNeverServedCompleteNorCached) {
  std::string target = "/v2/bad/mismatch/blobs/sha256:" + kHexA;
  for (int i = 0; i < 2; ++i) {
    auto r = get(target);
    EXPECT_EQ(r.status, 200);
    ASSERT_FALSE(r.headers["content-length"].empty());
    EXPECT_LT(r.body.size(), std::stoul(r.headers["content-length"])) << "the last bytes are held back";
  }
  EXPECT_EQ(upstream_hits("REQ GET /v2/bad/mismatch/"), 2u) << "nothing was cached, so both went upstream";
  EXPECT_EQ(cached(), 0u);
  EXPECT_EQ(metric_or_zero(proxy_.metrics(), "swarmcache_proxy_digest_mismatch_total"), 2);
}

TEST_F(BadInput, TokenDanceRedirectAndCache) {
  ASSERT_FALSE(good_.empty());
  auto r = get("/v2/auth/x/blobs/" + good_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.size(), 2400u);
  EXPECT_EQ(r.headers["docker-content-digest"], good_);
  EXPECT_EQ(upstream_hits("REQ GET /token"), 1u);
  EXPECT_EQ(upstream_hits("auth=Bearer tok-123"), 1u);
  // Second time: from the cache, no upstream traffic at all.
  r = get("/v2/auth/x/blobs/" + good_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 2400u);
  EXPECT_EQ(upstream_hits("REQ GET /v2/auth/"), 2u);
  // Range from the cache.
  r = get("/v2/auth/x/blobs/" + good_, {{"Range", "bytes=24-47"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "authorized blob content\n");
  EXPECT_EQ(r.headers["content-range"], "bytes 24-47/2400");
  r = get("/v2/auth/x/blobs/" + good_, {{"Range", "bytes=5000-"}});
  EXPECT_EQ(r.status, 416);
  // Redirect to "blob storage".
  r = get("/v2/bad/redirect/blobs/" + redirected_);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.size(), 2300u);
  EXPECT_EQ(upstream_hits("REQ GET /storage/blob"), 1u);
  EXPECT_EQ(cached(), 2u);
  auto m = proxy_.metrics();
  EXPECT_EQ(metric_or_zero(m, "swarmcache_proxy_served_bytes_total{source=\"upstream\"}"), 2400 + 2300);
  EXPECT_EQ(metric_or_zero(m, "swarmcache_proxy_served_bytes_total{source=\"cache\"}"), 2400 + 24);
}

TEST_F(BadInput, ManifestsByTagAndDigest) {
  auto r = get("/v2/good/manifests/v1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["docker-content-digest"], manifest_);
  EXPECT_EQ(r.headers["content-type"], "application/vnd.oci.image.manifest.v1+json");
  r = get("/v2/good/manifests/v1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(upstream_hits("REQ GET /v2/good/manifests/v1"), 1u) << "the tag is reused within its TTL";
  r = get("/v2/good/manifests/" + manifest_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(upstream_hits("REQ GET /v2/good/manifests/sha256"), 0u) << "by digest, from the cache";
  r = http_request(proxy_.port, "HEAD", "/v2/good/manifests/" + manifest_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.headers["docker-content-digest"], manifest_);
}

// The mirror endpoint over HTTPS (cert/key as torrent-cache's CERTFILE/PRIVATEKEY, here from
// the environment), pulled by skopeo with verification against the self-signed certificate.
TEST(ProxyTls, SkopeoOverHttps) {
  if (!have_tool("openssl") || !have_tool("skopeo")) GTEST_SKIP() << "openssl/skopeo not installed";
  TempDir dir;
  ASSERT_EQ(run_cmd("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext "
                    "subjectAltName=IP:127.0.0.1 -keyout " + dir.file("key.pem") + " -out " + dir.file("cert.pem")),
            0);
  Process upstream({"python3", "-u", source_path("tests/integration/proxy/fake_upstream.py")});
  auto up = upstream.wait_for_number("port", 10s);
  ASSERT_TRUE(up);
  Process proxy({build_path("services/proxy/swarmcache-proxy"), "--listen", "127.0.0.1:0", "--upstream",
                 "http://127.0.0.1:" + std::to_string(*up), "--cache", dir.file("cache"), "--state", dir.file("state"),
                 "--peer-listen", "127.0.0.1:0"},
                {{"SWARMCACHE_CERTFILE", dir.file("cert.pem")}, {"SWARMCACHE_PRIVATEKEY", dir.file("key.pem")}});
  auto port = proxy.wait_for_number("http_port", 20s);
  ASSERT_TRUE(port) << proxy.output();
  std::string out = dir.file("out");
  std::string certs = dir.file("certs");
  ASSERT_EQ(run_cmd("mkdir -p " + certs + " && cp " + dir.file("cert.pem") + " " + certs + "/ca.crt"), 0);
  // The fake upstream's manifest names a config blob it does not have, so ask for the manifest
  // only: skopeo inspect --raw fetches it over TLS, verified with our CA.
  EXPECT_EQ(run_cmd("(skopeo inspect --raw --cert-dir " + certs + " docker://127.0.0.1:" + std::to_string(*port) +
                    "/good:v1 > " + out + ")"),
            0)
      << proxy.output();
  EXPECT_NE(read_text(out).find("schemaVersion"), std::string::npos);
  // Plain HTTP to the TLS port gets no registry answer.
  EXPECT_NE(http_request(*port, "GET", "/v2/", "", {}, 3s).status, 200);
}

}  // namespace
}  // namespace sc::test
