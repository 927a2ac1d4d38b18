// proto/oci: Distribution API paths, digests, names, Range, Bearer challenges, absolute URLs.
#include "proto/oci.h"

#include <gtest/gtest.h>

namespace sc {
namespace {

const std::string kHex(64, 'a');

TEST(OciPath, BaseAndRoutes) {
  EXPECT_EQ(parse_oci_path("/v2/")->route, OciRoute::base);
  EXPECT_EQ(parse_oci_path("/v2")->route, OciRoute::base);
  auto m = parse_oci_path("/v2/library/debian/manifests/bookworm-slim");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->route, OciRoute::manifest);
  EXPECT_EQ(m->name, "library/debian");
  EXPECT_EQ(m->reference, "bookworm-slim");
  EXPECT_FALSE(m->reference_is_digest);
  auto b = parse_oci_path("/v2/a/b/c/d/blobs/sha256:" + kHex);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->route, OciRoute::blob);
  EXPECT_EQ(b->name, "a/b/c/d");
  EXPECT_EQ(b->reference, "sha256:" + kHex);
  auto md = parse_oci_path("/v2/x/manifests/sha256:" + kHex);
  ASSERT_TRUE(md);
  EXPECT_TRUE(md->reference_is_digest);
  auto t = parse_oci_path("/v2/x/y/tags/list");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->route, OciRoute::tags_list);
  EXPECT_EQ(t->name, "x/y");
  // A repository may itself contain a "blobs" component.
  auto nb = parse_oci_path("/v2/blobs/blobs/sha256:" + kHex);
  ASSERT_TRUE(nb);
  EXPECT_EQ(nb->name, "blobs");
}

TEST(OciPath, RefusesBadInput) {
  EXPECT_EQ(parse_oci_path("/v2/x/blobs/sha256:abc").error().code, "DIGEST_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/x/blobs/sha256:" + std::string(64, 'A')).error().code, "DIGEST_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/x/blobs/md5:" + kHex).error().code, "DIGEST_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/x/blobs/" + kHex).error().code, "DIGEST_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/../etc/blobs/sha256:" + kHex).error().code, "NAME_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/a/../../blobs/sha256:" + kHex).error().code, "NAME_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/a/%2e%2e/blobs/sha256:" + kHex).error().code, "NAME_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/a//b/blobs/sha256:" + kHex).error().code, "NAME_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/Upper/manifests/latest").error().code, "NAME_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/a-/manifests/latest").error().code, "NAME_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/a___b/manifests/latest").error().code, "NAME_INVALID");
  EXPECT_TRUE(parse_oci_path("/v2/a__b/manifests/latest"));
  EXPECT_TRUE(parse_oci_path("/v2/a---b.c_d/manifests/latest"));
  EXPECT_EQ(parse_oci_path("/v2/a/manifests/.hidden").error().code, "TAG_INVALID");
  EXPECT_EQ(parse_oci_path("/v2/a/manifests/" + std::string(129, 't')).error().code, "TAG_INVALID");
  EXPECT_EQ(parse_oci_path("/v3/a/manifests/latest").error().code, "UNSUPPORTED");
  EXPECT_EQ(parse_oci_path("/v2/a/blobs/uploads/").error().status, 405);
  EXPECT_EQ(parse_oci_path("/v2/a/whatever").error().status, 404);
  EXPECT_EQ(parse_oci_path("/v2/" + std::string(300, 'a') + "/manifests/x").error().code, "NAME_INVALID");
}

TEST(Range, Forms) {
  auto r = parse_range("bytes=0-99", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::range);
  EXPECT_EQ(r.range.first, 0);
  EXPECT_EQ(r.range.last, 99);
  r = parse_range("bytes=900-", 1000);
  EXPECT_EQ(r.range.first, 900);
  EXPECT_EQ(r.range.last, 999);
  r = parse_range("bytes=-100", 1000);
  EXPECT_EQ(r.range.first, 900);
  EXPECT_EQ(r.range.length(), 100);
  r = parse_range("bytes=-5000", 1000);
  EXPECT_EQ(r.range.first, 0);
  r = parse_range("bytes=10-99999", 1000);
  EXPECT_EQ(r.range.last, 999);
  EXPECT_EQ(parse_range("bytes=1000-", 1000).outcome, RangeOutcome::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 1000).outcome, RangeOutcome::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=5-1", 1000).outcome, RangeOutcome::none);
  EXPECT_EQ(parse_range("bytes=0-1,5-6", 1000).outcome, RangeOutcome::none);
  EXPECT_EQ(parse_range("items=0-1", 1000).outcome, RangeOutcome::none);
  EXPECT_EQ(parse_range("bytes=a-b", 1000).outcome, RangeOutcome::none);
  EXPECT_EQ(parse_range("bytes=99999999999999999999-", 1000).outcome, RangeOutcome::none);
  EXPECT_EQ(parse_range("", 1000).outcome, RangeOutcome::none);
}

TEST(Bearer, Challenge) {
  auto c = parse_bearer_challenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->realm, "https://auth.docker.io/token");
  EXPECT_EQ(c->service, "registry.docker.io");
  EXPECT_EQ(c->scope, "repository:library/ubuntu:pull");
  EXPECT_EQ(token_url(*c),
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fubuntu%3Apull");
  auto e = parse_bearer_challenge(R"(bearer  realm = "http://x/t?a=1" , scope="a\"b", error="insufficient_scope")");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->scope, "a\"b");
  EXPECT_EQ(token_url(*e), "http://x/t?a=1&scope=a%22b");
  EXPECT_FALSE(parse_bearer_challenge(R"(Basic realm="x")"));
  EXPECT_FALSE(parse_bearer_challenge(R"(Bearer service="x")"));
  EXPECT_FALSE(parse_bearer_challenge(R"(Bearer realm="file:///etc/passwd")"));
  EXPECT_FALSE(parse_bearer_challenge(R"(Bearer realm="https://x)"));
  EXPECT_FALSE(parse_bearer_challenge(R"(Bearer realm="https://x/t#f",scope="s")"));
  EXPECT_FALSE(parse_bearer_challenge(R"(Bearer realm="https://a b/t")"));
  EXPECT_FALSE(parse_bearer_challenge("Bearer realm=\"https://x\n\""));
  EXPECT_FALSE(parse_bearer_challenge("Bearer realm=\"https://x\" " + std::string(5000, 'a')));
}

TEST(AbsoluteUrl, Parse) {
  auto u = parse_absolute_url("http://Example.COM:8080/repo/deltas/ab/cd?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/repo/deltas/ab/cd");
  EXPECT_EQ(u->query, "x=1");
  u = parse_absolute_url("http://127.0.0.1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->path, "/");
  EXPECT_EQ(u->port, 80);
  u = parse_absolute_url("http://[::1]:81/a");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_FALSE(parse_absolute_url("ftp://x/"));
  EXPECT_FALSE(parse_absolute_url("http://user@x/"));
  EXPECT_FALSE(parse_absolute_url("http://x:0/"));
  EXPECT_FALSE(parse_absolute_url("http://x:99999/"));
  EXPECT_FALSE(parse_absolute_url("http:///a"));
  EXPECT_FALSE(parse_absolute_url("http://x/a b"));
  // The hand-written parser took any hex-and-colon text in brackets as an IPv6 address.
  EXPECT_FALSE(parse_absolute_url("http://[:::]/"));
  EXPECT_FALSE(parse_absolute_url("http://[1.2.3.4]/"));
  EXPECT_FALSE(parse_absolute_url("http://x/#f"));
  EXPECT_FALSE(parse_absolute_url("http://x/a|b"));
}

TEST(OciError, Json) {
  EXPECT_EQ(oci_error_json("BLOB_UNKNOWN", "no \"such\"\n"),
            R"({"errors":[{"code":"BLOB_UNKNOWN","message":"no \"such\"\n","detail":null}]})");
}

}  // namespace
}  // namespace sc
