// The Redis peer store against a real redis-server: the shared conformance suite (through a
// connection attached to the test thread's loop, the HTTP worker path), then what only a
// shared, remote store has: threads without a loop, two stores on one Redis, Redis going away
// and coming back, and GC leaving no keys behind.
#include "services/tracker/peer_store_redis.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/io/event_loop.h"
#include "tests/support/support.h"
#include "tests/unit/tracker/peer_store_conformance.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

// One redis-server for the whole binary; every store gets its own key prefix.
RedisServer& shared_redis() {
  static RedisServer server;  // stopped at exit
  return server;
}

std::string unique_prefix() {
  static std::atomic<int> n{0};
  return "t" + std::to_string(::getpid()) + "." + std::to_string(n.fetch_add(1)) + ":";
}

RedisStoreOptions store_options(const RedisServer& server, int64_t lifetime_ms, std::string prefix,
                                uint64_t max_swarms = kDefaultMaxSwarms) {
  auto ro = parse_redis_url(server.url());
  EXPECT_TRUE(ro.has_value());
  RedisStoreOptions o;
  o.redis = *ro;
  o.key_prefix = std::move(prefix);
  o.peer_lifetime_ms = lifetime_ms;
  o.max_swarms = max_swarms;
  return o;
}

// Drives `loop` on this thread until pred holds or the deadline passes.
bool pump(EventLoop& loop, const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    loop.run_once();
    std::this_thread::sleep_for(200us);
  }
  return true;
}

class RedisHarness final : public StoreHarness {
 public:
  RedisHarness(int64_t lifetime_ms, uint64_t max_swarms)
      : store_(clock_, store_options(shared_redis(), lifetime_ms, unique_prefix(), max_swarms)) {
    EXPECT_TRUE(store_.start());
    store_.attach_thread(loop_.base());
    EXPECT_TRUE(pump(loop_, [&] { return store_.ready(); })) << "redis peer store never became ready";
  }
  ~RedisHarness() override { store_.detach_thread(); }
  PeerStore& store() override { return store_; }
  ManualClock& clock() override { return clock_; }
  bool pump_until(const std::function<bool()>& pred) override { return pump(loop_, pred); }

 private:
  EventLoop loop_;
  ManualClock clock_;
  RedisPeerStore store_;
};

std::unique_ptr<StoreHarness> make_redis(int64_t lifetime_ms, uint64_t max_swarms) {
  return std::make_unique<RedisHarness>(lifetime_ms, max_swarms);
}

INSTANTIATE_TEST_SUITE_P(Redis, PeerStoreConformance, ::testing::Values(&make_redis));

InfoHash hash_of(char c) {
  InfoHash h;
  h.fill(static_cast<uint8_t>(c));
  return h;
}

PeerAddr v4(uint8_t last, uint16_t port) {
  PeerAddr a;
  a.ip = {10, 1, 0, last};
  a.port = port;
  return a;
}

std::string compact(const PeerAddr& a) {
  std::string s;
  a.append_compact(s);
  return s;
}

StoreAnnounce req(const InfoHash& h, const PeerAddr& p, bool seeder, AnnounceEvent ev = AnnounceEvent::none) {
  StoreAnnounce r;
  r.info_hash = h;
  r.peer = p;
  r.seeder = seeder;
  r.event = ev;
  r.numwant = 50;
  return r;
}

// A store with a connection on the test thread, announcing synchronously by pumping.
struct Attached {
  Attached(const RedisServer& server, std::string prefix, int64_t lifetime_ms = 60'000)
      : store(clock, store_options(server, lifetime_ms, std::move(prefix))) {
    EXPECT_TRUE(store.start());
    store.attach_thread(loop.base());
  }
  ~Attached() { store.detach_thread(); }

  Status announce(const StoreAnnounce& r, StoreAnnounceResult& out) {
    bool fired = false;
    Status result;
    store.announce(r, out, [&](Status st) {
      fired = true;
      result = st;
    });
    if (!pump(loop, [&] { return fired; })) return fail(Errc::timeout, "no callback");
    return result;
  }

  // A sweep's count; the store thread reports it while this thread pumps its own loop.
  uint64_t gc() {
    std::atomic<bool> fired{false};
    std::atomic<uint64_t> dropped{0};
    store.collect_garbage([&](uint64_t n) {
      dropped = n;
      fired = true;
    });
    EXPECT_TRUE(pump(loop, [&] { return fired.load(); }));
    return dropped;
  }

  EventLoop loop;
  ManualClock clock;
  RedisPeerStore store;
};

TEST(RedisPeerStore, ThreadsWithoutALoopAreServedByTheStoreThread) {
  ManualClock clock;
  RedisPeerStore store(clock, store_options(shared_redis(), 60'000, unique_prefix()));
  ASSERT_TRUE(store.start());
  ASSERT_TRUE(wait_until([&] { return store.ready(); }, 5s));
  for (int i = 1; i <= 2; ++i) {
    StoreAnnounceResult out;
    std::atomic<bool> fired{false};
    std::atomic<bool> ok{false};
    std::thread::id cb_thread;
    store.announce(req(hash_of('u'), v4(static_cast<uint8_t>(i), 1), i == 1), out, [&](Status st) {
      ok = st.has_value();
      cb_thread = std::this_thread::get_id();
      fired = true;
    });
    ASSERT_TRUE(wait_until([&] { return fired.load(); }, 5s));
    EXPECT_TRUE(ok);
    EXPECT_NE(cb_thread, std::this_thread::get_id()) << "no loop here: the store thread answers";
    if (i == 2) {
      EXPECT_EQ(out.peers, compact(v4(1, 1)));
      EXPECT_EQ(out.counts.seeders, 1u);
      EXPECT_EQ(out.counts.leechers, 1u);
    }
  }
}

TEST(RedisPeerStore, TwoStoresOnOneRedisShareSwarms) {
  const std::string prefix = unique_prefix();
  Attached a(shared_redis(), prefix), b(shared_redis(), prefix);
  StoreAnnounceResult out;
  ASSERT_TRUE(a.announce(req(hash_of('s'), v4(1, 6881), true, AnnounceEvent::completed), out));
  ASSERT_TRUE(b.announce(req(hash_of('s'), v4(2, 6881), false, AnnounceEvent::started), out));
  EXPECT_EQ(out.peers, compact(v4(1, 6881))) << "b returns the seeder announced to a";
  EXPECT_EQ(out.counts.seeders, 1u);
  EXPECT_EQ(out.counts.leechers, 1u);
  EXPECT_EQ(out.counts.downloaded, 1u);
  ASSERT_TRUE(a.announce(req(hash_of('s'), v4(1, 6881), true), out));
  EXPECT_EQ(out.peers, compact(v4(2, 6881))) << "and a returns the leecher announced to b";
  // Another prefix is another tracker cluster: it sees none of this.
  Attached c(shared_redis(), unique_prefix());
  ASSERT_TRUE(c.announce(req(hash_of('s'), v4(3, 6881), false), out));
  EXPECT_TRUE(out.peers.empty());
  EXPECT_EQ(out.counts.seeders + out.counts.leechers, 1u);
}

TEST(RedisPeerStore, GcOnOneInstanceExpiresPeersForAllAndLeavesNoKeys) {
  RedisServer server;  // its own server: the test counts every key in it
  const std::string prefix = unique_prefix();
  Attached a(server, prefix, 10'000), b(server, prefix, 10'000);
  StoreAnnounceResult out;
  for (uint8_t i = 1; i <= 5; ++i) ASSERT_TRUE(a.announce(req(hash_of('g'), v4(i, 1), i == 1, AnnounceEvent::completed), out));
  ASSERT_TRUE(a.announce(req(hash_of('h'), v4(9, 1), false), out));
  b.clock.advance(5'000);
  ASSERT_TRUE(b.announce(req(hash_of('h'), v4(9, 1), false), out));  // refreshed by b
  a.clock.advance(8'000);
  b.clock.advance(8'000);  // b at 13 s: cutoff 3 s drops g's peers (0 s), keeps h's (5 s)
  EXPECT_EQ(b.gc(), 5u) << "b sweeps the peers a recorded";
  EXPECT_EQ(b.gc(), 0u);
  ASSERT_TRUE(a.announce(req(hash_of('g'), v4(7, 1), false), out));
  EXPECT_TRUE(out.peers.empty());
  EXPECT_EQ(out.counts.leechers, 1u);
  EXPECT_TRUE(pump(a.loop, [&] {
    auto st = a.store.stats();
    return st.torrents == 2 && st.seeders == 0 && st.leechers == 2;
  })) << "totals follow the sweep";

  a.clock.advance(20'000);
  EXPECT_EQ(a.gc(), 2u);
  // Nothing of ours is left but the totals hash.
  EventLoop loop;
  RedisClient raw(loop.base(), *parse_redis_url(server.url()));
  ASSERT_TRUE(raw.start());
  std::vector<std::string> keys;
  bool got = false;
  raw.command({"KEYS", "*"}, [&](Result<RedisReply> r) {
    got = true;
    ASSERT_TRUE(r);
    for (const auto& k : r->elements) keys.push_back(k.str);
  });
  ASSERT_TRUE(pump(loop, [&] { return got; }));
  EXPECT_EQ(keys, std::vector<std::string>{prefix + "stats"});
}

// The sweep runs on the store thread: the caller (the main loop, watched by systemd's 30 s
// watchdog) gets control back at once, even while Redis is frozen, and the count arrives later.
TEST(RedisPeerStore, GarbageCollectionNeverWaitsForRedis) {
  RedisServer server;
  Attached a(server, unique_prefix(), 10'000);
  StoreAnnounceResult out;
  ASSERT_TRUE(a.announce(req(hash_of('w'), v4(1, 1), true), out));
  a.clock.advance(20'000);

  EventLoop loop;
  RedisClient raw(loop.base(), *parse_redis_url(server.url()));
  ASSERT_TRUE(raw.start());
  int64_t pid = 0;
  raw.command({"INFO", "server"}, [&](Result<RedisReply> r) {
    ASSERT_TRUE(r);
    auto at = r->str.find("process_id:");
    if (at != std::string::npos) pid = std::stoll(r->str.substr(at + 11));
  });
  ASSERT_TRUE(pump(loop, [&] { return pid > 0; }));
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGSTOP), 0);
  struct Thaw {
    int64_t pid;
    ~Thaw() { ::kill(static_cast<pid_t>(pid), SIGCONT); }
  } thaw{pid};

  std::atomic<bool> fired{false};
  std::atomic<uint64_t> dropped{0};
  a.store.collect_garbage([&](uint64_t n) {
    dropped = n;
    fired = true;
  });
  EXPECT_FALSE(fired.load()) << "returned with the sweep still waiting on the frozen Redis";
  ::kill(static_cast<pid_t>(pid), SIGCONT);
  ASSERT_TRUE(pump(a.loop, [&] { return fired.load(); }));
  EXPECT_EQ(dropped.load(), 1u);
}

TEST(RedisPeerStore, RedisGoingAwayFailsFastAndServiceResumesByItself) {
  RedisServer server;
  Attached a(server, unique_prefix());
  ASSERT_TRUE(pump(a.loop, [&] { return a.store.ready(); }));
  StoreAnnounceResult out;
  ASSERT_TRUE(a.announce(req(hash_of('r'), v4(1, 1), true), out));

  server.stop();
  EXPECT_TRUE(pump(a.loop, [&] { return !a.store.ready(); })) << "ready() turns false";
  auto st = a.announce(req(hash_of('r'), v4(2, 1), false), out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::unavailable) << st.error().message;
  EXPECT_EQ(a.gc(), 0u);  // harmless while down

  server.restart();
  EXPECT_TRUE(pump(a.loop, [&] { return a.store.ready(); }, 10s)) << "ready() comes back without a restart";
  // The worker connection reconnects with its own back-off: announces succeed again soon.
  EXPECT_TRUE(pump(a.loop, [&] { return a.announce(req(hash_of('r'), v4(2, 1), false), out).has_value(); }, 10s));
  EXPECT_EQ(out.counts.leechers, 1u);  // the new Redis (no persistence) starts empty
}

}  // namespace
}  // namespace sc::test
