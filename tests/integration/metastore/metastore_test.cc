// The real swarmcache-metastore binary against a real redis-server, both on free loopback
// ports: every route and error of the API, conditional GET, paging under concurrent writes,
// events (long-poll and SSE with resume), leases, node TTLs, GC, Redis outages and restarts.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <set>
#include <thread>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "common/core/jwt.h"
#include "common/core/sha.h"
#include "proto/metastore_api.h"
#include "tests/support/support.h"

namespace sc {
namespace {

using namespace std::chrono_literals;
using test::http_request;
using test::HttpResult;

constexpr const char* kToken = "s3cret-token";

BValue dict(BDict d) {
  std::sort(d.begin(), d.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return BValue{std::move(d)};
}

// A valid single-file v1 torrent; different (name, length) give different info hashes.
std::string make_torrent(const std::string& name, int64_t length = 40000) {
  constexpr int64_t kPiece = 16384;
  int64_t pieces = (length + kPiece - 1) / kPiece;
  BValue info = dict({{"name", BValue{name}}, {"piece length", BValue{kPiece}}, {"length", BValue{length}},
                      {"pieces", BValue{std::string(20 * pieces, 'h')}}});
  return bencode(dict({{"announce", BValue{std::string("http://127.0.0.1:1/announce")}}, {"info", info}}));
}

std::string infohash_of(const std::string& torrent) {
  auto root = bdecode(torrent);
  const BValue* info = root->find("info");
  return to_hex(sha1(std::string_view(torrent).substr(info->begin, info->end - info->begin)));
}

class Metastore {
 public:
  Metastore(const std::string& redis_url, const std::string& config_yaml = "") {
    std::ofstream(dir_.file("tokens")) << "# writers\n" << kToken << "\n";
    std::vector<std::string> argv = {test::build_path("services/metastore/swarmcache-metastore"), "--listen", "127.0.0.1:0",
                                     "--redis", redis_url, "--auth-tokens", dir_.file("tokens"), "--log-level", "warn"};
    std::string yaml = config_yaml;
    // SC_METASTORE_THREADS=N runs the whole suite against N HTTP worker threads.
    if (const char* t = std::getenv("SC_METASTORE_THREADS")) yaml += "\nhttp:\n  threads: " + std::string(t) + "\n";
    if (!yaml.empty()) {
      std::ofstream(dir_.file("config.yaml")) << yaml;
      argv.push_back("--config");
      argv.push_back(dir_.file("config.yaml"));
    }
    proc_ = std::make_unique<test::Process>(argv);
    auto p = proc_->wait_for_number("http_port", 10s);
    if (!p) throw std::runtime_error("metastore did not start: " + proc_->output());
    port_ = *p;
  }
  int port() const { return port_; }
  test::Process& proc() { return *proc_; }

  HttpResult req(const std::string& method, const std::string& target, const std::string& body = "",
                 std::map<std::string, std::string> headers = {}, bool auth = true) {
    if (auth) headers["Authorization"] = std::string("Bearer ") + kToken;
    return http_request(port_, method, target, body, headers, 15s);
  }
  HttpResult put(const std::string& key, const std::string& torrent) {
    return req("PUT", "/v1/torrents/" + key, torrent, {{"Content-Type", "application/x-bittorrent"}});
  }

 private:
  test::TempDir dir_;
  std::unique_ptr<test::Process> proc_;
  int port_ = 0;
};

std::string error_code(const HttpResult& r) {
  auto e = error_from_json(r.body);
  if (!e) return "<not an error document: " + r.body + ">";
  return e->message.substr(0, e->message.find(':'));
}

// A minimal SSE reader: one connection, reads until `want` events arrived or the deadline.
class SseClient {
 public:
  SseClient(int port, const std::string& target, const std::string& last_event_id = "") {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept: text/event-stream\r\n";
    if (!last_event_id.empty()) req += "Last-Event-ID: " + last_event_id + "\r\n";
    req += "\r\n";
    ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
  }
  ~SseClient() { close(fd_); }
  // Ids of the events seen so far, after reading until there are `want` or the deadline.
  std::vector<std::string> read_ids(size_t want, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (ids().size() < want && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) {
        char buf[8192];
        ssize_t n = recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) break;
        data_.append(buf, n);
      }
    }
    return ids();
  }
  const std::string& raw() const { return data_; }

 private:
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (size_t pos = data_.find("\nid: "); pos != std::string::npos; pos = data_.find("\nid: ", pos + 1)) {
      size_t end = data_.find('\n', pos + 5);
      if (end == std::string::npos) break;
      out.push_back(data_.substr(pos + 5, end - pos - 5));
    }
    return out;
  }
  int fd_ = -1;
  std::string data_;
};

TEST(Metastore, PutGetConditionalAndErrors) {
  test::RedisServer redis;
  Metastore ms(redis.url(), "limits:\n  max_torrent_bytes: 64k\n");
  std::string t = make_torrent("a.bin");
  std::string key = "files/dir/a.bin";

  EXPECT_EQ(ms.req("PUT", "/v1/torrents/" + key, t, {}, false).status, 401);
  auto bad_token = ms.req("PUT", "/v1/torrents/" + key, t, {{"Authorization", "Bearer nope"}}, false);
  EXPECT_EQ(bad_token.status, 401);
  EXPECT_EQ(error_code(bad_token), "unauthorized");

  auto created = ms.put(key, t);
  ASSERT_EQ(created.status, 201) << created.body;
  auto meta = torrent_meta_from_json(created.body);
  ASSERT_TRUE(meta) << created.body;
  EXPECT_EQ(meta->infohash, infohash_of(t));
  EXPECT_EQ(meta->kind, "file");
  EXPECT_EQ(ms.put(key, t).status, 200);                                  // idempotent
  auto conflict = ms.put(key, make_torrent("other.bin"));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(error_code(conflict), "conflict");
  EXPECT_EQ(ms.put("files/x", "not a torrent").status, 400);
  EXPECT_EQ(error_code(ms.put("files/x", "not a torrent")), "invalid_argument");
  EXPECT_EQ(ms.put("files/../etc/passwd", t).status, 400);
  EXPECT_EQ(ms.put("files/a%2F..%2Fb", t).status, 400);                   // encoded ..
  EXPECT_EQ(ms.put("blobs/x", t).status, 400);
  EXPECT_EQ(ms.put("sha256:ABC", t).status, 400);
  EXPECT_EQ(ms.put("files/big", make_torrent("big", int64_t{16384} * 4000)).status, 413);  // 80 KB of hashes
  std::string deep = "d4:info" + std::string(200, 'l') + std::string(200, 'e') + "e";
  EXPECT_EQ(ms.put("files/deep", deep).status, 400);  // malformed, not too large
  BList twice;
  for (int i = 0; i < 2; ++i) {
    twice.push_back(dict({{"length", BValue{int64_t{10}}}, {"path", BValue{BList{BValue{std::string("same")}}}}}));
  }
  std::string dup = bencode(dict({{"info", dict({{"name", BValue{std::string("d")}}, {"piece length", BValue{int64_t{16384}}},
                                                 {"files", BValue{twice}}, {"pieces", BValue{std::string(20, 'h')}}})}}));
  auto dup_put = ms.put("files/dup", dup);
  EXPECT_EQ(dup_put.status, 400) << dup_put.body;  // one path listed twice
  EXPECT_EQ(ms.req("PUT", "/v1/torrents/files/y", t, {{"Content-Type", "text/plain"}}).status, 400);

  // Bytes, ETag, conditional GET, HEAD.
  auto get = ms.req("GET", "/v1/torrents/" + key, "", {}, false);
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(get.body, t);
  EXPECT_EQ(get.headers["content-type"], "application/x-bittorrent");
  EXPECT_EQ(get.headers["etag"], "\"" + infohash_of(t) + "\"");
  auto encoded = ms.req("GET", "/v1/torrents/files%2Fdir%2Fa.bin", "", {}, false);
  EXPECT_EQ(encoded.status, 200);
  auto not_modified = ms.req("GET", "/v1/torrents/" + key, "", {{"If-None-Match", get.headers["etag"]}}, false);
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.body, "");
  auto modified = ms.req("GET", "/v1/torrents/" + key, "", {{"If-None-Match", "\"0000\""}}, false);
  EXPECT_EQ(modified.status, 200);
  auto head = ms.req("HEAD", "/v1/torrents/" + key, "", {}, false);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.headers["content-length"], std::to_string(t.size()));

  // JSON metadata, and GETs bump last_access.
  auto j1 = ms.req("GET", "/v1/torrents/" + key, "", {{"Accept", "application/json"}}, false);
  ASSERT_EQ(j1.status, 200);
  auto m1 = torrent_meta_from_json(j1.body);
  ASSERT_TRUE(m1) << j1.body;
  EXPECT_EQ(m1->key, key);
  EXPECT_EQ(m1->name, "a.bin");
  EXPECT_EQ(m1->size, 40000);
  EXPECT_EQ(m1->piece_length, 16384);
  ASSERT_EQ(m1->files.size(), 1u);
  EXPECT_GT(m1->created, 0);
  EXPECT_GE(m1->last_access, m1->created);
  int64_t before = m1->last_access;
  EXPECT_TRUE(test::wait_until(
      [&] {
        ms.req("GET", "/v1/torrents/" + key, "", {}, false);
        auto j = torrent_meta_from_json(ms.req("GET", "/v1/torrents/" + key, "", {{"Accept", "application/json"}}, false).body);
        return j && j->last_access > before;
      },
      5s));

  auto missing = ms.req("GET", "/v1/torrents/files/none", "", {}, false);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(error_code(missing), "not_found");
  EXPECT_EQ(ms.req("GET", "/v1/torrents/bogus", "", {}, false).status, 400);
  // Bounded requests: header count, URI length, query parameter count.
  std::map<std::string, std::string> many;
  for (int i = 0; i < 100; ++i) many["X-H" + std::to_string(i)] = "v";
  EXPECT_EQ(ms.req("GET", "/v1/torrents/" + key, "", many, false).status, 431);
  // Past 8 KiB evhtp's parser drops the connection before our 414 can be sent: either is a refusal.
  int long_uri = ms.req("GET", "/v1/torrents/files/" + std::string(9000, 'a'), "", {}, false).status;
  EXPECT_TRUE(long_uri == 414 || long_uri == 0) << long_uri;
  std::string params;
  for (int i = 0; i < 20; ++i) params += "p" + std::to_string(i) + "=1&";
  EXPECT_EQ(ms.req("GET", "/v1/torrents?" + params, "", {}, false).status, 400);
  EXPECT_EQ(ms.req("POST", "/v1/torrents/" + key, t).status, 405);
  EXPECT_EQ(error_code(ms.req("GET", "/nowhere", "", {}, false)), "not_found");

  // Delete.
  EXPECT_EQ(ms.req("DELETE", "/v1/torrents/" + key, "", {}, false).status, 401);
  EXPECT_EQ(ms.req("DELETE", "/v1/torrents/" + key).status, 204);
  EXPECT_EQ(ms.req("GET", "/v1/torrents/" + key, "", {}, false).status, 404);
  EXPECT_EQ(ms.req("DELETE", "/v1/torrents/" + key).status, 404);

  // A real multi-file torrent from mktorrent, and a hybrid v1+v2 one: both hashes recorded.
  std::ifstream mk(test::source_path("tests/fuzz/corpus/fuzz_metainfo/mktorrent_multi.torrent"), std::ios::binary);
  std::string mk_bytes((std::istreambuf_iterator<char>(mk)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(mk_bytes.empty());
  ASSERT_EQ(ms.put("dirs/d", mk_bytes).status, 201);
  auto mk_meta = torrent_meta_from_json(ms.req("GET", "/v1/torrents/dirs/d", "", {{"Accept", "application/json"}}, false).body);
  ASSERT_TRUE(mk_meta);
  EXPECT_EQ(mk_meta->kind, "dir");
  EXPECT_EQ(mk_meta->name, "d");
  EXPECT_EQ(mk_meta->files.size(), 2u);
  EXPECT_EQ(mk_meta->infohash, infohash_of(mk_bytes));
  std::ifstream hy(test::source_path("tests/fuzz/corpus/fuzz_metainfo/hybrid.torrent"), std::ios::binary);
  std::string hy_bytes((std::istreambuf_iterator<char>(hy)), std::istreambuf_iterator<char>());
  ASSERT_EQ(ms.put("files/hybrid", hy_bytes).status, 201);
  auto hy_meta = torrent_meta_from_json(ms.req("GET", "/v1/torrents/files/hybrid", "", {{"Accept", "application/json"}}, false).body);
  ASSERT_TRUE(hy_meta);
  EXPECT_EQ(hy_meta->infohash_v1, infohash_of(hy_bytes));
  EXPECT_EQ(hy_meta->infohash_v2.size(), 64u);
  EXPECT_EQ(hy_meta->infohash, hy_meta->infohash_v1);
  EXPECT_EQ(ms.req("DELETE", "/v1/torrents/dirs/d").status, 204);
  EXPECT_EQ(ms.req("DELETE", "/v1/torrents/files/hybrid").status, 204);

  // Other kinds of key; health and metrics.
  std::string blob = "sha256:" + std::string(64, 'e');
  EXPECT_EQ(ms.put(blob, make_torrent("blob")).status, 201);
  EXPECT_EQ(ms.put("ostree/repo.example.org/deltas/ab/cd/superblock", make_torrent("delta")).status, 201);
  EXPECT_EQ(ms.req("GET", "/healthz", "", {}, false).status, 200);
  EXPECT_EQ(ms.req("GET", "/readyz", "", {}, false).status, 200);
  auto metrics = ms.req("GET", "/metrics", "", {}, false);
  EXPECT_NE(metrics.body.find("swarmcache_metastore_requests_total{route=\"put\",code=\"201\"}"), std::string::npos)
      << metrics.body.substr(0, 2000);
  EXPECT_NE(metrics.body.find("swarmcache_metastore_redis_rtt_seconds_count"), std::string::npos);
  EXPECT_NE(metrics.body.find("swarmcache_metastore_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_TRUE(test::wait_until(
      [&] { return ms.req("GET", "/metrics", "", {}, false).body.find("swarmcache_metastore_torrents 2") != std::string::npos; },
      15s));

  auto status = ms.proc().stop(SIGTERM);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << ms.proc().output();
}

TEST(Metastore, PagingSeesEveryKeyOnceUnderConcurrentWrites) {
  test::RedisServer redis;
  Metastore ms(redis.url());
  std::set<std::string> stable;
  for (int i = 0; i < 1005; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "m%04d", i);
    std::string key = std::string("files/m/") + name;
    ASSERT_EQ(ms.put(key, make_torrent(name)).status, 201);
    stable.insert(key);
  }
  // Writers add and remove other keys, interleaved with the stable ones, while we page.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 2000; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "m%04d-x", i % 1005);
      std::string key = std::string("files/m/") + name;
      ms.put(key, make_torrent(name));
      if (i % 3 == 0) ms.req("DELETE", "/v1/torrents/" + key);
    }
  });
  std::multiset<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto r = ms.req("GET", "/v1/torrents?prefix=files%2Fm%2F&limit=37&cursor=" + cursor, "", {}, false);
    ASSERT_EQ(r.status, 200) << r.body;
    auto page = torrent_page_from_json(r.body);
    ASSERT_TRUE(page) << r.body;
    ASSERT_LE(page->items.size(), 37u);
    for (auto& it : page->items) {
      seen.insert(it.key);
      if (stable.contains(it.key)) {
        EXPECT_EQ(it.size, 40000);
      }
    }
    cursor = page->cursor;
    ++pages;
  } while (!cursor.empty() && pages < 1000);
  stop = true;
  writer.join();
  for (auto& k : stable) EXPECT_EQ(seen.count(k), 1u) << k;
  for (auto& k : seen) EXPECT_EQ(seen.count(k), 1u) << k;

  // limit is capped, prefixes filter, bad parameters are 400.
  auto all = torrent_page_from_json(ms.req("GET", "/v1/torrents?limit=100000", "", {}, false).body);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), 1000u);
  EXPECT_FALSE(all->cursor.empty());
  auto none = torrent_page_from_json(ms.req("GET", "/v1/torrents?prefix=dirs%2F", "", {}, false).body);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->items.empty());
  EXPECT_EQ(none->cursor, "");
  EXPECT_EQ(ms.req("GET", "/v1/torrents?limit=abc", "", {}, false).status, 400);
  EXPECT_EQ(ms.req("GET", "/v1/torrents?cursor=zz", "", {}, false).status, 400);
}

TEST(Metastore, EventsLongPollAndSseResume) {
  test::RedisServer redis;
  Metastore ms(redis.url());
  std::string t1 = make_torrent("one"), t2 = make_torrent("two");
  ASSERT_EQ(ms.put("files/one", t1).status, 201);
  ASSERT_EQ(ms.put("files/two", t2).status, 201);
  ASSERT_EQ(ms.put("files/two", t2).status, 200);  // no event for an idempotent put
  ASSERT_EQ(ms.req("DELETE", "/v1/torrents/files/one").status, 204);

  auto r = ms.req("GET", "/v1/events?after=0", "", {}, false);
  ASSERT_EQ(r.status, 200);
  auto page = events_page_from_json(r.body);
  ASSERT_TRUE(page) << r.body;
  ASSERT_EQ(page->events.size(), 3u);
  EXPECT_EQ(page->events[0].type, "put");
  EXPECT_EQ(page->events[0].key, "files/one");
  EXPECT_EQ(page->events[0].infohash, infohash_of(t1));
  EXPECT_EQ(page->events[2].type, "delete");
  EXPECT_EQ(page->events[2].infohash, infohash_of(t1));
  EXPECT_EQ(page->last_id, page->events[2].id);
  // Resuming from an id gives only what follows it.
  auto rest = events_page_from_json(ms.req("GET", "/v1/events?after=" + page->events[0].id, "", {}, false).body);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->events.size(), 2u);
  EXPECT_EQ(rest->events[0].id, page->events[1].id);

  // A long-poll with nothing new returns empty at its deadline, keeping the cursor.
  auto idle = events_page_from_json(ms.req("GET", "/v1/events?wait=200ms&after=" + page->last_id, "", {}, false).body);
  ASSERT_TRUE(idle);
  EXPECT_TRUE(idle->events.empty());
  EXPECT_EQ(idle->last_id, page->last_id);

  // A waiting long-poll is answered by the next write.
  HttpResult polled;
  std::thread poller([&] { polled = ms.req("GET", "/v1/events?wait=30s&after=" + page->last_id, "", {}, false); });
  ASSERT_TRUE(test::wait_until(
      [&] { return ms.req("GET", "/metrics", "", {}, false).body.find("swarmcache_metastore_event_waiters 1") != std::string::npos; },
      10s));
  ASSERT_EQ(ms.put("files/three", make_torrent("three")).status, 201);
  poller.join();
  ASSERT_EQ(polled.status, 200);
  auto woke = events_page_from_json(polled.body);
  ASSERT_TRUE(woke);
  ASSERT_EQ(woke->events.size(), 1u);
  EXPECT_EQ(woke->events[0].key, "files/three");

  // SSE: history first, then live events; reconnecting with Last-Event-ID misses nothing.
  std::string last;
  {
    SseClient sse(ms.port(), "/v1/events?after=0");
    auto ids = sse.read_ids(4, 10s);
    ASSERT_EQ(ids.size(), 4u) << sse.raw();
    EXPECT_NE(sse.raw().find("text/event-stream"), std::string::npos);
    EXPECT_NE(sse.raw().find("event: delete"), std::string::npos);
    ASSERT_EQ(ms.put("files/four", make_torrent("four")).status, 201);
    ids = sse.read_ids(5, 10s);
    ASSERT_EQ(ids.size(), 5u) << sse.raw();
    last = ids.back();
  }
  ASSERT_EQ(ms.put("files/five", make_torrent("five")).status, 201);   // while disconnected
  ASSERT_EQ(ms.put("files/six", make_torrent("six")).status, 201);
  SseClient again(ms.port(), "/v1/events", last);
  auto ids = again.read_ids(2, 10s);
  ASSERT_EQ(ids.size(), 2u) << again.raw();
  EXPECT_NE(again.raw().find("files/five"), std::string::npos);
  EXPECT_EQ(again.raw().find("files/four"), std::string::npos);

  EXPECT_EQ(ms.req("GET", "/v1/events?after=banana", "", {}, false).status, 400);
  EXPECT_EQ(ms.req("GET", "/v1/events?after=18446744073709551615-18446744073709551615", "", {}, false).status, 400);
  EXPECT_EQ(ms.req("GET", "/v1/events?after=18446744073709551616-0", "", {}, false).status, 400);
  auto near_max = ms.req("GET", "/v1/events?after=18446744073709551615-18446744073709551614", "", {}, false);
  EXPECT_EQ(near_max.status, 200) << near_max.body;
  EXPECT_EQ(ms.req("GET", "/v1/events?wait=forever", "", {}, false).status, 400);
  // SIGTERM ends the open SSE stream and the process exits cleanly.
  auto status = ms.proc().stop(SIGTERM);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << ms.proc().output();
}

// A follower whose last id fell out of the trimmed history is told so (410), never silently
// resumed past a gap; one still inside the history resumes normally.
TEST(Metastore, TrimmedHistoryAnswersGone) {
  test::RedisServer redis;
  Metastore ms(redis.url(), "events:\n  max_len: 10\n");
  std::string first_id;
  for (int i = 0; i < 300; ++i) {  // MAXLEN ~ trims whole stream nodes (100 entries each)
    std::string name = "g" + std::to_string(i);
    ASSERT_EQ(ms.put("files/" + name, make_torrent(name)).status, 201);
    if (i == 0) {
      auto p = events_page_from_json(ms.req("GET", "/v1/events?after=0", "", {}, false).body);
      ASSERT_TRUE(p && !p->events.empty());
      first_id = p->events[0].id;
    }
  }
  auto gone = ms.req("GET", "/v1/events?after=" + first_id, "", {}, false);
  EXPECT_EQ(gone.status, 410) << gone.body;
  EXPECT_EQ(error_code(gone), "gone");
  SseClient sse(ms.port(), "/v1/events", first_id);
  sse.read_ids(1, 2s);
  EXPECT_NE(sse.raw().find("410"), std::string::npos) << sse.raw();
  auto all = events_page_from_json(ms.req("GET", "/v1/events?after=0", "", {}, false).body);
  ASSERT_TRUE(all && all->events.size() >= 2);
  EXPECT_LT(all->events.size(), 300u);
  auto recent = ms.req("GET", "/v1/events?after=" + all->events[0].id, "", {}, false);
  EXPECT_EQ(recent.status, 200);
}

TEST(Metastore, LeasesGrantRenewConflictReleaseExpire) {
  test::RedisServer redis;
  Metastore ms(redis.url());
  std::string path = "/v1/leases/sha256:" + std::string(64, 'b');
  auto lease = [&](const std::string& holder, int ttl) {
    return ms.req("POST", path, to_json(LeaseRequest{holder, ttl}), {{"Content-Type", "application/json"}});
  };
  EXPECT_EQ(ms.req("POST", path, to_json(LeaseRequest{"a", 1000}), {}, false).status, 401);
  auto granted = lease("proxy-a", 60000);
  ASSERT_EQ(granted.status, 201) << granted.body;
  EXPECT_EQ(lease_from_json(granted.body)->holder, "proxy-a");
  EXPECT_EQ(lease("proxy-a", 60000).status, 200);  // renewed
  auto held = lease("proxy-b", 60000);
  ASSERT_EQ(held.status, 409);
  auto who = lease_from_json(held.body);
  ASSERT_TRUE(who) << held.body;
  EXPECT_EQ(who->holder, "proxy-a");
  EXPECT_GT(who->ttl_ms, 0);
  EXPECT_LE(who->ttl_ms, 60000);
  EXPECT_EQ(error_code(held), "conflict");
  EXPECT_EQ(ms.req("DELETE", path + "?holder=proxy-b").status, 409);
  EXPECT_EQ(ms.req("DELETE", path + "?holder=proxy-a").status, 204);
  EXPECT_EQ(ms.req("DELETE", path + "?holder=proxy-a").status, 404);
  // A crashed holder's lease expires.
  ASSERT_EQ(lease("proxy-c", 300).status, 201);
  EXPECT_EQ(lease("proxy-d", 60000).status, 409);
  EXPECT_TRUE(test::wait_until([&] { return lease("proxy-d", 60000).status == 201; }, 10s));

  EXPECT_EQ(ms.req("POST", path, "{").status, 400);
  EXPECT_EQ(ms.req("POST", path, R"({"holder":"x","ttl_ms":0})").status, 400);
  EXPECT_EQ(ms.req("POST", path, R"({"holder":"x","ttl_ms":99999999})").status, 400);
  EXPECT_EQ(ms.req("POST", "/v1/leases/nope", to_json(LeaseRequest{"x", 10})).status, 400);
  EXPECT_EQ(ms.req("DELETE", path).status, 400);
}

TEST(Metastore, NodesExpireAfterTheirTtl) {
  test::RedisServer redis;
  Metastore ms(redis.url());
  NodeInfo n;
  n.role = "seeder";
  n.control_url = "http://127.0.0.1:7880";
  n.swarms = {std::string(40, 'a')};
  n.info_json = R"({"uploaded":123})";
  n.ttl_ms = 1000;
  EXPECT_EQ(ms.req("PUT", "/v1/nodes/seeder-1", to_json(n), {}, false).status, 401);
  auto put = ms.req("PUT", "/v1/nodes/seeder-1", to_json(n));
  ASSERT_EQ(put.status, 200) << put.body;
  n.ttl_ms = 600000;
  ASSERT_EQ(ms.req("PUT", "/v1/nodes/leecher-1", to_json(n)).status, 200);
  auto list = node_list_from_json(ms.req("GET", "/v1/nodes", "", {}, false).body);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->nodes.size(), 2u);
  bool found = false;
  for (auto& node : list->nodes) {
    if (node.id != "seeder-1") continue;
    found = true;
    EXPECT_EQ(node.role, "seeder");
    EXPECT_EQ(node.swarms.size(), 1u);
    EXPECT_EQ(node.info_json, R"({"uploaded":123})");
    EXPECT_GT(node.last_seen, 0);
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(test::wait_until(
      [&] {
        auto l = node_list_from_json(ms.req("GET", "/v1/nodes", "", {}, false).body);
        return l && l->nodes.size() == 1 && l->nodes[0].id == "leecher-1";
      },
      10s));
  EXPECT_EQ(ms.req("PUT", "/v1/nodes/bad%20id", to_json(n)).status, 400);
  EXPECT_EQ(ms.req("PUT", "/v1/nodes/x", R"({"swarms":"no"})").status, 400);
  EXPECT_EQ(ms.req("PUT", "/v1/nodes/x", R"({"ttl_ms":5})").status, 400);
}

TEST(Metastore, RedisDownFailsFastAndRecovers) {
  test::RedisServer redis({"--appendonly", "yes", "--appendfsync", "always"});
  Metastore ms(redis.url());
  std::string t = make_torrent("persist");
  ASSERT_EQ(ms.put("files/persist", t).status, 201);
  redis.stop();
  auto t0 = std::chrono::steady_clock::now();
  auto down = ms.req("GET", "/v1/torrents/files/persist", "", {}, false);
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(error_code(down), "unavailable");
  EXPECT_EQ(ms.put("files/other", make_torrent("other")).status, 503);
  EXPECT_EQ(ms.req("GET", "/readyz", "", {}, false).status, 503);
  EXPECT_EQ(ms.req("GET", "/healthz", "", {}, false).status, 200);
  // "Fast": well under the 15 s client timeout even for three requests (no hang).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  redis.restart();
  EXPECT_TRUE(test::wait_until([&] { return ms.req("GET", "/readyz", "", {}, false).status == 200; }, 10s));
  // Each worker thread's connection comes back on its own back-off (at most 2 s), and a new
  // connection may land on any worker: wait for the data path, then check nothing was lost.
  HttpResult back;
  EXPECT_TRUE(test::wait_until([&] {
    back = ms.req("GET", "/v1/torrents/files/persist", "", {}, false);
    return back.status == 200;
  }, 10s));
  EXPECT_EQ(back.body, t);
  EXPECT_TRUE(test::wait_until([&] { return ms.put("files/other", make_torrent("other")).status == 201; }, 10s));
  // The outage is logged once for the whole service (not per connection or retry), with its
  // reason, and so is its end.
  std::string log;
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  };
  // Each connection (one per HTTP thread) reconnects on its own back-off.
  EXPECT_TRUE(test::wait_until(
      [&] {
        log = ms.proc().output();
        return count("msg=\"redis back up\"") > 0;
      },
      10s));
  EXPECT_EQ(count("msg=\"redis down\""), 1u) << log;
  EXPECT_NE(log.find("error=\"connection lost"), std::string::npos) << log;
  EXPECT_EQ(count("msg=\"redis back up\""), 1u) << log;
}

TEST(Metastore, AppendOnlyRestartOfBothLosesNothing) {
  test::RedisServer redis({"--appendonly", "yes", "--appendfsync", "always"});
  std::vector<std::pair<std::string, std::string>> stored;
  {
    Metastore ms(redis.url());
    for (int i = 0; i < 50; ++i) {
      std::string name = "f" + std::to_string(i);
      std::string t = make_torrent(name);
      ASSERT_EQ(ms.put("files/" + name, t).status, 201);
      stored.emplace_back("files/" + name, t);
    }
    ASSERT_TRUE(ms.proc().stop(SIGTERM));
  }
  redis.stop();
  redis.restart();
  Metastore ms(redis.url());
  for (auto& [key, t] : stored) {
    auto r = ms.req("GET", "/v1/torrents/" + key, "", {}, false);
    ASSERT_EQ(r.status, 200) << key;
    EXPECT_EQ(r.body, t);
  }
  auto events = events_page_from_json(ms.req("GET", "/v1/events?after=0", "", {}, false).body);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->events.size(), 50u);
}

TEST(Metastore, GcByAgeAndByCountEmitsDeletes) {
  test::RedisServer redis;
  {
    Metastore ms(redis.url(), "gc:\n  max_age: 1s\n  interval: 100ms\n");
    ASSERT_EQ(ms.put("files/old", make_torrent("old")).status, 201);
    // Polled through the listing: a GET would count as an access and keep it alive.
    EXPECT_TRUE(test::wait_until(
        [&] {
          auto p = torrent_page_from_json(ms.req("GET", "/v1/torrents?prefix=files%2Fold", "", {}, false).body);
          return p && p->items.empty();
        },
        10s));
    EXPECT_EQ(ms.req("GET", "/v1/torrents/files/old", "", {}, false).status, 404);
    auto ev = events_page_from_json(ms.req("GET", "/v1/events?after=0", "", {}, false).body);
    ASSERT_TRUE(ev);
    ASSERT_EQ(ev->events.size(), 2u);
    EXPECT_EQ(ev->events[1].type, "delete");
    EXPECT_EQ(ev->events[1].key, "files/old");
    EXPECT_NE(ms.req("GET", "/metrics", "", {}, false).body.find("swarmcache_metastore_gc_deleted_total 1"), std::string::npos);
  }
  Metastore ms(redis.url(), "gc:\n  max_count: 2\n  interval: 100ms\n");
  // Registered oldest first; the GC keeps the two most recently accessed.
  for (const char* n : {"c1", "c2", "c3", "c4"}) ASSERT_EQ(ms.put(std::string("files/") + n, make_torrent(n)).status, 201);
  EXPECT_TRUE(test::wait_until(
      [&] {
        auto p = torrent_page_from_json(ms.req("GET", "/v1/torrents?prefix=files%2Fc", "", {}, false).body);
        return p && p->items.size() == 2;
      },
      10s));
  EXPECT_EQ(ms.req("GET", "/v1/torrents/files/c4", "", {}, false).status, 200);
  EXPECT_EQ(ms.req("GET", "/v1/torrents/files/c1", "", {}, false).status, 404);
}

TEST(Metastore, ReadsCanRequireAToken) {
  test::RedisServer redis;
  Metastore ms(redis.url(), "auth:\n  read_requires_token: true\n");
  ASSERT_EQ(ms.put("files/a", make_torrent("a")).status, 201);
  EXPECT_EQ(ms.req("GET", "/v1/torrents/files/a", "", {}, false).status, 401);
  EXPECT_EQ(ms.req("GET", "/v1/torrents", "", {}, false).status, 401);
  EXPECT_EQ(ms.req("GET", "/v1/torrents/files/a").status, 200);
  EXPECT_EQ(ms.req("GET", "/healthz", "", {}, false).status, 200);
}

// Socket activation as systemd does it (systemd-socket-activate passes a socket named
// "http"), configuration from SWARMCACHE_* variables, READY=1 and STOPPING=1 on NOTIFY_SOCKET.
TEST(Metastore, SystemdSocketActivationNotifyAndEnvironment) {
  test::RedisServer redis;
  test::TempDir dir;
  std::string notify_path = dir.file("notify");
  int ns = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", notify_path.c_str());
  ASSERT_EQ(bind(ns, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string notes;
  auto read_notes = [&](const std::string& want) {
    return test::wait_until(
        [&] {
          char buf[4096];
          pollfd p{ns, POLLIN, 0};
          while (poll(&p, 1, 0) == 1) {
            ssize_t n = recv(ns, buf, sizeof buf, 0);
            if (n <= 0) break;
            notes.append(buf, n);
            notes += '\n';
          }
          return notes.find(want) != std::string::npos;
        },
        10s);
  };

  int port = test::free_port();
  std::ofstream(dir.file("tokens")) << kToken << "\n";
  test::Process proc({"systemd-socket-activate", "-l", "127.0.0.1:" + std::to_string(port), "--fdname=http", "-E",
                      "NOTIFY_SOCKET=" + notify_path, "-E", "SWARMCACHE_REDIS=" + redis.url(), "-E",
                      "SWARMCACHE_AUTH_TOKENS=" + dir.file("tokens"),
                      test::build_path("services/metastore/swarmcache-metastore"), "--listen", "127.0.0.1:1",
                      "--log-level", "warn"});
  // The first connection makes systemd-socket-activate exec the daemon on the passed socket.
  ASSERT_TRUE(test::wait_until([&] { return http_request(port, "GET", "/readyz", "", {}, 2s).status == 200; }, 15s))
      << proc.output();
  EXPECT_TRUE(read_notes("READY=1")) << notes;
  std::map<std::string, std::string> auth{{"Authorization", std::string("Bearer ") + kToken}};
  EXPECT_EQ(http_request(port, "PUT", "/v1/torrents/files/sd", make_torrent("sd"), auth).status, 201);
  EXPECT_EQ(http_request(port, "PUT", "/v1/torrents/files/sd2", make_torrent("sd2")).status, 401);
  auto status = proc.stop(SIGTERM);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << proc.output();
  EXPECT_TRUE(read_notes("STOPPING=1")) << notes;
  close(ns);
}

// Writes with a JWT (RS256) checked by common/core/jwt against a PEM key from the config.
// POST /v1/quarantine/{key}: the registration goes (with a delete event) and the infohash
// stays refused under that key, while another torrent may still be registered there.
TEST(Metastore, QuarantineRemovesAndRefusesTheTorrent) {
  test::RedisServer redis;
  Metastore ms(redis.url());
  std::string key = "sha256:" + std::string(64, 'a');
  std::string bad = make_torrent("bad"), good = make_torrent("good");
  std::string bad_ih = infohash_of(bad);
  ASSERT_EQ(ms.put(key, bad).status, 201);
  auto body = [](const std::string& ih) { return R"({"infohash":")" + ih + R"(","reason":"digest mismatch"})"; };
  auto post = [&](const std::string& k, const std::string& b, bool auth = true) {
    return ms.req("POST", "/v1/quarantine/" + k, b, {{"Content-Type", "application/json"}}, auth);
  };

  EXPECT_EQ(post(key, body(bad_ih), false).status, 401);
  EXPECT_EQ(ms.req("GET", "/v1/torrents/" + key, "", {}, false).status, 200);  // untouched by the refusal
  EXPECT_EQ(post(key, R"({"infohash":"xyz"})").status, 400);
  EXPECT_EQ(post(key, R"({"infohash":")" + std::string(39, 'a') + R"("})").status, 400);
  EXPECT_EQ(post(key, "not json").status, 400);
  EXPECT_EQ(post(key, R"({"reason":"no infohash"})").status, 400);
  EXPECT_EQ(post(key, R"({"infohash":")" + bad_ih + R"(","reason":")" + std::string(2000, 'r') + R"("})").status, 400);
  EXPECT_EQ(post(key, std::string(5000, ' ')).status, 413);
  EXPECT_EQ(post("files/../x", body(bad_ih)).status, 400);
  EXPECT_EQ(ms.req("GET", "/v1/quarantine/" + key, "", {}, false).status, 405);

  auto tip = events_page_from_json(ms.req("GET", "/v1/events?after=0", "", {}, false).body);
  ASSERT_TRUE(tip);
  // Another infohash than the one held: recorded, nothing removed.
  std::string other_ih = infohash_of(make_torrent("never-registered"));
  auto miss = post(key, body(other_ih));
  ASSERT_EQ(miss.status, 200) << miss.body;
  EXPECT_EQ(miss.body, R"({"removed":false})");
  EXPECT_EQ(ms.req("GET", "/v1/torrents/" + key, "", {}, false).status, 200);

  // Upper-case hex names the same torrent.
  std::string upper = bad_ih;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto hit = post(key, body(upper));
  ASSERT_EQ(hit.status, 200) << hit.body;
  EXPECT_EQ(hit.body, R"({"removed":true})");
  EXPECT_EQ(ms.req("GET", "/v1/torrents/" + key, "", {}, false).status, 404);
  auto after = events_page_from_json(ms.req("GET", "/v1/events?after=" + tip->last_id, "", {}, false).body);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->events.size(), 1u);
  EXPECT_EQ(after->events[0].type, "delete");
  EXPECT_EQ(after->events[0].key, key);
  EXPECT_EQ(after->events[0].infohash, bad_ih);
  EXPECT_EQ(post(key, body(bad_ih)).body, R"({"removed":false})");  // idempotent

  auto refused = ms.put(key, bad);
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(error_code(refused), "quarantined");
  EXPECT_EQ(ms.put("files/elsewhere", bad).status, 201);  // only under that key
  EXPECT_EQ(ms.put(key, good).status, 201);               // another torrent may take the key
  // The quarantine set of a key stays bounded: the oldest entries are forgotten first.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(post(key, body(infohash_of(make_torrent("q" + std::to_string(i))))).status, 200);
  }
  std::string qkey = "mt:q:" + key;
  EXPECT_NE(test::raw_exchange(redis.port(), "ZCARD " + qkey + "\r\n", 1s).find(":8\r\n"), std::string::npos);
  std::string pttl = test::raw_exchange(redis.port(), "PTTL " + qkey + "\r\n", 1s);
  ASSERT_TRUE(pttl.starts_with(":")) << pttl;
  EXPECT_GT(std::stoll(pttl.substr(1)), 29LL * 24 * 3600 * 1000);  // expires on its own (30 days)
  // Pushed out of the bounded set, the first bad torrent is accepted again under the key
  // once the key is free.
  ASSERT_EQ(ms.req("DELETE", "/v1/torrents/" + key).status, 204);
  EXPECT_EQ(ms.put(key, bad).status, 201);
}

// redis.wait_replicas: a write is acknowledged only once a replica has it (Redis WAIT).
TEST(Metastore, WaitReplicasAcknowledgesOnlyReplicatedWrites) {
  test::RedisServer master;
  Metastore ms(master.url(), "redis:\n  wait_replicas: 1\n");
  auto lonely = ms.put("files/lonely", make_torrent("lonely"));
  EXPECT_EQ(lonely.status, 503) << lonely.body;  // no replica to acknowledge it
  EXPECT_NE(lonely.body.find("replicas"), std::string::npos) << lonely.body;
  test::RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  // The replica's link is up before the master counts it: WAIT only counts a replica the
  // master sees online (after its first acknowledgement), so wait for the master's view.
  ASSERT_TRUE(test::wait_until(
      [&] {
        return test::raw_exchange(master.port(), "INFO replication\r\nQUIT\r\n", 2s).find(",state=online,") !=
               std::string::npos;
      },
      20s));
  // A loaded machine can still miss the 500 ms acknowledgement window right after the sync, so
  // a write under a fresh key is retried until one is acknowledged; each refusal still said
  // why (503), and the last one must be on the replica.
  int attempt = 0;
  std::string replicated_key;
  test::HttpResult ok;
  ASSERT_TRUE(test::wait_until(
      [&] {
        replicated_key = "files/replicated-" + std::to_string(attempt++);
        ok = ms.put(replicated_key, make_torrent("replicated"));
        EXPECT_TRUE(ok.status == 201 || ok.status == 503) << ok.body;
        return ok.status == 201;
      },
      20s))
      << ok.body;
  EXPECT_EQ(ms.put("files/lonely", make_torrent("lonely")).status, 200);  // it was on the master
  std::string on_replica = test::raw_exchange(replica.port(), "HGET mt:t:" + replicated_key + " infohash\r\nQUIT\r\n", 2s);
  EXPECT_NE(on_replica.find(infohash_of(make_torrent("replicated"))), std::string::npos) << on_replica;
}

// limits.max_torrent_bytes sets the HTTP body limit too (it used to stay at 1 MiB).
TEST(Metastore, BodyLimitFollowsMaxTorrentBytes) {
  test::RedisServer redis;
  Metastore ms(redis.url(), "limits:\n  max_torrent_bytes: 4M\n");
  std::string two_mb = make_torrent("two-mb", int64_t{16384} * 100'000);  // 2 MB of piece hashes
  ASSERT_GT(two_mb.size(), 1'900'000u);
  ASSERT_LT(two_mb.size(), 4u << 20);
  auto ok = ms.put("files/two-mb", two_mb);
  EXPECT_EQ(ok.status, 201) << ok.body;
  auto big = ms.put("files/five-mb", make_torrent("five-mb", int64_t{16384} * 250'000));  // 5 MB
  EXPECT_EQ(big.status, 413) << big.error;
  auto get = ms.req("GET", "/v1/torrents/files/two-mb", "", {}, false);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, two_mb);
}

TEST(Metastore, JwtBearerTokensMayWrite) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  test::TempDir dir;
  {
    FILE* f = std::fopen(dir.file("jwt.pem").c_str(), "w");
    ASSERT_NE(f, nullptr);
    PEM_write_PUBKEY(f, key);
    std::fclose(f);
  }
  auto sign = [&](const std::string& payload) {
    std::string input = base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url_encode(payload);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return input + "." + base64url_encode(sig);
  };
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string good = sign(R"({"iss":"swarmcache-test","exp":)" + std::to_string(now + 300) + "}");
  std::string expired = sign(R"({"iss":"swarmcache-test","exp":)" + std::to_string(now - 3600) + "}");
  std::string no_exp = sign(R"({"iss":"swarmcache-test"})");
  std::string wrong_iss = sign(R"({"iss":"someone-else","exp":)" + std::to_string(now + 300) + "}");
  EVP_PKEY_free(key);

  test::RedisServer redis;
  Metastore ms(redis.url(), "auth:\n  jwt:\n    keys_file: " + dir.file("jwt.pem") + "\n    issuer: swarmcache-test\n");
  auto put = [&](const std::string& token, const std::string& name) {
    return ms.req("PUT", "/v1/torrents/files/" + name, make_torrent(name),
                  {{"Authorization", "Bearer " + token}, {"Content-Type", "application/x-bittorrent"}}, false);
  };
  EXPECT_EQ(put(good, "jwt-ok").status, 201);
  EXPECT_EQ(put(expired, "jwt-expired").status, 401);
  EXPECT_EQ(put(wrong_iss, "jwt-iss").status, 401);
  EXPECT_EQ(put(good.substr(0, good.size() - 4) + "AAAA", "jwt-sig").status, 401);
  EXPECT_EQ(put(kToken, "static").status, 201);  // static tokens still work beside JWTs
  EXPECT_EQ(ms.req("PUT", "/v1/torrents/files/upper", make_torrent("upper"),
                   {{"Authorization", std::string("BEARER ") + kToken}, {"Content-Type", "application/x-bittorrent"}}, false)
                .status,
            201);  // the scheme is case-insensitive
  EXPECT_EQ(put(no_exp, "jwt-no-exp").status, 401);  // never expires: refused by default
  Metastore lax(redis.url(), "auth:\n  jwt:\n    keys_file: " + dir.file("jwt.pem") +
                                 "\n    issuer: swarmcache-test\n    require_exp: false\n");
  EXPECT_EQ(lax.req("PUT", "/v1/torrents/files/jwt-no-exp", make_torrent("jwt-no-exp"),
                    {{"Authorization", "Bearer " + no_exp}, {"Content-Type", "application/x-bittorrent"}}, false)
                .status,
            201);
}

}  // namespace
}  // namespace sc
