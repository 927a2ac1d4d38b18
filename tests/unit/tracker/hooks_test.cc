// Prehooks built from YAML exactly as a Chihaya config names them, run through TrackerLogic.
#include "services/tracker/hooks.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "services/tracker/peer_store_memory.h"
#include "tests/support/support.h"
#include "tests/unit/tracker/jwt_test_util.h"

namespace sc::test {
namespace {

struct Ex final : TrackerExchange {
  void done() override {}
};

struct HooksTest : ::testing::Test {
  ManualClock clock{1'700'000'000'000};
  MetricsRegistry registry;
  HookEnv env{nullptr, nullptr, &registry, &clock};
  MemoryPeerStore store{clock, {}};
  std::unique_ptr<TrackerLogic> logic;
  std::vector<std::shared_ptr<PreHook>> hooks;

  Status build(const std::string& yaml) {
    std::vector<HookConfig> cfgs;
    for (const auto& item : YAML::Load(yaml)) cfgs.push_back({item["name"].Scalar(), item["options"]});
    auto h = make_prehooks(cfgs, env);
    if (!h) return std::unexpected(h.error());
    hooks = *h;
    logic = std::make_unique<TrackerLogic>(LogicOptions{}, store);
    for (auto& x : hooks) logic->add_prehook(x);
    return {};
  }
  // The failure reason, or "" when the announce succeeded.
  std::string announce(char torrent, const std::string& peer_id, const std::string& extra = "") {
    Ex ex;
    std::string q = "info_hash=" + percent_encode(std::string(20, torrent)) + "&peer_id=" + percent_encode(peer_id) +
                    "&port=1&left=0" + extra;
    ex.query = q;
    ex.conn = *parse_ip("10.0.0.1");
    logic->announce(ex);
    last_body = ex.body;
    return ex.failure;
  }
  std::string last_body;
};

TEST_F(HooksTest, ClientApproval) {
  ASSERT_TRUE(build(R"([{name: client approval, options: {whitelist: ["AR1360"]}}])"));
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl"), "");
  EXPECT_EQ(announce('a', "-qB4250-abcdefghijkl"), "unapproved client");
  ASSERT_TRUE(build(R"([{name: client approval, options: {blacklist: ["M7-2-0"]}}])"));
  EXPECT_EQ(announce('a', "M7-2-0--abcdefghijkl"), "unapproved client");
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl"), "");
  EXPECT_FALSE(build(R"([{name: client approval, options: {whitelist: [A], blacklist: [B]}}])"));
  EXPECT_FALSE(build(R"([{name: client approval, options: {whitelist: ["TOOLONGID"]}}])"));
}

TEST_F(HooksTest, TorrentApprovalInlineFileAndReload) {
  std::string a = to_hex(std::string(20, 'a')), b = to_hex(std::string(20, 'b'));
  ASSERT_TRUE(build("[{name: torrent approval, options: {whitelist: [" + a + "]}}]"));
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl"), "");
  EXPECT_EQ(announce('b', "-AR1360-abcdefghijkl"), "unapproved torrent");

  TempDir dir;
  std::string file = dir.file("blocked.txt");
  std::ofstream(file) << "# blocked torrents\n" << b << "\n";
  ASSERT_TRUE(build("[{name: torrent approval, options: {blacklist_file: " + file + "}}]"));
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl"), "");
  EXPECT_EQ(announce('b', "-AR1360-abcdefghijkl"), "unapproved torrent");
  std::ofstream(file) << a << "\n";
  reload_prehooks(hooks);  // what SIGHUP does
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl"), "unapproved torrent");
  EXPECT_EQ(announce('b', "-AR1360-abcdefghijkl"), "");
  EXPECT_EQ(store.stats().seeders, 2u) << "a reload drops no peers";
  std::ofstream(file) << "not-a-hash\n";
  reload_prehooks(hooks);  // a broken file keeps the old list
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl"), "unapproved torrent");
  EXPECT_FALSE(build("[{name: torrent approval, options: {whitelist: [zz]}}]"));
}

TEST_F(HooksTest, IntervalVariation) {
  ASSERT_TRUE(build(R"([{name: interval variation, options: {modify_response_probability: 1, max_increase_delta: 60, modify_min_interval: true}}])"));
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(announce('a', "-AR1360-abcdefghijkl"), "");
    auto v = bdecode(last_body);
    ASSERT_TRUE(v);
    int64_t interval = v->find("interval")->as_int(), min = v->find("min interval")->as_int();
    EXPECT_GT(interval, 1800);
    EXPECT_LE(interval, 1860);
    EXPECT_EQ(interval - 1800, min - 900);
  }
  EXPECT_FALSE(build(R"([{name: interval variation, options: {modify_response_probability: 2, max_increase_delta: 60}}])"));
}

TEST_F(HooksTest, ChainIsDataAndUnknownHooksAreErrors) {
  auto st = build(R"([{name: frobnicator}])");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("unknown prehook 'frobnicator'"), std::string::npos);
  std::string a = to_hex(std::string(20, 'a'));
  ASSERT_TRUE(build("[{name: client approval, options: {whitelist: [AR1360]}}, {name: torrent approval, options: {whitelist: [" + a + "]}}]"));
  EXPECT_EQ(hooks[0]->name(), "client approval");
  EXPECT_EQ(hooks[1]->name(), "torrent approval");
  EXPECT_EQ(announce('b', "-qB4250-abcdefghijkl"), "unapproved client");  // first in the chain answers
}

TEST_F(HooksTest, JwtFromJwksFile) {
  TestKey key(TestKey::Type::ec, "k1");
  TempDir dir;
  std::string jwks = dir.file("jwks.json");
  std::ofstream(jwks) << jwks_of({&key});
  ASSERT_TRUE(build("[{name: jwt, options: {issuer: iss, audience: aud, jwk_set_file: " + jwks + "}}]"));
  const int64_t now = clock.now_s();
  auto token = [&](char torrent, int64_t exp) {
    return key.sign(R"({"iss":"iss","aud":"aud","exp":)" + std::to_string(exp) + R"(,"infohash":")" +
                    to_hex(std::string(20, torrent)) + R"("})");
  };
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl", "&jwt=" + token('a', now + 60)), "");
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl"), "missing jwt parameter");
  EXPECT_EQ(announce('b', "-AR1360-abcdefghijkl", "&jwt=" + token('a', now + 60)),
            "jwt: infohash claim does not match the announce");
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl", "&jwt=" + token('a', now - 120)), "jwt: token expired");
  EXPECT_EQ(announce('a', "-AR1360-abcdefghijkl", "&jwt=" + token('a', now + 60).substr(3)),
            "jwt: token header is not a JSON object");
  auto m = registry.render();
  EXPECT_NE(m.find(R"(swarmcache_tracker_jwt_rejections_total{reason="expired"} 1)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(swarmcache_tracker_jwt_rejections_total{reason="wrong_claim"} 1)"), std::string::npos);
  EXPECT_NE(m.find(R"(swarmcache_tracker_jwt_rejections_total{reason="missing"} 1)"), std::string::npos);
  // Scrapes are not checked (as Chihaya).
  Ex ex;
  std::string q = "info_hash=" + percent_encode(std::string(20, 'a'));
  ex.query = q;
  ex.conn = *parse_ip("10.0.0.1");
  logic->scrape(ex);
  EXPECT_EQ(ex.outcome, Outcome::ok);
  EXPECT_FALSE(build("[{name: jwt, options: {issuer: iss}}]")) << "no key source";
}

}  // namespace
}  // namespace sc::test
