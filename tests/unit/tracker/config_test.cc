// Tracker configuration: both Chihaya dialects load unchanged, unsupported keys become named
// warnings, and validation errors name their key.
#include "services/tracker/config.h"

#include <gtest/gtest.h>

namespace sc {
namespace {

TEST(TrackerConfig, ChihayaV2Dialect) {
  Options o("t", "t");
  TrackerConfig c;
  declare_tracker_options(o, c);
  auto st = o.load_yaml(R"(
chihaya:
  announce_interval: 15m
  prometheus_addr: 0.0.0.0:6880
  http:
    addr: 0.0.0.0:6881
    allow_ip_spoofing: true
    real_ip_header: X-Forwarded-For
    read_timeout: 5s
    write_timeout: 5s
    request_timeout: 5s
  storage:
    gc_interval: 14m
    peer_lifetime: 15m
    shards: 16
    max_numwant: 50
)");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(c.announce_interval_ms, 15 * 60'000);
  EXPECT_EQ(c.metrics_addr, "0.0.0.0:6880");
  EXPECT_EQ(c.http_addr, "0.0.0.0:6881");
  EXPECT_TRUE(c.allow_ip_spoofing);
  EXPECT_EQ(c.real_ip_header, "X-Forwarded-For");
  EXPECT_EQ(c.gc_interval_ms, 14 * 60'000);
  EXPECT_EQ(c.peer_lifetime_ms, 15 * 60'000);
  EXPECT_EQ(c.shard_count, 16);
  EXPECT_EQ(c.max_numwant, 50);
  EXPECT_TRUE(o.warnings().empty()) << o.warnings().front();
  auto lo = make_logic_options(c);
  ASSERT_TRUE(lo) << lo.error().message;
  EXPECT_EQ(lo->announce_interval_s, 900);
  EXPECT_EQ(lo->max_numwant, 50u);
}

TEST(TrackerConfig, ChihayaCurrentDialect) {
  Options o("t", "t");
  TrackerConfig c;
  declare_tracker_options(o, c);
  auto st = o.load_yaml(R"(
chihaya:
  announce_interval: 30m
  min_announce_interval: 15m
  metrics_addr: "0.0.0.0:6880"
  http:
    addr: "0.0.0.0:6969"
    https_addr: ""
    tls_cert_path: ""
    tls_key_path: ""
    read_timeout: 5s
    write_timeout: 5s
    enable_keepalive: false
    idle_timeout: 30s
    enable_request_timing: false
    announce_routes:
      - "/announce"
    scrape_routes:
      - "/scrape"
    allow_ip_spoofing: false
    real_ip_header: "x-real-ip"
    max_numwant: 100
    default_numwant: 50
    max_scrape_infohashes: 50
  udp:
    addr: "0.0.0.0:6969"
    max_clock_skew: 10s
    private_key: "paste a random string here"
  storage:
    name: memory
    config:
      gc_interval: 3m
      peer_lifetime: 31m
      shard_count: 1024
      prometheus_reporting_interval: 1s
  prehooks:
    - name: client approval
      options:
        whitelist: ["OP1011"]
  frobnicate: yes
)");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(c.min_announce_interval_ms, 15 * 60'000);
  EXPECT_EQ(c.http_addr, "0.0.0.0:6969");
  EXPECT_EQ(c.udp_addr, "0.0.0.0:6969");
  EXPECT_EQ(c.udp_max_clock_skew_ms, 10'000);
  EXPECT_EQ(c.udp_private_key, "paste a random string here");
  EXPECT_EQ(c.default_numwant, 50);
  EXPECT_EQ(c.max_scrape_infohashes, 50);
  EXPECT_EQ(c.announce_routes, std::vector<std::string>{"/announce"});
  EXPECT_EQ(c.peer_lifetime_ms, 31 * 60'000);
  EXPECT_EQ(c.shard_count, 1024);
  ASSERT_EQ(c.prehooks.size(), 1u);
  EXPECT_EQ(c.prehooks[0].name, "client approval");
  EXPECT_EQ(c.prehooks[0].options["whitelist"][0].as<std::string>(), "OP1011");
  // Every key we do not support is named.
  std::string all;
  for (const auto& w : o.warnings()) all += w + "\n";
  for (const char* key : {"http.https_addr", "http.enable_keepalive", "http.idle_timeout",
                          "storage.config.prometheus_reporting_interval", "frobnicate"}) {
    EXPECT_NE(all.find(key), std::string::npos) << key << " not named in:\n" << all;
  }
}

TEST(TrackerConfig, V2HookConfigKey) {
  Options o("t", "t");
  TrackerConfig c;
  declare_tracker_options(o, c);
  auto st = o.load_yaml(R"(
prehooks:
  - name: jwt
    config:
      issuer: https://quay.example
)");
  ASSERT_TRUE(st) << st.error().message;
  ASSERT_EQ(c.prehooks.size(), 1u);
  EXPECT_EQ(c.prehooks[0].options["issuer"].as<std::string>(), "https://quay.example");
  st = o.load_yaml("prehooks:\n  - options: {}\n");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("prehooks"), std::string::npos);
}

TEST(TrackerConfig, Validation) {
  TrackerConfig c;
  c.max_numwant = -1;
  auto r = make_logic_options(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("http.max_numwant"), std::string::npos);
  c = TrackerConfig{};
  c.trusted_proxies = {"10.0.0.0/8", "bogus"};
  r = make_logic_options(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("trusted_proxies"), std::string::npos);
  c = TrackerConfig{};
  c.trusted_proxies = {"10.0.0.0/8", "::1"};
  r = make_logic_options(c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->trusted_proxies.size(), 2u);
}

}  // namespace
}  // namespace sc
