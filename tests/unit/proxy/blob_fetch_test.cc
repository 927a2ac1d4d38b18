// BlobFetch on fakes of its ports and a manual clock: single flight, lease wait, swarm stall
// fallback, the integrity rules (wrong bytes from the swarm, upstream or cache abort the
// response and drop the source; the next request is served right), a client leaving
// mid-stream, and Range requests on every path. No sockets, no sleeps.
#include "services/proxy/blob_fetch.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <set>

#include "common/core/bytes.h"
#include "common/core/metrics.h"
#include "common/core/sha.h"
#include "common/io/event_loop.h"

namespace sc {
namespace {

std::string hex_of(std::string_view data) { return to_hex(sha256(data)); }

// 3.5 MiB of varied bytes: several 1 MiB chunks and pieces, so a mismatch is found after bytes
// already went out.
std::string blob_bytes(char seed = 'a') {
  std::string s(3 * (1 << 20) + (1 << 19), '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(seed + (i * 7 + i / 4096) % 23);
  return s;
}

std::string read_fd(int fd, int64_t off, int64_t len) {
  std::string out(static_cast<size_t>(len), '\0');
  EXPECT_EQ(::pread(fd, out.data(), out.size(), off), len);
  ::close(fd);
  return out;
}

// What one client received.
struct FakeSink : BlobSink, std::enable_shared_from_this<FakeSink> {
  bool is_alive = true, head = false;
  std::string range_header;
  size_t pending = 0;
  std::map<std::string, std::string> headers;
  int status = 0;
  int64_t length = -2;
  std::string body, error_code;
  bool streaming = false, finished = false, aborted = false;
  int calls_when_dead = 0;

  void touch() {
    if (!is_alive) ++calls_when_dead;
  }
  bool complete_ok() const { return finished && !aborted; }
  std::shared_ptr<BlobSink> retain() override { return shared_from_this(); }
  bool alive() const override { return is_alive; }
  bool head_only() const override { return head; }
  std::string_view range() const override { return range_header; }
  size_t pending_output() const override { return pending; }
  void add_header(std::string_view n, std::string_view v) override { headers[std::string(n)] = std::string(v); }
  void start(int s, std::string_view, int64_t len) override {
    touch();
    EXPECT_FALSE(streaming);
    status = s;
    length = len;
    streaming = true;
  }
  void send(std::string_view b) override {
    touch();
    EXPECT_TRUE(streaming);
    body.append(b);
  }
  void send_file(int fd, int64_t off, int64_t len) override {
    touch();
    EXPECT_TRUE(streaming);
    body += read_fd(fd, off, len);
  }
  void finish() override {
    touch();
    EXPECT_TRUE(streaming && !finished && !aborted);
    finished = true;
  }
  void abort() override {
    touch();
    EXPECT_TRUE(streaming && !finished && !aborted);
    aborted = true;
  }
  void reply_file(int s, int fd, int64_t off, int64_t len) override {
    touch();
    status = s;
    length = len;
    body = read_fd(fd, off, len);
    finished = true;
  }
  void reply_head(int s, int64_t len) override {
    touch();
    status = s;
    length = len;
    finished = true;
  }
  void reply_oci_error(int s, std::string_view code, std::string_view) override {
    touch();
    status = s;
    error_code = code;
  }
  void reply_fetch_error(const Error&) override {
    touch();
    status = 502;
    error_code = "fetch";
  }
};

// The cache: entries in memory, opened as memfds; swarm downloads land in `partial`.
struct FakeStore : BlobStore {
  struct Blob {
    std::string data, sha;
    bool verified = false;
  };
  std::map<std::string, Blob> blobs;
  std::map<std::string, std::string> partial;  // hex → a swarm download's file
  int evicted = 0, begun = 0;

  struct W : Writer {
    FakeStore* s;
    std::string hex, data;
    bool verify;
    W(FakeStore* st, std::string h, bool v) : s(st), hex(std::move(h)), verify(v) {}
    Status write(std::string_view d) override {
      data.append(d);
      return {};
    }
    Status commit() override {
      if (verify && hex_of(data) != hex) return fail(Errc::invalid_argument, "digest mismatch");
      s->blobs[hex] = Blob{data, hex_of(data), true};
      return {};
    }
  };
  void put(const std::string& data, bool verified, const std::string& sha = "") {
    std::string h = hex_of(data);
    blobs[h] = Blob{data, sha.empty() ? h : sha, verified};
  }
  std::optional<Entry> lookup(const std::string& hex) override {
    auto it = blobs.find(hex);
    if (it == blobs.end()) return std::nullopt;
    return Entry{static_cast<int64_t>(it->second.data.size()), it->second.sha, it->second.verified};
  }
  Result<int> open(const std::string& hex) override {
    auto it = blobs.find(hex);
    if (it == blobs.end()) return fail(Errc::not_found, "absent");
    int fd = ::memfd_create("blob", MFD_CLOEXEC);
    if (fd < 0 || ::write(fd, it->second.data.data(), it->second.data.size()) !=
                      static_cast<ssize_t>(it->second.data.size()))
      return fail(Errc::io, "memfd");
    return fd;
  }
  void mark_verified(const std::string& hex) override { blobs[hex].verified = true; }
  void evict_corrupt(const std::string& hex) override {
    evicted += blobs.erase(hex) ? 1 : 0;
  }
  int64_t budget_bytes() const override { return 1LL << 30; }
  Result<std::unique_ptr<Writer>> begin(const std::string& hex, bool verify) override {
    if (blobs.count(hex)) return fail(Errc::conflict, "cached");
    ++begun;
    return std::unique_ptr<Writer>(std::make_unique<W>(this, hex, verify));
  }
  Status adopt(const std::string& hex, const std::string& sha) override {
    auto it = partial.find(hex);
    if (it == partial.end()) return fail(Errc::io, "no file");
    blobs[hex] = Blob{it->second, sha, true};
    partial.erase(it);
    return {};
  }
};

// Upstream GETs, answered by the test.
struct FakeOrigin {
  struct Call : SourceCall {
    FakeOrigin* o;
    UpstreamSource::Handlers h;
    bool paused = false;
    void pause() override { paused = true; }
    void resume() override { paused = false; }
  };
  int gets = 0, heads = 0;
  std::vector<Call*> live;  // GETs not yet destroyed, oldest first

  // Answers the newest live GET: head, then the body in 1 MiB chunks, then done.
  void respond(const std::string& data, int status = 200) {
    ASSERT_FALSE(live.empty());
    Call* c = live.back();
    auto h = c->h;
    if (!h.on_head({status, static_cast<int64_t>(data.size()), ""})) return h.on_done({});
    for (size_t off = 0; off < data.size(); off += 1 << 20) {
      h.on_data(std::string_view(data).substr(off, 1 << 20));
      if (on_chunk) on_chunk(off);
    }
    h.on_done({});
  }
  std::function<void(size_t)> on_chunk;
};

struct FakeSource : UpstreamSource {
  FakeOrigin& o;
  std::string head_answer_for;
  explicit FakeSource(FakeOrigin& origin) : o(origin) {}
  struct Tracked : FakeOrigin::Call {
    ~Tracked() override { std::erase(o->live, this); }
  };
  std::unique_ptr<SourceCall> get(Headers, Handlers h) override {
    ++o.gets;
    auto c = std::make_unique<Tracked>();
    c->o = &o;
    c->h = std::move(h);
    o.live.push_back(c.get());
    return c;
  }
  std::unique_ptr<SourceCall> head(std::function<void(Result<SourceHead>)>) override {
    ++o.heads;
    auto c = std::make_unique<Tracked>();
    c->o = &o;
    return c;
  }
};

// The metastore: torrents by key, a lease another proxy may hold. Answers on the next turn.
struct FakeRegistry : TorrentRegistry {
  EventLoop& loop;
  std::map<std::string, std::string> torrents;
  bool lease_elsewhere = false;
  int leases_taken = 0, released = 0;
  std::vector<std::pair<std::string, std::string>> bad;
  std::map<std::string, std::string> published;
  explicit FakeRegistry(EventLoop& l) : loop(l) {}

  void lookup(const std::string& key, std::function<void(Result<std::optional<std::string>>)> done) override {
    std::optional<std::string> t;
    if (auto it = torrents.find(key); it != torrents.end()) t = it->second;
    loop.defer([done, t] { done(t); });
  }
  void take_lease(const std::string&, std::function<void(Result<bool>)> done) override {
    bool mine = !lease_elsewhere;
    leases_taken += mine ? 1 : 0;
    loop.defer([done, mine] { done(mine); });
  }
  void release_lease(const std::string&) override { ++released; }
  void publish(const std::string& key, std::string torrent, std::function<void(Status)> done) override {
    published[key] = torrent;
    loop.defer([done] { done({}); });
  }
  void mark_bad(const std::string& key, const std::string& ih) override {
    bad.emplace_back(key, ih);
    torrents.erase(key);
  }
};

// Swarm downloads of fake torrents: `content[torrent]` is what the peers send, `arrived` how
// much of it is here. Pieces of 512 KiB.
struct FakeSwarm : SwarmDownloads {
  static constexpr int64_t kPiece = 1 << 19;
  FakeStore& store;
  std::map<std::string, std::string> content;
  std::map<std::string, int64_t> arrived;
  std::map<std::string, std::string> hex_of_id;
  std::set<std::string> removed, kept, seeded;
  EventLoop& loop;
  FakeSwarm(FakeStore& s, EventLoop& l) : store(s), loop(l) {}

  Result<Download> add(const std::string& hex, const std::string&, const std::string& torrent) override {
    auto it = content.find(torrent);
    if (it == content.end()) return fail(Errc::invalid_argument, "unusable");
    hex_of_id[torrent] = hex;
    store.partial[hex] = it->second;
    arrived.emplace(torrent, 0);
    return Download{torrent, static_cast<int64_t>(it->second.size())};
  }
  int64_t downloaded(const std::string& id) override { return arrived[id]; }
  Result<std::string> read_verified(const std::string& id, int64_t off, int64_t max) override {
    int64_t have = std::min<int64_t>(arrived[id], static_cast<int64_t>(content[id].size()));
    int64_t end = std::min(have, off + std::max(max, kPiece));
    end = end == static_cast<int64_t>(content[id].size()) ? end : end / kPiece * kPiece;
    if (end <= off) return std::string();
    return content[id].substr(static_cast<size_t>(off), static_cast<size_t>(end - off));
  }
  void remove(const std::string& id) override {
    removed.insert(id);
    store.partial.erase(hex_of_id[id]);
  }
  void keep(const std::string& id, const std::string&) override { kept.insert(id); }
  void seed(const std::string& hex, const std::string&, std::function<void(Result<std::string>)> done) override {
    seeded.insert(hex);
    loop.defer([done, hex] { done("torrent-of-" + hex); });
  }
};

class BlobFetchTest : public ::testing::Test {
 protected:
  BlobFetchTest() { make(true); }
  ~BlobFetchTest() override {
    fetcher.reset();
    loop.run_once();  // what was left to free on the next turn
  }
  void make(bool cluster) {
    fetcher.reset();
    fetcher = std::make_unique<BlobFetcher>(
        loop, BlobFetcher::Ports{store, cluster ? &registry : nullptr, cluster ? &swarm : nullptr},
        BlobFetchOptions{2'000, 1'000}, metrics);
  }
  std::shared_ptr<FakeSink> get(const std::string& data, std::string range = "", bool verify = true) {
    auto s = std::make_shared<FakeSink>();
    s->range_header = std::move(range);
    std::string hex = hex_of(data);
    fetcher->serve(BlobAsk{hex, "sha256:" + hex, verify}, *s, [this] { return source; });
    return s;
  }
  // Moves the manual clock in small steps, running deferred work after each.
  void run(int64_t ms, int64_t step = 5) {
    loop.run_once();
    for (int64_t t = 0; t < ms; t += step) {
      loop.advance(step);
      loop.run_once();
      loop.run_once();
    }
  }
  double metric(const std::string& line) {
    std::string text = metrics.render();
    size_t at = text.find("\n" + line + " ");
    return at == std::string::npos ? 0 : std::stod(text.substr(at + line.size() + 2));
  }
  static std::string slice(const std::string& d, size_t first, size_t last) { return d.substr(first, last - first + 1); }

  EventLoop loop{TimeSource::manual};
  MetricsRegistry metrics;
  FakeStore store;
  FakeRegistry registry{loop};
  FakeSwarm swarm{store, loop};
  FakeOrigin origin;
  std::shared_ptr<FakeSource> source = std::make_shared<FakeSource>(origin);
  std::unique_ptr<BlobFetcher> fetcher;
};

TEST_F(BlobFetchTest, CacheHitsWholeRangeHeadAndUnsatisfiable) {
  std::string d = blob_bytes();
  store.put(d, true);
  auto whole = get(d);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, d);
  EXPECT_EQ(whole->headers["Docker-Content-Digest"], "sha256:" + hex_of(d));
  auto part = get(d, "bytes=100-1048676");
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, slice(d, 100, 1048676));
  EXPECT_EQ(part->headers["Content-Range"], "bytes 100-1048676/" + std::to_string(d.size()));
  auto head = std::make_shared<FakeSink>();
  head->head = true;
  fetcher->serve(BlobAsk{hex_of(d), "sha256:" + hex_of(d), true}, *head, [this] { return source; });
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->length, static_cast<int64_t>(d.size()));
  EXPECT_EQ(get(d, "bytes=99999999-")->status, 416);
  EXPECT_EQ(origin.gets, 0);
}

TEST_F(BlobFetchTest, UnverifiedCacheEntryIsHashedAsItStreamsThenSentWithSendfile) {
  std::string d = blob_bytes();
  store.put(d, false);
  auto first = get(d);
  EXPECT_FALSE(first->finished) << "sent while hashed, over several turns";
  run(100);
  EXPECT_TRUE(first->complete_ok());
  EXPECT_EQ(first->body, d);
  EXPECT_TRUE(store.blobs[hex_of(d)].verified);
  auto second = get(d);
  EXPECT_TRUE(second->complete_ok()) << "verified: served at once";
  EXPECT_EQ(second->body, d);
}

TEST_F(BlobFetchTest, UnverifiedCacheRangeIsCheckedFirst) {
  std::string d = blob_bytes();
  store.put(d, false);
  auto part = get(d, "bytes=5-9");
  EXPECT_EQ(part->status, 0);
  run(100);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, d.substr(5, 5));
}

TEST_F(BlobFetchTest, ConcurrentRequestsShareOneUpstreamFetch) {
  std::string d = blob_bytes();
  std::vector<std::shared_ptr<FakeSink>> sinks;
  for (int i = 0; i < 5; ++i) sinks.push_back(get(d));
  auto ranged = get(d, "bytes=1048570-1048600");
  run(20);
  ASSERT_EQ(origin.gets, 1);
  EXPECT_EQ(registry.leases_taken, 1);
  origin.respond(d);
  run(20);
  for (auto& s : sinks) {
    EXPECT_TRUE(s->complete_ok());
    EXPECT_EQ(s->status, 200);
    EXPECT_EQ(s->body, d);
  }
  EXPECT_EQ(ranged->status, 206) << "Range on the upstream path: served once cached";
  EXPECT_EQ(ranged->body, slice(d, 1048570, 1048600));
  EXPECT_EQ(origin.gets, 1);
  EXPECT_TRUE(store.blobs.count(hex_of(d)));
  EXPECT_EQ(registry.published.count("sha256:" + hex_of(d)), 1u) << "registered for the swarm";
  EXPECT_EQ(registry.released, 1);
  EXPECT_EQ(fetcher->fetches_in_flight(), 0u);
}

TEST_F(BlobFetchTest, WithoutClusterGoesStraightUpstream) {
  make(false);
  std::string d = blob_bytes();
  auto a = get(d), b = get(d, "bytes=0-0");
  ASSERT_EQ(origin.gets, 1);
  origin.respond(d);
  EXPECT_EQ(a->body, d);
  EXPECT_EQ(b->body, d.substr(0, 1));
  EXPECT_EQ(registry.leases_taken, 0);
}

TEST_F(BlobFetchTest, LeaseLoserWaitsThenStreamsFromTheSwarm) {
  std::string d = blob_bytes();
  std::string key = "sha256:" + hex_of(d);
  registry.lease_elsewhere = true;
  auto streamer = get(d);
  auto ranged = get(d, "bytes=2000000-2000009");
  run(600);
  EXPECT_EQ(origin.gets, 0) << "the lease holder fetches upstream, not us";
  // The winner registers its torrent; the peers have the first 2 MiB so far.
  registry.torrents[key] = "T1";
  swarm.content["T1"] = d;
  swarm.arrived["T1"] = 2 << 20;
  run(300);
  EXPECT_EQ(streamer->status, 200);
  EXPECT_FALSE(streamer->finished);
  EXPECT_GT(streamer->body.size(), 0u) << "checked pieces go out as they arrive";
  EXPECT_LT(streamer->body.size(), d.size());
  swarm.arrived["T1"] = static_cast<int64_t>(d.size());
  run(50);
  EXPECT_TRUE(streamer->complete_ok());
  EXPECT_EQ(streamer->body, d);
  EXPECT_EQ(ranged->status, 206) << "Range on the swarm path";
  EXPECT_EQ(ranged->body, slice(d, 2000000, 2000009));
  EXPECT_EQ(origin.gets, 0);
  EXPECT_TRUE(swarm.kept.count("T1"));
  EXPECT_TRUE(store.blobs.count(hex_of(d)));
}

TEST_F(BlobFetchTest, LeaseWaitTimesOutToUpstream) {
  std::string d = blob_bytes();
  registry.lease_elsewhere = true;
  auto s = get(d);
  run(2'300);
  ASSERT_EQ(origin.gets, 1);
  origin.respond(d);
  EXPECT_EQ(s->body, d);
  EXPECT_TRUE(s->complete_ok());
}

TEST_F(BlobFetchTest, SwarmStallFallsBackUpstream) {
  std::string d = blob_bytes();
  registry.torrents["sha256:" + hex_of(d)] = "T1";
  swarm.content["T1"] = d;
  auto s = get(d);
  auto ranged = get(d, "bytes=7-8");
  run(900);
  EXPECT_EQ(origin.gets, 0) << "not stalled yet";
  run(300);
  ASSERT_EQ(origin.gets, 1) << "no byte for swarm_timeout: upstream";
  EXPECT_TRUE(swarm.removed.count("T1"));
  origin.respond(d);
  EXPECT_TRUE(s->complete_ok()) << "nothing had been sent from the swarm: served whole from upstream";
  EXPECT_EQ(s->body, d);
  run(10);
  EXPECT_EQ(ranged->body, d.substr(7, 2));
}

TEST_F(BlobFetchTest, SwarmBytesWrongAbortMarkBadAndTheNextRequestIsServedRight) {
  std::string d = blob_bytes(), bad = blob_bytes('b');
  std::string key = "sha256:" + hex_of(d);
  registry.torrents[key] = "BAD";
  swarm.content["BAD"] = bad;  // self-consistent pieces, not the digest
  swarm.arrived["BAD"] = static_cast<int64_t>(bad.size());
  auto s = get(d);
  auto ranged = get(d, "bytes=3-5");
  run(50);
  EXPECT_TRUE(s->aborted) << "bytes went out, then the digest failed";
  EXPECT_FALSE(s->finished);
  EXPECT_GT(s->body.size(), 0u);
  EXPECT_LT(s->body.size(), bad.size());
  ASSERT_EQ(registry.bad.size(), 1u);
  EXPECT_EQ(registry.bad[0], std::make_pair(key, std::string("BAD")));
  EXPECT_TRUE(swarm.removed.count("BAD"));
  EXPECT_FALSE(store.blobs.count(hex_of(d)));
  EXPECT_EQ(metric("swarmcache_proxy_torrents_quarantined_total"), 1);
  ASSERT_EQ(origin.gets, 1) << "the waiters go upstream";
  origin.respond(d);
  EXPECT_EQ(ranged->body, d.substr(3, 3));
  auto next = get(d);
  EXPECT_TRUE(next->complete_ok());
  EXPECT_EQ(next->body, d);
}

TEST_F(BlobFetchTest, UpstreamBytesWrongAbortAndNothingIsCached) {
  std::string d = blob_bytes(), bad = blob_bytes('z');
  auto s = get(d);
  auto waiter = get(d, "bytes=0-9");
  run(20);
  origin.respond(bad);
  EXPECT_EQ(s->status, 200);
  EXPECT_TRUE(s->aborted);
  EXPECT_FALSE(s->finished);
  EXPECT_LT(s->body.size(), bad.size());
  EXPECT_EQ(waiter->error_code, "fetch");
  EXPECT_TRUE(store.blobs.empty());
  EXPECT_EQ(registry.released, 1) << "the lease goes back for another try";
  EXPECT_TRUE(registry.published.empty());
  EXPECT_EQ(metric("swarmcache_proxy_digest_mismatch_total"), 1);
  auto again = get(d);
  run(20);
  EXPECT_EQ(origin.gets, 2) << "the next request starts clean";
  origin.respond(d);
  EXPECT_TRUE(again->complete_ok());
  EXPECT_EQ(again->body, d);
}

TEST_F(BlobFetchTest, CorruptCacheEntryAbortsEvictsAndIsRefetched) {
  std::string d = blob_bytes();
  store.put(d, false);
  store.blobs[hex_of(d)].data[2'500'000] ^= 1;  // rotted on disk
  auto s = get(d);
  run(100);
  EXPECT_TRUE(s->aborted);
  EXPECT_FALSE(s->finished);
  EXPECT_GT(s->body.size(), 0u);
  EXPECT_EQ(store.evicted, 1);
  auto next = get(d);
  run(20);
  ASSERT_EQ(origin.gets, 1);
  origin.respond(d);
  EXPECT_TRUE(next->complete_ok());
  EXPECT_EQ(next->body, d);
}

TEST_F(BlobFetchTest, CorruptCacheEntryRangeGets503AndIsEvicted) {
  std::string d = blob_bytes();
  store.put(d, false);
  store.blobs[hex_of(d)].data[10] ^= 1;
  auto s = get(d, "bytes=0-3");
  run(100);
  EXPECT_EQ(s->status, 503);
  EXPECT_EQ(store.evicted, 1);
}

TEST_F(BlobFetchTest, ClientLeavingMidStreamLeavesOthersServedAndNothingBehind) {
  std::string d = blob_bytes();
  auto leaver = get(d);
  auto other = get(d, "bytes=10-20");
  run(20);
  origin.on_chunk = [&](size_t off) {
    if (off == 1 << 20) leaver->is_alive = false;
  };
  origin.respond(d);
  EXPECT_EQ(leaver->calls_when_dead, 0);
  EXPECT_FALSE(leaver->finished);
  EXPECT_EQ(other->body, slice(d, 10, 20));
  EXPECT_TRUE(store.blobs.count(hex_of(d))) << "the fetch went on for the cache";
  EXPECT_EQ(fetcher->fetches_in_flight(), 0u);
}

TEST_F(BlobFetchTest, ClientLeavingSwarmStreamAndCacheCheck) {
  std::string d = blob_bytes(), e = blob_bytes('q');
  registry.torrents["sha256:" + hex_of(d)] = "T1";
  swarm.content["T1"] = d;
  swarm.arrived["T1"] = 2 << 20;
  auto leaver = get(d);
  run(50);
  EXPECT_GT(leaver->body.size(), 0u);
  leaver->is_alive = false;
  swarm.arrived["T1"] = static_cast<int64_t>(d.size());
  run(50);
  EXPECT_EQ(leaver->calls_when_dead, 0);
  EXPECT_TRUE(store.blobs.count(hex_of(d)));
  store.put(e, false);
  auto checker = get(e);
  checker->is_alive = false;
  run(50);
  EXPECT_EQ(fetcher->cache_checks_running(), 0u);
  EXPECT_EQ(checker->calls_when_dead, 0);
  EXPECT_EQ(store.evicted, 0) << "a client leaving proves nothing about the entry";
  EXPECT_EQ(fetcher->fetches_in_flight(), 0u);
}

TEST_F(BlobFetchTest, HeadMissAsksUpstreamWithoutFetching) {
  std::string d = blob_bytes();
  auto s = std::make_shared<FakeSink>();
  s->head = true;
  fetcher->serve(BlobAsk{hex_of(d), "sha256:" + hex_of(d), true}, *s, [this] { return source; });
  EXPECT_EQ(origin.heads, 1);
  EXPECT_EQ(origin.gets, 0);
}

}  // namespace
}  // namespace sc
