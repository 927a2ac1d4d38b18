// TrackerLogic over the real memory store and a manual clock: numwant caps, peer selection,
// stopped/expiry, address families, completed counting, trusted proxies and ip spoofing,
// prehook order and refusals, and the bencoded bodies the frontends send.
#include "services/tracker/logic.h"

#include <gtest/gtest.h>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "services/tracker/peer_store_memory.h"

namespace sc {
namespace {

struct TestExchange final : TrackerExchange {
  int done_calls = 0;
  void done() override { ++done_calls; }
};

struct Fixture : ::testing::Test {
  ManualClock clock;
  MemoryPeerStore store{clock, {.shards = 4, .peer_lifetime_ms = 60'000}};
  LogicOptions opts;
  std::unique_ptr<TrackerLogic> logic;

  void make() { logic = std::make_unique<TrackerLogic>(opts, store); }
  void SetUp() override {
    opts.default_numwant = 5;
    opts.max_numwant = 10;
    make();
  }

  static PeerAddr addr(std::string_view ip) { return *parse_ip(ip); }

  static std::string query(char torrent, int peer, int port, int left, std::string extra = "") {
    std::string ih(20, torrent);
    std::string pid = "-XX0001-" + std::string(12 - std::to_string(peer).size(), '0') + std::to_string(peer);
    return "info_hash=" + percent_encode(ih) + "&peer_id=" + percent_encode(pid) + "&port=" + std::to_string(port) +
           "&left=" + std::to_string(left) + extra;
  }

  BValue announce(const std::string& q, std::string_view conn_ip = "10.0.0.1", std::string_view real_ip = "",
                  Outcome want = Outcome::ok) {
    TestExchange ex;
    ex.query = q;
    ex.conn = addr(conn_ip);
    ex.real_ip_value = real_ip;
    logic->announce(ex);
    EXPECT_EQ(ex.done_calls, 1);
    EXPECT_EQ(ex.outcome, want) << ex.body;
    auto v = bdecode(ex.body);
    EXPECT_TRUE(v) << ex.body;
    last_ipv6 = ex.ipv6;
    return v ? *v : BValue{};
  }

  static std::string failure(const BValue& v) {
    const BValue* f = v.find("failure reason");
    return f ? f->as_str() : "";
  }
  static size_t peer_count(const BValue& v) {
    const BValue* p = v.find("peers6");
    if (p && !p->as_str().empty()) return p->as_str().size() / 18;
    p = v.find("peers");
    if (!p) return 0;
    return p->is_str() ? p->as_str().size() / 6 : p->as_list().size();
  }
  static std::string external_ip(const BValue& v) {
    const BValue* e = v.find("external ip");
    return e ? e->as_str() : "";
  }

  bool last_ipv6 = false;
};

TEST_F(Fixture, NumwantDefaultAndCap) {
  for (int i = 0; i < 30; ++i) announce(query('a', i, 1000 + i, 0));
  EXPECT_EQ(peer_count(announce(query('a', 99, 99, 5))), 5u);                   // default
  EXPECT_EQ(peer_count(announce(query('a', 99, 99, 5, "&numwant=3"))), 3u);     // asked
  EXPECT_EQ(peer_count(announce(query('a', 99, 99, 5, "&numwant=500"))), 10u);  // capped by max
  EXPECT_EQ(logic->effective_numwant(AnnounceRequest{.event = AnnounceEvent::stopped}), 0u);
}

TEST_F(Fixture, SeedersGetLeechersOnly) {
  announce(query('a', 1, 1001, 0));
  announce(query('a', 2, 1002, 0));
  auto v = announce(query('a', 3, 1003, 0));
  EXPECT_EQ(peer_count(v), 0u);
  EXPECT_EQ(v.find("complete")->as_int(), 3);
  announce(query('a', 4, 1004, 7));
  v = announce(query('a', 5, 1005, 0));
  EXPECT_EQ(peer_count(v), 1u);
  EXPECT_EQ(v.find("incomplete")->as_int(), 1);
}

TEST_F(Fixture, StoppedRemovesAndReturnsNoPeers) {
  announce(query('a', 1, 1001, 0));
  auto v = announce(query('a', 2, 1002, 10));
  EXPECT_EQ(peer_count(v), 1u);
  v = announce(query('a', 1, 1001, 0, "&event=stopped"));
  EXPECT_EQ(peer_count(v), 0u);
  EXPECT_EQ(v.find("complete")->as_int(), 0);
  v = announce(query('a', 3, 1003, 10));
  EXPECT_EQ(peer_count(v), 1u);  // only the other leecher remains
  EXPECT_EQ(v.find("complete")->as_int(), 0);
}

TEST_F(Fixture, ExpiryThroughGc) {
  announce(query('a', 1, 1001, 0));
  clock.advance(61'000);
  store.collect_garbage([](uint64_t) {});
  auto v = announce(query('a', 2, 1002, 10));
  EXPECT_EQ(peer_count(v), 0u);
  EXPECT_EQ(v.find("complete")->as_int(), 0);
}

TEST_F(Fixture, CompletedIsCountedAndScraped) {
  announce(query('a', 1, 1001, 10, "&event=started"));
  announce(query('a', 1, 1001, 0, "&event=completed"));
  announce(query('a', 2, 1002, 0, "&event=completed"));
  TestExchange ex;
  std::string q = "info_hash=" + percent_encode(std::string(20, 'a')) + "&info_hash=" + percent_encode(std::string(20, 'b'));
  ex.query = q;
  ex.conn = addr("10.0.0.1");
  logic->scrape(ex);
  ASSERT_EQ(ex.outcome, Outcome::ok) << ex.body;
  auto v = bdecode(ex.body);
  ASSERT_TRUE(v);
  const BValue* a = v->find("files")->find(std::string(20, 'a'));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->find("downloaded")->as_int(), 2);
  EXPECT_EQ(a->find("complete")->as_int(), 2);
  EXPECT_EQ(a->find("incomplete")->as_int(), 0);
  EXPECT_EQ(v->find("files")->find(std::string(20, 'b'))->find("complete")->as_int(), 0);
}

TEST_F(Fixture, IPv4AndIPv6AreSeparate) {
  announce(query('a', 1, 1001, 0), "10.0.0.1");
  announce(query('a', 2, 1002, 0), "2001:db8::1");
  auto v = announce(query('a', 3, 1003, 10), "2001:db8::2");
  EXPECT_TRUE(last_ipv6);
  EXPECT_EQ(v.find("peers")->as_str(), "");
  ASSERT_NE(v.find("peers6"), nullptr);
  EXPECT_EQ(v.find("peers6")->as_str().size(), 18u);
  EXPECT_EQ(external_ip(v).size(), 16u);
  v = announce(query('a', 4, 1004, 10), "::ffff:10.0.0.9");  // mapped: an IPv4 peer
  EXPECT_FALSE(last_ipv6);
  EXPECT_EQ(v.find("peers")->as_str().size(), 6u);
  EXPECT_EQ(v.find("peers")->as_str().substr(0, 4), std::string("\x0a\x00\x00\x01", 4));
  EXPECT_EQ(external_ip(v), std::string("\x0a\x00\x00\x09", 4));
}

TEST_F(Fixture, RealIpHeaderOnlyFromTrustedProxies) {
  opts.real_ip_header = "X-Forwarded-For";
  opts.trusted_proxies = {*parse_cidr("127.0.0.0/8")};
  make();
  auto v = announce(query('a', 1, 1001, 0), "127.0.0.1", "192.0.2.7");
  EXPECT_EQ(external_ip(v), std::string("\xc0\x00\x02\x07", 4));
  // From an untrusted address the header is ignored.
  v = announce(query('a', 2, 1002, 0), "198.51.100.1", "192.0.2.8");
  EXPECT_EQ(external_ip(v), std::string("\xc6\x33\x64\x01", 4));
  // A chain: the rightmost address that is not a trusted proxy wins; forged left parts lose.
  v = announce(query('a', 3, 1003, 0), "127.0.0.1", "6.6.6.6, 192.0.2.9, 127.0.0.5");
  EXPECT_EQ(external_ip(v), std::string("\xc0\x00\x02\x09", 4));
  v = announce(query('a', 4, 1004, 0), "127.0.0.1", "not-an-ip", Outcome::client_error);
  EXPECT_EQ(failure(v), "invalid address in X-Forwarded-For");
}

TEST_F(Fixture, RealIpHeaderIgnoredWithoutTrustedProxies) {
  opts.real_ip_header = "X-Real-IP";
  make();
  auto v = announce(query('a', 1, 1001, 0), "127.0.0.1", "192.0.2.7");
  EXPECT_EQ(external_ip(v), std::string("\x7f\x00\x00\x01", 4));
}

TEST_F(Fixture, IpParamOnlyWithSpoofing) {
  auto v = announce(query('a', 1, 1001, 0, "&ip=192.0.2.1"), "10.0.0.1");
  EXPECT_EQ(external_ip(v), std::string("\x0a\x00\x00\x01", 4));
  opts.allow_ip_spoofing = true;
  make();
  v = announce(query('a', 2, 1002, 0, "&ip=192.0.2.1"), "10.0.0.1");
  EXPECT_EQ(external_ip(v), std::string("\xc0\x00\x02\x01", 4));
  v = announce(query('a', 3, 1003, 0, "&ip=2001:db8::5"), "10.0.0.1");
  EXPECT_TRUE(last_ipv6);
  v = announce(query('a', 4, 1004, 0, "&ip=bogus"), "10.0.0.1", "", Outcome::client_error);
  EXPECT_EQ(failure(v), "invalid ip parameter");
}

TEST_F(Fixture, BadInputGetsFailureReason) {
  auto v = announce("info_hash=abc&peer_id=x&port=1&left=0", "10.0.0.1", "", Outcome::client_error);
  EXPECT_EQ(failure(v), "invalid info_hash: 3 bytes, want 20");
  v = announce(query('a', 1, 0, 0), "10.0.0.1", "", Outcome::client_error);
  EXPECT_EQ(failure(v), "invalid port: 0");
}

TEST_F(Fixture, IntervalsAndNonCompact) {
  opts.announce_interval_s = 120;
  opts.min_announce_interval_s = 60;
  make();
  announce(query('a', 1, 1001, 0));
  auto v = announce(query('a', 2, 1002, 5, "&compact=0&no_peer_id=1"));
  EXPECT_EQ(v.find("interval")->as_int(), 120);
  EXPECT_EQ(v.find("min interval")->as_int(), 60);
  ASSERT_TRUE(v.find("peers")->is_list());
  const auto& p = v.find("peers")->as_list()[0];
  EXPECT_EQ(p.find("ip")->as_str(), "10.0.0.1");
  EXPECT_EQ(p.find("port")->as_int(), 1001);
}

// BEP 3 dicts must carry `peer id`, which the stores do not keep: unless the client waives it
// with no_peer_id, compact=0 (advisory under BEP 23) is answered with compact peers, never with
// dicts lacking the key.
TEST_F(Fixture, NonCompactWithoutNoPeerIdNeverLacksPeerIds) {
  announce(query('a', 1, 1001, 0));
  for (const char* extra : {"&compact=0", "&compact=0&no_peer_id=0"}) {
    auto v = announce(query('a', 2, 1002, 5, extra));
    const BValue* peers = v.find("peers");
    ASSERT_NE(peers, nullptr) << extra;
    if (peers->is_list()) {
      for (const auto& p : peers->as_list()) EXPECT_NE(p.find("peer id"), nullptr) << extra << ": a dict without peer id";
    } else {
      EXPECT_EQ(peers->as_str(), std::string("\x0a\x00\x00\x01\x03\xe9", 6)) << extra;
    }
  }
}

class RecordingHook final : public PreHook {
 public:
  RecordingHook(std::string name, std::vector<std::string>* log, bool refuse, Errc code = Errc::forbidden)
      : name_(std::move(name)), log_(log), refuse_(refuse), code_(code) {}
  std::string_view name() const override { return name_; }
  Status on_announce(const AnnounceRequest&, const PeerAddr&, AnnounceReply& reply) override {
    log_->push_back(name_);
    reply.interval_s += 1;
    if (refuse_) return fail(code_, name_ + " says no");
    return {};
  }
  Status on_scrape(const ScrapeRequest&, const PeerAddr&) override {
    log_->push_back("scrape:" + name_);
    return {};
  }

 private:
  std::string name_;
  std::vector<std::string>* log_;
  bool refuse_;
  Errc code_;
};

TEST_F(Fixture, PrehooksRunInOrderAndCanRefuse) {
  std::vector<std::string> log;
  logic->add_prehook(std::make_unique<RecordingHook>("first", &log, false));
  logic->add_prehook(std::make_unique<RecordingHook>("second", &log, false));
  auto v = announce(query('a', 1, 1001, 0));
  EXPECT_EQ(log, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(v.find("interval")->as_int(), opts.announce_interval_s + 2);

  log.clear();
  logic->add_prehook(std::make_unique<RecordingHook>("third", &log, true));
  logic->add_prehook(std::make_unique<RecordingHook>("never", &log, false));
  v = announce(query('a', 2, 1002, 0), "10.0.0.1", "", Outcome::client_error);
  EXPECT_EQ(failure(v), "third says no");
  EXPECT_EQ(log, (std::vector<std::string>{"first", "second", "third"}));
  EXPECT_EQ(store.stats().seeders, 1u) << "a refused announce must not reach the store";
}

TEST_F(Fixture, InternalHookErrorsAreGeneric) {
  std::vector<std::string> log;
  logic->add_prehook(std::make_unique<RecordingHook>("broken", &log, true, Errc::internal));
  auto v = announce(query('a', 1, 1001, 0), "10.0.0.1", "", Outcome::server_error);
  EXPECT_EQ(failure(v), "internal server error");
}

TEST(Cidr, Parse) {
  auto c = parse_cidr("10.1.0.0/16");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(*parse_ip("10.1.200.3")));
  EXPECT_FALSE(c->contains(*parse_ip("10.2.0.1")));
  EXPECT_FALSE(c->contains(*parse_ip("::1")));
  c = parse_cidr("fd00::/8");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(*parse_ip("fd12::1")));
  c = parse_cidr("192.168.1.7");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(*parse_ip("192.168.1.7")));
  EXPECT_FALSE(c->contains(*parse_ip("192.168.1.8")));
  c = parse_cidr("10.0.0.0/12");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(*parse_ip("10.15.255.255")));
  EXPECT_FALSE(c->contains(*parse_ip("10.16.0.0")));
  EXPECT_FALSE(parse_cidr("10.0.0.0/33"));
  EXPECT_FALSE(parse_cidr("nope/8"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/x"));
}

}  // namespace
}  // namespace sc
