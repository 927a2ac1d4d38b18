// The tracker's prehooks as configured (YAML in either Chihaya dialect → make_prehooks →
// TrackerLogic over the memory store and a manual clock): each hook's refusals and their
// failure reasons, reloads that never drop peers, interval jitter, config order as run order,
// and the jwt hook's key refresh from a real HTTP server (failures keep the old keys).
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <set>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "common/core/config.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "services/tracker/config.h"
#include "services/tracker/logic.h"
#include "services/tracker/peer_store_memory.h"
#include "services/tracker/prehook_jwt.h"
#include "services/tracker/prehooks.h"
#include "tests/support/loop_thread.h"
#include "tests/support/support.h"
#include "tests/support/jwt_test_keys.h"

namespace sc {
namespace {

using namespace std::chrono_literals;
using jwt_test::Key;
using test::metric;
using test::write_file;

struct TestExchange final : TrackerExchange {
  void done() override {}
};

std::string hex_ih(char c) { return to_hex(std::string(20, c)); }

struct Reply {
  std::string failure;
  Outcome outcome = Outcome::ok;
  int64_t interval = -1, min_interval = -1;
  std::string peers;
};

class HooksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new Key(Key::Type::rsa, "rsa-1");
    ec_ = new Key(Key::Type::ec, "ec-1");
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
  }

  // Parses a whole tracker config and builds its prehook chain into a fresh logic.
  Status build(const std::string& yaml) {
    Options o("t", "t");
    TrackerConfig cfg;
    declare_tracker_options(o, cfg);
    if (auto st = o.load_yaml(yaml); !st) return st;
    auto hooks = make_prehooks(cfg.prehooks, loop, metrics, clock, {.interval_variation_seed = seed});
    if (!hooks) return std::unexpected(hooks.error());
    logic = std::make_unique<TrackerLogic>(LogicOptions{}, store);
    for (auto& h : *hooks) logic->add_prehook(std::move(h));
    return {};
  }
  void build_ok(const std::string& yaml) {
    auto st = build(yaml);
    ASSERT_TRUE(st) << st.error().message;
  }
  std::string build_error(const std::string& yaml) {
    auto st = build(yaml);
    return st ? "<built>" : st.error().message;
  }

  static std::string peer_id(const std::string& prefix, int n) {
    std::string num = std::to_string(n);
    return prefix + std::string(20 - prefix.size() - num.size(), '0') + num;
  }
  Reply announce(char torrent, const std::string& pid, int port, int left, const std::string& extra = "") {
    std::string q = "info_hash=" + percent_encode(std::string(20, torrent)) + "&peer_id=" + percent_encode(pid) +
                    "&port=" + std::to_string(port) + "&left=" + std::to_string(left) + extra;
    TestExchange ex;
    ex.query = q;
    ex.conn = *parse_ip("10.0.0.1");
    logic->announce(ex);
    Reply r;
    r.outcome = ex.outcome;
    auto v = bdecode(ex.body);
    EXPECT_TRUE(v) << ex.body;
    if (!v) return r;
    if (const BValue* f = v->find("failure reason")) r.failure = f->as_str();
    if (const BValue* i = v->find("interval")) r.interval = i->as_int();
    if (const BValue* i = v->find("min interval")) r.min_interval = i->as_int();
    if (const BValue* p = v->find("peers"); p && p->is_str()) r.peers = p->as_str();
    return r;
  }
  std::string fail_of(char torrent, const std::string& pid, const std::string& extra = "") {
    return announce(torrent, pid, next_port++, 10, extra).failure;  // ip:port is the peer's identity
  }
  SwarmCounts scrape(char torrent) {
    TestExchange ex;
    std::string q = "info_hash=" + percent_encode(std::string(20, torrent));
    ex.query = q;
    ex.conn = *parse_ip("10.0.0.1");
    logic->scrape(ex);
    EXPECT_EQ(ex.outcome, Outcome::ok) << ex.body;
    return ex.counts.empty() ? SwarmCounts{} : ex.counts[0];
  }
  void reload_all() {
    for (const auto& h : logic->prehooks()) reload_prehook(*h);
  }
  std::string token(const Key& k, char torrent, int64_t exp_in = 600, const std::string& aud = "tracker") {
    int64_t now = clock.now_s();
    return k.sign(R"({"iss":"https://quay.example","aud":")" + aud + R"(","exp":)" + std::to_string(now + exp_in) +
                  R"(,"nbf":)" + std::to_string(now - 5) + R"(,"infohash":")" + hex_ih(torrent) + R"("})");
  }

  ManualClock clock{1'700'000'000'000};
  MemoryPeerStore store{clock, {.shards = 4, .peer_lifetime_ms = 600'000}};
  MetricsRegistry metrics;
  EventLoop loop;
  uint64_t seed = 42;
  int next_port = 6881;
  std::unique_ptr<TrackerLogic> logic;
  test::TempDir dir;

  static Key* rsa_;
  static Key* ec_;
};
Key* HooksTest::rsa_ = nullptr;
Key* HooksTest::ec_ = nullptr;

TEST_F(HooksTest, ClientApprovalWhitelistByPrefixOrChihayaId) {
  build_ok(R"(
prehooks:
  - name: client approval
    options:
      whitelist: ["-qB4", "TR3000"]
)");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 1)), "");
  EXPECT_EQ(fail_of('a', peer_id("-TR3000-", 2)), "") << "Chihaya's 6-byte client id";
  EXPECT_EQ(fail_of('a', peer_id("-TR3001-", 3)), "unapproved client");
  EXPECT_EQ(fail_of('a', peer_id("-qB3450-", 4)), "unapproved client");
  EXPECT_EQ(fail_of('a', peer_id("M7-2-2--", 5)), "unapproved client");
  EXPECT_EQ(scrape('a').leechers, 2u) << "refused announces never reach the store";
}

TEST_F(HooksTest, ClientApprovalBlacklist) {
  build_ok(R"(
prehooks:
  - name: client approval
    options: {blacklist: ["-UT"]}
)");
  EXPECT_EQ(fail_of('a', peer_id("-UT3550-", 1)), "unapproved client");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 2)), "");
  EXPECT_NE(build_error("prehooks: [{name: client approval, options: {whitelist: [a], blacklist: [b]}}]")
                .find("using both whitelist and blacklist is invalid"),
            std::string::npos);
  EXPECT_NE(build_error("prehooks: [{name: client approval, options: {}}]").find("needs a whitelist or a blacklist"),
            std::string::npos);
  EXPECT_NE(build_error("prehooks: [{name: client approval, options: {whitelist: \"-qB4\"}}]")
                .find("option whitelist must be a list"),
            std::string::npos);
}

TEST_F(HooksTest, TorrentApprovalInlineLists) {
  build_ok("prehooks: [{name: torrent approval, options: {whitelist: [\"" + hex_ih('a') + "\"]}}]");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 1)), "");
  EXPECT_EQ(fail_of('b', peer_id("-qB4450-", 1)), "unapproved torrent");
  build_ok("prehooks: [{name: torrent approval, options: {blacklist: [\"" + hex_ih('a') + "\"]}}]");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 1)), "unapproved torrent");
  EXPECT_EQ(fail_of('b', peer_id("-qB4450-", 1)), "");
  std::string err = build_error("prehooks: [{name: torrent approval, options: {whitelist: [\"abcd\"]}}]");
  EXPECT_NE(err.find("'abcd' is not a 40-hex info hash"), std::string::npos) << err;
}

TEST_F(HooksTest, TorrentApprovalFileReloadKeepsPeers) {
  std::string list = dir.file("approved.txt");
  write_file(list, "# approved torrents\n" + hex_ih('a') + "\n");
  build_ok("prehooks: [{name: torrent approval, options: {whitelist_file: \"" + list + "\"}}]");
  EXPECT_EQ(announce('a', peer_id("-qB4450-", 1), 7001, 0).failure, "");
  EXPECT_EQ(fail_of('b', peer_id("-qB4450-", 2)), "unapproved torrent");

  write_file(list, hex_ih('a') + "\n" + hex_ih('b') + "\n");
  EXPECT_EQ(fail_of('b', peer_id("-qB4450-", 2)), "unapproved torrent") << "nothing changes before the reload";
  reload_all();
  EXPECT_EQ(fail_of('b', peer_id("-qB4450-", 2)), "");
  Reply r = announce('a', peer_id("-qB4450-", 3), 7003, 100);
  EXPECT_EQ(r.failure, "");
  EXPECT_EQ(r.peers.size(), 6u) << "the seeder announced before the reload is still there";

  // A broken file keeps the previous list in force and is counted.
  write_file(list, hex_ih('c') + "\nnot-a-hash\n");
  reload_all();
  EXPECT_EQ(fail_of('c', peer_id("-qB4450-", 4)), "unapproved torrent");
  EXPECT_EQ(fail_of('b', peer_id("-qB4450-", 4)), "");
  EXPECT_EQ(metric(metrics.render(), "swarmcache_tracker_torrent_approval_reload_failures_total"), 1);
  EXPECT_EQ(metric(metrics.render(), "swarmcache_tracker_torrent_approval_reloads_total"), 2);

  // Unlisting a torrent refuses new announces but drops nobody.
  write_file(list, hex_ih('b') + "\n");
  reload_all();
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 5)), "unapproved torrent");
  EXPECT_EQ(scrape('a').seeders, 1u);
  EXPECT_EQ(scrape('a').leechers, 1u);

  std::string err = build_error("prehooks: [{name: torrent approval, options: {whitelist_file: /nonexistent/x}}]");
  EXPECT_NE(err.find("cannot read /nonexistent/x"), std::string::npos) << err;
}

TEST_F(HooksTest, IntervalVariationIsBoundedAndDeterministic) {
  const std::string cfg = R"(
prehooks:
  - name: interval variation
    options: {modify_response_probability: 1, max_increase_delta: 10, modify_min_interval: true}
)";
  build_ok(cfg);
  std::set<int64_t> deltas;
  std::vector<int64_t> first_run;
  for (int i = 0; i < 100; ++i) {
    Reply r = announce('a', peer_id("-qB4450-", i), 7000 + i, 10);
    ASSERT_EQ(r.failure, "");
    int64_t d = r.interval - 1800;
    EXPECT_GE(d, 1);
    EXPECT_LE(d, 10);
    EXPECT_EQ(r.min_interval - 900, d) << "min interval moves by the same amount";
    deltas.insert(d);
    first_run.push_back(d);
  }
  EXPECT_GE(deltas.size(), 5u) << "peers drift apart";
  build_ok(cfg);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(announce('a', peer_id("-qB4450-", i), 7000 + i, 10).interval - 1800, first_run[i]) << "same seed";
  }

  build_ok(R"(
prehooks:
  - name: interval variation
    options: {modify_response_probability: 0.5, max_increase_delta: 60}
)");
  int modified = 0;
  for (int i = 0; i < 400; ++i) {
    Reply r = announce('b', peer_id("-qB4450-", i), 7000 + i, 10);
    EXPECT_EQ(r.min_interval, 900) << "modify_min_interval defaults to false";
    if (r.interval != 1800) ++modified;
  }
  EXPECT_GT(modified, 120);
  EXPECT_LT(modified, 280);

  EXPECT_NE(build_error("prehooks: [{name: interval variation, options: {modify_response_probability: 2, "
                        "max_increase_delta: 5}}]")
                .find("modify_response_probability must be in (0, 1]"),
            std::string::npos);
  EXPECT_NE(build_error("prehooks: [{name: interval variation, options: {modify_response_probability: 0.5}}]")
                .find("max_increase_delta must be 1..86400 seconds"),
            std::string::npos);
}

TEST_F(HooksTest, ConfigOrderIsExecutionOrder) {
  const std::string client = "  - name: client approval\n    options: {whitelist: [\"-qB4\"]}\n";
  const std::string torrent = "  - name: torrent approval\n    options: {whitelist: [\"" + hex_ih('a') + "\"]}\n";
  build_ok("prehooks:\n" + client + torrent);
  EXPECT_EQ(fail_of('b', peer_id("-UT3550-", 1)), "unapproved client");
  ASSERT_EQ(logic->prehooks().size(), 2u);
  EXPECT_EQ(logic->prehooks()[0]->name(), "client approval");
  build_ok("prehooks:\n" + torrent + client);
  EXPECT_EQ(fail_of('b', peer_id("-UT3550-", 1)), "unapproved torrent");
  EXPECT_EQ(logic->prehooks()[0]->name(), "torrent approval");

  std::string err = build_error("prehooks:\n" + client + "  - name: frobnicate\n    options: {}\n");
  EXPECT_NE(err.find("unknown prehook 'frobnicate'"), std::string::npos) << err;
  build_ok("announce_interval: 30m\n");
  EXPECT_TRUE(logic->prehooks().empty());
}

TEST_F(HooksTest, JwtFromAJwksFileInBothChihayaDialects) {
  std::string jwks = dir.file("jwks.json");
  write_file(jwks, jwt_test::jwks_of({rsa_, ec_}));
  const std::string opts = "issuer: https://quay.example\n        audience: tracker\n        jwk_set_file: " + jwks +
                           "\n        leeway: 10s\n";
  const std::string current = "chihaya:\n  prehooks:\n    - name: jwt\n      options:\n        " + opts;
  const std::string v2 = "prehooks:\n  - name: jwt\n    config:\n        " + opts;
  for (const auto& cfg : {current, v2}) {
    build_ok(cfg);
    EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 1), "&jwt=" + token(*rsa_, 'a')), "");
    EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 2), "&jwt=" + token(*ec_, 'a')), "");
  }
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 3)), "missing jwt parameter");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 3), "&jwt=" + token(*rsa_, 'b')),
            "jwt: infohash claim does not match the announce");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 3), "&jwt=" + rsa_->sign(R"({"iss":"https://quay.example","aud":"tracker"})")),
            "jwt: token has no infohash claim");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 3), "&jwt=" + token(*rsa_, 'a', 600, "registry")),
            "jwt: token audience not accepted");
  std::string soon = token(*rsa_, 'a', 20);
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 3), "&jwt=" + soon), "");
  clock.advance(30'000);
  Reply r = announce('a', peer_id("-qB4450-", 3), 6881, 10, "&jwt=" + soon);
  EXPECT_EQ(r.failure, "jwt: token expired");
  EXPECT_EQ(r.outcome, Outcome::client_error);
  Key stranger(Key::Type::ec, "stranger");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 3), "&jwt=" + token(stranger, 'a')),
            "jwt: unknown key id 'stranger' for ES256");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 3), "&jwt=e30.e30."), "jwt: unsigned token (alg none) refused");
  // Scrapes are not checked, as in Chihaya; only accepted announces reached the store (two per
  // dialect and the short-lived token).
  EXPECT_EQ(scrape('a').leechers, 5u);

  std::string m = metrics.render();
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_jwt_refusals_total{reason="missing"})"), 1);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_jwt_refusals_total{reason="wrong_infohash"})"), 2);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_jwt_refusals_total{reason="wrong_audience"})"), 1);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_jwt_refusals_total{reason="expired"})"), 1);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_jwt_refusals_total{reason="unknown_kid"})"), 1);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_jwt_refusals_total{reason="alg_none"})"), 1);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_jwt_refusals_total{reason="bad_signature"})"), 0);
}

TEST_F(HooksTest, JwtFromAPemFileAndOptionErrors) {
  std::string pem = dir.file("key.pem");
  write_file(pem, ec_->pem());
  build_ok("prehooks: [{name: jwt, options: {issuer: https://quay.example, audience: tracker, public_key_file: " + pem +
           "}}]");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 1), "&jwt=" + token(*ec_, 'a')), "");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 1), "&jwt=" + token(*rsa_, 'a')), "jwt: unknown key id 'rsa-1' for RS256")
      << "a PEM EC key takes any kid, but never an RS256 token";
  // SIGHUP re-reads the key file; a broken one keeps the previous key.
  write_file(pem, "garbage");
  reload_all();
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 1), "&jwt=" + token(*ec_, 'a')), "");
  EXPECT_EQ(metric(metrics.render(), "swarmcache_tracker_jwks_refresh_failures_total"), 1);
  write_file(pem, rsa_->pem());
  reload_all();
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 1), "&jwt=" + token(*rsa_, 'a')), "");
  EXPECT_EQ(fail_of('a', peer_id("-qB4450-", 1), "&jwt=" + token(*ec_, 'a')), "jwt: unknown key id 'ec-1' for ES256");

  auto err = [&](const std::string& o) { return build_error("prehooks: [{name: jwt, options: {" + o + "}}]"); };
  EXPECT_NE(err("issuer: x").find("needs jwk_set_url, jwk_set_file or public_key_file"), std::string::npos);
  EXPECT_NE(err("jwk_set_file: a, public_key_file: b").find("are exclusive"), std::string::npos);
  EXPECT_NE(err("jwk_set_url: ftp://x/keys").find("jwk_set_url"), std::string::npos);
  EXPECT_NE(err("jwk_set_url: http://127.0.0.1:1/k, jwk_set_update_interval: 10ms").find("at least 1s"),
            std::string::npos);
  EXPECT_NE(err("public_key_file: " + dir.file("missing.pem")).find("cannot read"), std::string::npos);
  std::string notkey = dir.file("not.json");
  write_file(notkey, R"({"keys":[]})");
  EXPECT_NE(err("jwk_set_file: " + notkey).find("no RS256 or ES256 signing key"), std::string::npos)
      << err("jwk_set_file: " + notkey);
}

// A JWKS served over HTTP, refreshed every second; a bad refresh keeps the previous keys.
TEST_F(HooksTest, JwtKeysFromAUrlRefreshAndSurviveFailures) {
  test::LoopThread lt;
  std::mutex mu;
  int status = 200;
  std::string body = jwt_test::jwks_of({rsa_});
  std::unique_ptr<HttpServer> server;
  ASSERT_TRUE(lt.call([&]() -> Status {
    server = std::make_unique<HttpServer>(lt.loop(), HttpServerOptions{});
    server->route("/keys", [&](HttpRequest& req) {
      std::lock_guard lock(mu);
      req.reply(status, "application/json", body);
    });
    return server->start();
  }));
  std::string url = "http://127.0.0.1:" + std::to_string(lt.call([&] { return server->port(); })) + "/keys";
  std::vector<std::unique_ptr<PreHook>> hooks;
  auto built = lt.call([&]() -> Status {
    HookConfig c{"jwt", YAML::Load("{issuer: https://quay.example, audience: tracker, jwk_set_url: '" + url +
                                   "', jwk_set_update_interval: 1s}")};
    auto h = make_prehooks({c}, lt.loop(), metrics, clock);
    if (!h) return std::unexpected(h.error());
    hooks = std::move(*h);
    return {};
  });
  ASSERT_TRUE(built) << built.error().message;
  auto* jwt = dynamic_cast<JwtHook*>(hooks.at(0).get());
  ASSERT_NE(jwt, nullptr);
  auto check = [&](const std::string& tok) {
    AnnounceRequest req;
    req.info_hash.fill('a');
    req.jwt = tok;
    AnnounceReply reply;
    auto st = jwt->on_announce(req, PeerAddr{}, reply);
    return st ? std::string() : st.error().message;
  };
  auto counter = [&](const char* name) { return metric(metrics.render(), name); };

  ASSERT_TRUE(test::wait_until([&] { return jwt->verifier().has_keys(); }, 10s));
  EXPECT_EQ(check(token(*rsa_, 'a')), "");
  EXPECT_EQ(metric(metrics.render(), "swarmcache_tracker_jwks_keys"), 1);

  {
    std::lock_guard lock(mu);
    status = 500;
  }
  ASSERT_TRUE(test::wait_until([&] { return counter("swarmcache_tracker_jwks_refresh_failures_total") >= 1; }, 10s));
  EXPECT_EQ(check(token(*rsa_, 'a')), "") << "an HTTP error keeps the previous keys";
  {
    std::lock_guard lock(mu);
    status = 200;
    body = "{\"keys\": [";
  }
  ASSERT_TRUE(test::wait_until([&] { return counter("swarmcache_tracker_jwks_refresh_failures_total") >= 2; }, 10s));
  EXPECT_EQ(check(token(*rsa_, 'a')), "") << "an unparsable JWKS keeps the previous keys";

  // Rotation to a new key: the old one stops working once the refresh lands.
  double before = counter("swarmcache_tracker_jwks_refreshes_total");
  {
    std::lock_guard lock(mu);
    body = jwt_test::jwks_of({ec_});
  }
  ASSERT_TRUE(test::wait_until([&] { return counter("swarmcache_tracker_jwks_refreshes_total") > before; }, 10s));
  EXPECT_EQ(check(token(*ec_, 'a')), "");
  EXPECT_EQ(check(token(*rsa_, 'a')), "jwt: unknown key id 'rsa-1' for RS256");

  lt.call([&] {
    hooks.clear();
    server.reset();
  });
}

// SIGHUP (reload_prehook) re-fetches the key set at once, whatever the update interval.
TEST_F(HooksTest, JwtReloadFetchesKeysNow) {
  test::LoopThread lt;
  std::mutex mu;
  std::string body = jwt_test::jwks_of({rsa_});
  std::unique_ptr<HttpServer> server;
  ASSERT_TRUE(lt.call([&]() -> Status {
    server = std::make_unique<HttpServer>(lt.loop(), HttpServerOptions{});
    server->route("/keys", [&](HttpRequest& req) {
      std::lock_guard lock(mu);
      req.reply(200, "application/json", body);
    });
    return server->start();
  }));
  std::string url = "http://127.0.0.1:" + std::to_string(lt.call([&] { return server->port(); })) + "/keys";
  std::vector<std::unique_ptr<PreHook>> hooks;
  ASSERT_TRUE(lt.call([&]() -> Status {
    HookConfig c{"jwt", YAML::Load("{jwk_set_url: '" + url + "', jwk_set_update_interval: 1h}")};
    auto h = make_prehooks({c}, lt.loop(), metrics, clock);
    if (!h) return std::unexpected(h.error());
    hooks = std::move(*h);
    return {};
  }));
  auto* jwt = dynamic_cast<JwtHook*>(hooks.at(0).get());
  ASSERT_NE(jwt, nullptr);
  ASSERT_TRUE(test::wait_until([&] { return jwt->verifier().has_keys(); }, 10s));
  EXPECT_EQ(jwt->verifier().keys()->kids(), std::vector<std::string>{"rsa-1"});
  {
    std::lock_guard lock(mu);
    body = jwt_test::jwks_of({ec_});
  }
  lt.call([&] { reload_prehook(*hooks[0]); });
  ASSERT_TRUE(test::wait_until([&] { return jwt->verifier().keys()->kids() == std::vector<std::string>{"ec-1"}; }, 10s));
  lt.call([&] {
    hooks.clear();
    server.reset();
  });
}

TEST_F(HooksTest, JwtBeforeKeysArriveIsAServerError) {
  test::LoopThread lt;
  std::vector<std::unique_ptr<PreHook>> hooks;
  int port = test::free_port();  // nothing listens: the first fetch fails
  ASSERT_TRUE(lt.call([&]() -> Status {
    HookConfig c{"jwt", YAML::Load("{jwk_set_url: 'http://127.0.0.1:" + std::to_string(port) + "/k'}")};
    auto h = make_prehooks({c}, lt.loop(), metrics, clock);
    if (!h) return std::unexpected(h.error());
    hooks = std::move(*h);
    return {};
  }));
  ASSERT_TRUE(test::wait_until(
      [&] { return metric(metrics.render(), "swarmcache_tracker_jwks_refresh_failures_total") >= 1; }, 10s));
  logic = std::make_unique<TrackerLogic>(LogicOptions{}, store);
  logic->add_prehook(std::move(hooks[0]));
  Reply r = announce('a', peer_id("-qB4450-", 1), 6881, 10, "&jwt=" + token(*rsa_, 'a'));
  EXPECT_EQ(r.outcome, Outcome::server_error);
  EXPECT_EQ(metric(metrics.render(), R"(swarmcache_tracker_jwt_refusals_total{reason="no_keys"})"), 1);
  lt.call([&] { logic.reset(); });
}

}  // namespace
}  // namespace sc
