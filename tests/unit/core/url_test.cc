// Tests of the one URL parser: every part split out, IPv6 and host lists, and strict refusal of
// what RFC 3986 forbids (the twins it replaced each let some of these through).
#include "common/core/url.h"

#include <gtest/gtest.h>

namespace sc {
namespace {

TEST(Url, SplitsEveryPart) {
  auto u = parse_url("HTTPS://us%40er:p;w@Example.COM:8443/a/b%2F:c@d?x=1&y=/?z#frag/?");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->authority, "us%40er:p;w@Example.COM:8443");
  EXPECT_TRUE(u->has_userinfo);
  EXPECT_EQ(u->userinfo, "us%40er:p;w");
  EXPECT_EQ(u->host, "Example.COM");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->hosts, (std::vector<HostPort>{{"Example.COM", 8443}}));
  EXPECT_EQ(u->path, "/a/b%2F:c@d");
  EXPECT_TRUE(u->has_query);
  EXPECT_EQ(u->query, "x=1&y=/?z");
  EXPECT_TRUE(u->has_fragment);
  EXPECT_EQ(u->fragment, "frag/?");
}

TEST(Url, OptionalPartsAreAbsentNotEmpty) {
  auto u = parse_url("redis://h");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->has_userinfo);
  EXPECT_EQ(u->port, 0);
  EXPECT_EQ(u->path, "");
  EXPECT_FALSE(u->has_query);
  EXPECT_FALSE(u->has_fragment);

  u = parse_url("http://@h/?#");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->has_userinfo);
  EXPECT_EQ(u->userinfo, "");
  EXPECT_EQ(u->path, "/");
  EXPECT_TRUE(u->has_query);
  EXPECT_EQ(u->query, "");
  EXPECT_TRUE(u->has_fragment);

  u = parse_url("http://h?q");  // a query straight after the authority
  ASSERT_TRUE(u);
  EXPECT_EQ(u->path, "");
  EXPECT_EQ(u->query, "q");
}

TEST(Url, Ipv6HostsLoseTheirBrackets) {
  auto u = parse_url("http://[::1]:81/a");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 81);
  u = parse_url("http://[2001:db8::ffff:10.0.0.1]");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "2001:db8::ffff:10.0.0.1");
  EXPECT_EQ(u->port, 0);
}

TEST(Url, HostListsOnlyWhenAsked) {
  auto u = parse_url("sentinel://h1:26380,h2,[::1]:5000/m/2", {.host_list = true});
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->hosts, (std::vector<HostPort>{{"h1", 26380}, {"h2", 0}, {"::1", 5000}}));
  EXPECT_EQ(u->host, "h1");
  EXPECT_EQ(u->port, 26380);
  EXPECT_FALSE(parse_url("sentinel://h1,h2/m"));
  EXPECT_FALSE(parse_url("sentinel://h1,,h2/m", {.host_list = true}));
  EXPECT_FALSE(parse_url("sentinel://h1,/m", {.host_list = true}));
}

TEST(Url, RefusesMalformedUrls) {
  for (std::string_view bad : {
           "", "example.com/x", "://h/", "1http://h/", "ht tp://h/", "h_t://h/", "http:/h/", "http://", "http:///x",
           "http://?q", "http://h:0/", "http://h:65536/", "http://h:99999/", "http://h:123456/", "http://h:/",
           "http://h:8x/", "http://h:-1/", "http://h:+80/", "http://a b/", "http://h/a b", "http://h/\r\nX: y",
           "http://h/\x7f", "http://h/caf\xc3\xa9", "http://[::1/", "http://[zz]/", "http://[]/", "http://[:::]/",
           "http://[1.2.3.4]/", "http://[fe80::1%25eth0]/", "http://[::1]x/", "http://::1/", "http://h%41/",
           "http://h!/", "http://a@b@c/", "http://evil.com\\@good.com/", "http://u:p w@h/", "http://u%zz@h/",
           "http://h/a%", "http://h/a%4", "http://h/a%4g", "http://h/a?%G0", "http://h/#%", "http://h/a|b",
           "http://h/{x}", "http://h/a\"b", "http://h/<a>", "http://h/a^b", "http://h/a`b", "http://h/?a[]=1",
           "http://h/a#b#c", "http://h/a\\b"}) {
    auto u = parse_url(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().code, Errc::invalid_argument) << bad;
  }
}

TEST(Url, BoundsHostAndUrlLength) {
  std::string label(63, 'a');
  std::string host = label + "." + label + "." + label + "." + std::string(61, 'a');  // 253 bytes
  EXPECT_TRUE(parse_url("http://" + host + "/"));
  EXPECT_FALSE(parse_url("http://" + host + "a/"));
  std::string path(kMaxParsedUrlBytes, 'p');
  EXPECT_FALSE(parse_url("http://h/" + path));
}

TEST(Url, PortBoundsAndLeadingZeros) {
  EXPECT_EQ(parse_url("http://h:65535")->port, 65535);
  EXPECT_EQ(parse_url("http://h:1")->port, 1);
  EXPECT_EQ(parse_url("http://h:0080")->port, 80);
  EXPECT_FALSE(parse_url("http://h:00000"));
}

TEST(HostPort, ParsesEachForm) {
  EXPECT_EQ(parse_host_port("h").value(), (HostPort{"h", 0}));
  EXPECT_EQ(parse_host_port("10.0.0.5:6380").value(), (HostPort{"10.0.0.5", 6380}));
  EXPECT_EQ(parse_host_port("[::1]").value(), (HostPort{"::1", 0}));
  EXPECT_EQ(parse_host_port("[::1]:7").value(), (HostPort{"::1", 7}));
  for (std::string_view bad : {"", ":80", "h:", "[::1]:", "::1", "h:80:81", "h/x", "[::1"})
    EXPECT_FALSE(parse_host_port(bad)) << bad;
}

}  // namespace
}  // namespace sc
