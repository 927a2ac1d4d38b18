#pragma once
// The PeerStore conformance suite. Every store implementation instantiates it with a harness
// factory (INSTANTIATE_TEST_SUITE_P(Name, PeerStoreConformance, Values(&make_harness))), so the
// memory and Redis stores are held to the same semantics (Chihaya's storage_tests.go idea).
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "common/core/clock.h"
#include "services/tracker/peer_store.h"

namespace sc::test {

class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual PeerStore& store() = 0;
  virtual ManualClock& clock() = 0;
  // Drives the backend's event loop until pred holds (async stores); false on timeout.
  virtual bool pump_until(const std::function<bool()>& pred) = 0;
};

// Builds a fresh, empty store whose peers expire after peer_lifetime_ms and that keeps at
// most max_swarms swarms.
using HarnessFactory = std::unique_ptr<StoreHarness> (*)(int64_t peer_lifetime_ms, uint64_t max_swarms);

class PeerStoreConformance : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  static constexpr int64_t kLifetimeMs = 60'000;
  static constexpr uint64_t kMaxSwarms = 1000;

  void SetUp() override { h_ = GetParam()(kLifetimeMs, kMaxSwarms); }

  static InfoHash ih(char c) {
    InfoHash h;
    h.fill(static_cast<uint8_t>(c));
    return h;
  }
  static PeerAddr v4(uint8_t last, uint16_t port) {
    PeerAddr a;
    a.ip = {10, 0, 0, last};
    a.port = port;
    return a;
  }
  static PeerAddr v6(uint8_t last, uint16_t port) {
    PeerAddr a;
    a.ipv6 = true;
    a.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
    a.port = port;
    return a;
  }
  static std::string compact(const PeerAddr& a) {
    std::string s;
    a.append_compact(s);
    return s;
  }
  static std::set<std::string> entries(const StoreAnnounceResult& r, bool ipv6 = false) {
    size_t n = ipv6 ? 18 : 6;
    std::set<std::string> out;
    EXPECT_EQ(r.peers.size() % n, 0u);
    for (size_t i = 0; i + n <= r.peers.size(); i += n) out.insert(r.peers.substr(i, n));
    return out;
  }

  // The announce's status, the result in `out`.
  static Status try_announce(StoreHarness& h, const InfoHash& ih, const PeerAddr& p, bool seeder,
                             AnnounceEvent ev, uint32_t numwant, StoreAnnounceResult& out) {
    StoreAnnounce req;
    req.info_hash = ih;
    req.peer = p;
    req.seeder = seeder;
    req.event = ev;
    req.numwant = numwant;
    bool fired = false;
    Status result = fail(Errc::timeout, "no answer from the store");
    h.store().announce(req, out, [&](Status st) {
      fired = true;
      result = st;
    });
    EXPECT_TRUE(h.pump_until([&] { return fired; }));
    return result;
  }

  StoreAnnounceResult announce(const InfoHash& h, const PeerAddr& p, bool seeder,
                               AnnounceEvent ev = AnnounceEvent::none, uint32_t numwant = 50) {
    StoreAnnounceResult out;
    Status result = try_announce(*h_, h, p, seeder, ev, numwant, out);
    EXPECT_TRUE(result) << (result ? "" : result.error().message);
    return out;
  }

  // Runs a sweep and waits for its count (Redis reports it later, from its own thread).
  static uint64_t gc(StoreHarness& h) {
    std::atomic<bool> fired{false};
    std::atomic<uint64_t> dropped{0};
    h.store().collect_garbage([&](uint64_t n) {
      dropped = n;
      fired = true;
    });
    EXPECT_TRUE(h.pump_until([&] { return fired.load(); }));
    return dropped;
  }

  std::vector<SwarmCounts> scrape(std::vector<InfoHash> hs) {
    std::vector<SwarmCounts> out;
    bool fired = false;
    h_->store().scrape(hs, out, [&](Status st) {
      fired = true;
      EXPECT_TRUE(st);
    });
    EXPECT_TRUE(h_->pump_until([&] { return fired; }));
    return out;
  }

  std::unique_ptr<StoreHarness> h_;
};

TEST_P(PeerStoreConformance, FirstPeerGetsNobody) {
  auto r = announce(ih('a'), v4(1, 1000), false, AnnounceEvent::started);
  EXPECT_TRUE(r.peers.empty());
  EXPECT_EQ(r.counts.seeders, 0u);
  EXPECT_EQ(r.counts.leechers, 1u);
}

TEST_P(PeerStoreConformance, LeecherGetsSeedersFirstThenLeechers) {
  announce(ih('a'), v4(1, 1000), true);
  announce(ih('a'), v4(2, 1000), false);
  announce(ih('a'), v4(3, 1000), false);
  auto r = announce(ih('a'), v4(4, 1000), false, AnnounceEvent::none, 1);
  EXPECT_EQ(r.peers, compact(v4(1, 1000)));  // the only seeder comes first
  r = announce(ih('a'), v4(4, 1000), false, AnnounceEvent::none, 10);
  EXPECT_EQ(entries(r), (std::set<std::string>{compact(v4(1, 1000)), compact(v4(2, 1000)), compact(v4(3, 1000))}));
  EXPECT_EQ(r.counts.seeders, 1u);
  EXPECT_EQ(r.counts.leechers, 3u);
}

TEST_P(PeerStoreConformance, SeederGetsLeechersOnly) {
  announce(ih('a'), v4(1, 1000), true);
  announce(ih('a'), v4(2, 1000), false);
  auto r = announce(ih('a'), v4(3, 1000), true);
  EXPECT_EQ(entries(r), (std::set<std::string>{compact(v4(2, 1000))}));
  EXPECT_EQ(r.counts.seeders, 2u);
  EXPECT_EQ(r.counts.leechers, 1u);
}

TEST_P(PeerStoreConformance, NeverReturnsTheAnnouncer) {
  announce(ih('a'), v4(1, 1000), false);
  auto r = announce(ih('a'), v4(1, 1000), false);
  EXPECT_TRUE(r.peers.empty());
  EXPECT_EQ(r.counts.leechers, 1u);  // a re-announce does not duplicate
  // Same address, other port: another peer.
  r = announce(ih('a'), v4(1, 1001), false);
  EXPECT_EQ(entries(r), (std::set<std::string>{compact(v4(1, 1000))}));
}

TEST_P(PeerStoreConformance, NumwantBoundsThePeerList) {
  for (uint8_t i = 1; i <= 40; ++i) announce(ih('a'), v4(i, 2000), i <= 10);
  auto r = announce(ih('a'), v4(99, 2000), false, AnnounceEvent::none, 25);
  EXPECT_EQ(entries(r).size(), 25u);
  EXPECT_EQ(r.peers.size(), 25u * 6);
  r = announce(ih('a'), v4(99, 2000), false, AnnounceEvent::none, 0);
  EXPECT_TRUE(r.peers.empty());
  r = announce(ih('a'), v4(99, 2000), false, AnnounceEvent::none, 1000);
  EXPECT_EQ(entries(r).size(), 40u);
  // All 10 seeders come before any leecher.
  r = announce(ih('a'), v4(99, 2000), false, AnnounceEvent::none, 10);
  for (const auto& e : entries(r)) EXPECT_LE(static_cast<uint8_t>(e[3]), 10) << "a leecher before all seeders";
}

TEST_P(PeerStoreConformance, LeecherBecomesSeeder) {
  announce(ih('a'), v4(1, 1000), false, AnnounceEvent::started);
  auto r = announce(ih('a'), v4(1, 1000), true, AnnounceEvent::completed);
  EXPECT_EQ(r.counts.seeders, 1u);
  EXPECT_EQ(r.counts.leechers, 0u);
  EXPECT_EQ(r.counts.downloaded, 1u);
  auto s = scrape({ih('a')});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].seeders, 1u);
  EXPECT_EQ(s[0].leechers, 0u);
  EXPECT_EQ(s[0].downloaded, 1u);
}

TEST_P(PeerStoreConformance, CompletedIsCounted) {
  announce(ih('a'), v4(1, 1000), true, AnnounceEvent::completed);
  announce(ih('a'), v4(2, 1000), true, AnnounceEvent::completed);
  announce(ih('a'), v4(3, 1000), true);
  auto s = scrape({ih('a')});
  EXPECT_EQ(s[0].downloaded, 2u);
  EXPECT_EQ(s[0].seeders, 3u);
}

TEST_P(PeerStoreConformance, StoppedRemovesAtOnce) {
  announce(ih('a'), v4(1, 1000), true);
  announce(ih('a'), v4(2, 1000), false);
  auto r = announce(ih('a'), v4(1, 1000), true, AnnounceEvent::stopped);
  EXPECT_TRUE(r.peers.empty());
  EXPECT_EQ(r.counts.seeders, 0u);
  EXPECT_EQ(r.counts.leechers, 1u);
  r = announce(ih('a'), v4(3, 1000), false);
  EXPECT_EQ(entries(r), (std::set<std::string>{compact(v4(2, 1000))}));
  // Stopping in an unknown swarm is harmless and creates nothing.
  r = announce(ih('z'), v4(1, 1000), false, AnnounceEvent::stopped);
  EXPECT_EQ(r.counts.leechers, 0u);
  EXPECT_EQ(scrape({ih('z')})[0].leechers, 0u);
}

TEST_P(PeerStoreConformance, AddressFamiliesAreKeptApart) {
  announce(ih('a'), v4(1, 1000), true);
  announce(ih('a'), v6(1, 1000), true);
  auto r4 = announce(ih('a'), v4(2, 1000), false);
  EXPECT_EQ(entries(r4), (std::set<std::string>{compact(v4(1, 1000))}));
  auto r6 = announce(ih('a'), v6(2, 1000), false);
  EXPECT_EQ(r6.peers.size(), 18u);
  EXPECT_EQ(entries(r6, true), (std::set<std::string>{compact(v6(1, 1000))}));
  EXPECT_EQ(r6.counts.seeders, 2u);  // counts cover both families
  EXPECT_EQ(r6.counts.leechers, 2u);
}

TEST_P(PeerStoreConformance, ScrapeSeveralAndUnknown) {
  announce(ih('a'), v4(1, 1000), true);
  announce(ih('b'), v4(1, 1000), false);
  announce(ih('b'), v4(2, 1000), false);
  auto s = scrape({ih('a'), ih('b'), ih('c')});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].seeders, 1u);
  EXPECT_EQ(s[1].leechers, 2u);
  EXPECT_EQ(s[2].seeders + s[2].leechers + s[2].downloaded, 0u);
}

TEST_P(PeerStoreConformance, PeersExpireAfterLifetime) {
  announce(ih('a'), v4(1, 1000), true);
  h_->clock().advance(kLifetimeMs / 2);
  announce(ih('a'), v4(2, 1000), false);
  h_->clock().advance(kLifetimeMs / 2 + 2000);
  gc(*h_);
  auto s = scrape({ih('a')});
  EXPECT_EQ(s[0].seeders, 0u) << "the seeder was last seen more than a lifetime ago";
  EXPECT_EQ(s[0].leechers, 1u);
  // A re-announce refreshes: the leecher survives another half lifetime.
  announce(ih('a'), v4(2, 1000), false);
  h_->clock().advance(kLifetimeMs / 2);
  gc(*h_);
  EXPECT_EQ(scrape({ih('a')})[0].leechers, 1u);
  h_->clock().advance(kLifetimeMs);
  gc(*h_);
  EXPECT_EQ(scrape({ih('a')})[0].leechers, 0u);
}

TEST_P(PeerStoreConformance, StatsTotals) {
  announce(ih('a'), v4(1, 1000), true);
  announce(ih('a'), v4(2, 1000), false);
  announce(ih('b'), v6(3, 1000), false);
  EXPECT_TRUE(h_->pump_until([&] {
    auto st = h_->store().stats();
    return st.torrents == 2 && st.seeders == 1 && st.leechers == 2;
  }));
  announce(ih('b'), v6(3, 1000), false, AnnounceEvent::stopped);
  EXPECT_TRUE(h_->pump_until([&] {
    auto st = h_->store().stats();
    return st.torrents == 1 && st.seeders == 1 && st.leechers == 1;
  }));
}

TEST_P(PeerStoreConformance, ManySwarmsStayIndependent) {
  for (int t = 0; t < 50; ++t) {
    InfoHash h{};
    h[0] = static_cast<uint8_t>(t);
    h[19] = 7;
    for (uint8_t p = 1; p <= 3; ++p) announce(h, v4(p, static_cast<uint16_t>(t + 1)), p == 1);
  }
  for (int t = 0; t < 50; ++t) {
    InfoHash h{};
    h[0] = static_cast<uint8_t>(t);
    h[19] = 7;
    auto s = scrape({h});
    EXPECT_EQ(s[0].seeders, 1u);
    EXPECT_EQ(s[0].leechers, 2u);
  }
}

TEST_P(PeerStoreConformance, SwarmLimitRefusesNewSwarmsOnly) {
  auto h = GetParam()(kLifetimeMs, 2);
  StoreAnnounceResult out;
  ASSERT_TRUE(try_announce(*h, ih('a'), v4(1, 1000), true, AnnounceEvent::started, 50, out));
  ASSERT_TRUE(try_announce(*h, ih('b'), v4(1, 1000), false, AnnounceEvent::started, 50, out));
  // A third info hash would be a third swarm: refused with a clear reason, counted.
  Status st = try_announce(*h, ih('c'), v4(1, 1000), false, AnnounceEvent::started, 50, out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::too_large);
  EXPECT_EQ(st.error().message, kSwarmLimitReason);
  EXPECT_TRUE(h->pump_until([&] { return h->store().stats().swarm_limit_refusals == 1; }));
  // Existing swarms keep working, and a stop in an unknown swarm is harmless.
  ASSERT_TRUE(try_announce(*h, ih('a'), v4(2, 1000), false, AnnounceEvent::started, 50, out));
  EXPECT_EQ(out.peers, compact(v4(1, 1000)));
  ASSERT_TRUE(try_announce(*h, ih('c'), v4(1, 1000), false, AnnounceEvent::stopped, 50, out));
  // Once a swarm empties, its place is free again.
  ASSERT_TRUE(try_announce(*h, ih('b'), v4(1, 1000), false, AnnounceEvent::stopped, 50, out));
  ASSERT_TRUE(try_announce(*h, ih('c'), v4(1, 1000), false, AnnounceEvent::started, 50, out));
  EXPECT_EQ(out.counts.leechers, 1u);
  // Swept swarms free their places too.
  h->clock().advance(kLifetimeMs + 2000);
  EXPECT_EQ(gc(*h), 3u);
  ASSERT_TRUE(try_announce(*h, ih('d'), v4(1, 1000), false, AnnounceEvent::started, 50, out));
  ASSERT_TRUE(try_announce(*h, ih('e'), v4(1, 1000), false, AnnounceEvent::started, 50, out));
  EXPECT_FALSE(try_announce(*h, ih('f'), v4(1, 1000), false, AnnounceEvent::started, 50, out));
  EXPECT_TRUE(h->pump_until([&] { return h->store().stats().swarm_limit_refusals == 2; }));
}

}  // namespace sc::test
