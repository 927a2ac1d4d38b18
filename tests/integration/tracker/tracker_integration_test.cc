// The real swarmcache-tracker binary on 127.0.0.1: announce/scrape over HTTP, /metrics,
// health endpoints, bad input (malformed queries, huge requests, a slow client that never
// finishes), SIGTERM drain, systemd socket activation with sd_notify, and two real aria2c
// BitTorrent clients that find each other only through the tracker.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "common/core/clock.h"
#include "common/core/sha.h"
#include "proto/announce.h"
#include "services/tracker/peer_store.h"
#include "tests/support/support.h"
#include "tests/support/jwt_test_keys.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

std::string tracker_bin() { return build_path("services/tracker/swarmcache-tracker"); }

struct Tracker {
  std::unique_ptr<Process> proc;
  int http = 0, admin = 0, udp = 0;

  explicit Tracker(const TempDir& dir, const std::string& extra_yaml = "", int threads = 2) {
    std::string cfg = dir.file("tracker.yaml");
    write_file(cfg, "announce_interval: 2s\nmin_announce_interval: 1s\n"
                    "metrics_addr: 127.0.0.1:0\n"
                    "http:\n  addr: 127.0.0.1:0\n  threads: " + std::to_string(threads) +
                    "\n  read_timeout: 1s\nudp:\n  addr: 127.0.0.1:0\n" + extra_yaml);
    proc = std::make_unique<Process>(std::vector<std::string>{tracker_bin(), "--config", cfg});
    http = proc->wait_for_number("http_port", 10s).value_or(0);
    admin = proc->wait_for_number("admin_port", 10s).value_or(0);
    udp = proc->wait_for_number("udp_port", 10s).value_or(0);
  }
};

std::string ih_of(char c) { return std::string(20, c); }

std::string announce_target(const std::string& ih, const std::string& peer_id, int port, int left,
                            const std::string& extra = "") {
  return "/announce?info_hash=" + percent_encode(ih) + "&peer_id=" + percent_encode(peer_id) +
         "&port=" + std::to_string(port) + "&uploaded=0&downloaded=0&left=" + std::to_string(left) + extra;
}

BValue decode_ok(const HttpResult& r) {
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  auto v = bdecode(r.body);
  EXPECT_TRUE(v) << r.body;
  return v ? *v : BValue{};
}

std::string failure_of(const HttpResult& r) {
  auto v = decode_ok(r);
  const BValue* f = v.find("failure reason");
  return f && f->is_str() ? f->as_str() : "<no failure reason in " + r.body + ">";
}

TEST(TrackerIntegration, AnnounceScrapeAndMetrics) {
  TempDir dir;
  Tracker t(dir);
  ASSERT_GT(t.http, 0) << t.proc->output();
  ASSERT_GT(t.admin, 0);

  auto v = decode_ok(http_request(t.http, "GET", announce_target(ih_of('a'), "-SC0001-seeder000001", 7001, 0, "&event=started")));
  EXPECT_EQ(v.find("complete")->as_int(), 1);
  EXPECT_EQ(v.find("peers")->as_str(), "");
  v = decode_ok(http_request(t.http, "GET", announce_target(ih_of('a'), "-SC0001-leecher00001", 7002, 100)));
  EXPECT_EQ(v.find("peers")->as_str(), std::string("\x7f\x00\x00\x01\x1b\x59", 6));  // 127.0.0.1:7001
  EXPECT_EQ(v.find("external ip")->as_str(), std::string("\x7f\x00\x00\x01", 4));
  EXPECT_EQ(v.find("interval")->as_int(), 2);
  v = decode_ok(http_request(t.http, "GET", announce_target(ih_of('a'), "-SC0001-leecher00001", 7002, 0, "&event=completed&compact=0&no_peer_id=1")));
  ASSERT_TRUE(v.find("peers")->is_list());

  v = decode_ok(http_request(t.http, "GET", "/scrape?info_hash=" + percent_encode(ih_of('a')) + "&info_hash=" + percent_encode(ih_of('b'))));
  const BValue* fa = v.find("files")->find(ih_of('a'));
  ASSERT_NE(fa, nullptr);
  EXPECT_EQ(fa->find("complete")->as_int(), 2);
  EXPECT_EQ(fa->find("downloaded")->as_int(), 1);
  EXPECT_EQ(v.find("files")->find(ih_of('b'))->find("complete")->as_int(), 0);

  EXPECT_EQ(failure_of(http_request(t.http, "GET", "/announce?info_hash=short")), "invalid info_hash: 5 bytes, want 20");

  auto m = http_request(t.admin, "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(metric(m.body, R"(swarmcache_tracker_requests_total{action="announce",af="ipv4",result="ok"})"), 3);
  EXPECT_EQ(metric(m.body, R"(swarmcache_tracker_requests_total{action="announce",af="ipv4",result="client_error"})"), 1);
  EXPECT_EQ(metric(m.body, R"(swarmcache_tracker_requests_total{action="scrape",af="ipv4",result="ok"})"), 1);
  EXPECT_EQ(metric(m.body, R"(swarmcache_tracker_request_duration_seconds_count{action="announce",af="ipv4"})"), 4);
  EXPECT_EQ(metric(m.body, "swarmcache_tracker_torrents"), 1);
  EXPECT_EQ(metric(m.body, "swarmcache_tracker_seeders"), 2);
  EXPECT_EQ(metric(m.body, "swarmcache_tracker_leechers"), 0);
  EXPECT_NE(m.body.find("swarmcache_tracker_gc_duration_seconds"), std::string::npos);
  EXPECT_EQ(http_request(t.admin, "GET", "/healthz").status, 200);
  EXPECT_EQ(http_request(t.admin, "GET", "/readyz").status, 200);

  auto status = t.proc->stop(SIGTERM, 10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << t.proc->output();
}

int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True when the server closes the connection (EOF or reset) before `deadline`.
bool closed_by_server(int fd, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  char buf[4096];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count());
    if (poll(&p, 1, std::max(left, 1)) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

TEST(TrackerIntegration, BadInput) {
  TempDir dir;
  Tracker t(dir, "", /*threads=*/1);
  ASSERT_GT(t.http, 0) << t.proc->output();
  const std::string good = announce_target(ih_of('a'), "-SC0001-abcdefghijkl", 7001, 0);

  EXPECT_EQ(failure_of(http_request(t.http, "GET", good + "&port=7")), "duplicate parameter: port");
  EXPECT_EQ(failure_of(http_request(t.http, "GET", "/announce?info_hash=" + percent_encode(ih_of('a')) + "&port=1&left=0")),
            "missing parameter: peer_id");
  EXPECT_EQ(failure_of(http_request(t.http, "GET", good + "&numwant=lots")), "invalid numwant: lots");
  EXPECT_EQ(failure_of(http_request(t.http, "GET", good + "&numwant=99999999999")), "invalid numwant: 99999999999 (max 1000000)");
  EXPECT_EQ(failure_of(http_request(t.http, "GET", good + "&key=%4")), "malformed percent-escape in a parameter value");
  EXPECT_EQ(failure_of(http_request(t.http, "GET", announce_target(ih_of('a'), "-SC0001-abcdefghijkl", 0, 0))), "invalid port: 0");
  std::string many = good;
  for (int i = 0; i < 100; ++i) many += "&x" + std::to_string(i) + "=" + std::to_string(i);
  EXPECT_EQ(failure_of(http_request(t.http, "GET", many)), "too many parameters (max 64)");
  EXPECT_EQ(failure_of(http_request(t.http, "GET", "/scrape")), "missing parameter: info_hash");

  // Oversized URI and a huge header set are refused at the HTTP layer.
  // Oversized query strings: refused by the HTTP layer (414) or, far beyond any limit, by
  // evhtp closing the connection (the client may see a reset while still sending).
  auto long_uri = http_request(t.http, "GET", good + "&pad=" + std::string(6000, 'a'));
  EXPECT_EQ(long_uri.status, 414) << long_uri.body;
  auto huge_uri = http_request(t.http, "GET", good + "&pad=" + std::string(100000, 'a'));
  EXPECT_TRUE(huge_uri.status == 0 || huge_uri.status == 414) << huge_uri.status;
  std::string oversized_query(5000, 'a');
  AnnounceRequest parsed;
  EXPECT_EQ(parse_announce(oversized_query, parsed).error().message, "query string too long (max 4096 bytes)");
  std::map<std::string, std::string> headers;
  for (int i = 0; i < 300; ++i) headers["X-Junk-" + std::to_string(i)] = "v";
  auto r = http_request(t.http, "GET", good, "", headers);
  EXPECT_TRUE(r.status == 0 || (r.status >= 400 && r.status < 500)) << r.status;
  EXPECT_EQ(http_request(t.http, "GET", "/nope").status, 404);

  // A slow client that never finishes its request: with one worker thread, other clients are
  // still served, and the slow one is cut off by the read timeout (1s here).
  int slow = connect_loopback(t.http);
  ASSERT_GE(slow, 0);
  std::string partial = "GET " + good + " HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  ASSERT_EQ(send(slow, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
  auto v = decode_ok(http_request(t.http, "GET", good));
  EXPECT_NE(v.find("complete"), nullptr);
  EXPECT_TRUE(closed_by_server(slow, 15s)) << "the slow client was never cut off";
  close(slow);
  // And a client that connects and sends nothing at all.
  int idle = connect_loopback(t.http);
  ASSERT_GE(idle, 0);
  EXPECT_TRUE(closed_by_server(idle, 15s));
  close(idle);

  // Still healthy afterwards.
  v = decode_ok(http_request(t.http, "GET", good));
  EXPECT_NE(v.find("complete"), nullptr);
  EXPECT_TRUE(t.proc->running());
}

TEST(TrackerIntegration, ChihayaV2ConfigStartsUnchanged) {
  TempDir dir;
  std::string cfg = dir.file("chihaya.yaml");
  // Quay's documented v2.0 config, with the addresses moved to free ports.
  write_file(cfg, "chihaya:\n  announce_interval: 15m\n  prometheus_addr: 127.0.0.1:0\n"
                  "  http:\n    addr: 127.0.0.1:0\n    allow_ip_spoofing: true\n    real_ip_header: X-Forwarded-For\n"
                  "    read_timeout: 5s\n    write_timeout: 5s\n    request_timeout: 5s\n"
                  "  storage:\n    gc_interval: 14m\n    peer_lifetime: 15m\n    shards: 16\n    max_numwant: 50\n");
  Process p({tracker_bin(), "--config", cfg}, {{"SWARMCACHE_UDP_LISTEN", "127.0.0.1:0"}});
  int http = p.wait_for_number("http_port", 10s).value_or(0);
  ASSERT_GT(http, 0) << p.output();
  auto v = decode_ok(http_request(http, "GET", announce_target(ih_of('q'), "-SC0001-abcdefghijkl", 7001, 0, "&ip=192.0.2.33")));
  EXPECT_EQ(v.find("interval")->as_int(), 900);
  EXPECT_EQ(v.find("external ip")->as_str(), std::string("\xc0\x00\x02\x21", 4));  // allow_ip_spoofing
  EXPECT_NE(p.output().find("real_ip_header is ignored until http.trusted_proxies"), std::string::npos);
}

TEST(TrackerIntegration, UnknownKeysAreNamedInAWarning) {
  TempDir dir;
  std::string cfg = dir.file("t.yaml");
  write_file(cfg, "metrics_addr: 127.0.0.1:0\nudp:\n  addr: \"\"\nhttp:\n  addr: 127.0.0.1:0\n  enable_keepalive: true\nwhatever_this_is: 3\n");
  Process p({tracker_bin(), "--config", cfg});
  ASSERT_TRUE(p.wait_for_number("http_port", 10s)) << p.output();
  EXPECT_NE(p.output().find("http.enable_keepalive"), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("whatever_this_is"), std::string::npos) << p.output();
}

// A tiny BEP 15 client over a UDP socket on 127.0.0.1.
struct UdpClient {
  int fd = -1;
  int port;
  explicit UdpClient(int p) : port(p) { fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }
  ~UdpClient() { close(fd); }
  void send_bytes(const std::string& b) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sendto(fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  // The next datagram, or "" after the deadline.
  std::string recv_bytes(std::chrono::milliseconds deadline = 5s) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(deadline.count())) <= 0) return "";
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  static void u32(std::string& s, uint32_t v) {
    for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  }
  static void u64(std::string& s, uint64_t v) {
    u32(s, static_cast<uint32_t>(v >> 32));
    u32(s, static_cast<uint32_t>(v));
  }
  static uint32_t get32(const std::string& s, size_t at) {
    return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 |
           uint8_t(s[at + 3]);
  }
  uint64_t connect_id() {
    std::string p;
    u64(p, 0x41727101980ULL);
    u32(p, 0);
    u32(p, 1234);
    send_bytes(p);
    std::string r = recv_bytes();
    EXPECT_EQ(r.size(), 16u);
    if (r.size() < 16) return 0;
    EXPECT_EQ(get32(r, 0), 0u);
    EXPECT_EQ(get32(r, 4), 1234u);
    return uint64_t(get32(r, 8)) << 32 | get32(r, 12);
  }
  static std::string announce_packet(uint64_t cid, uint32_t txid, char torrent, char peer, uint64_t left, uint32_t event,
                                     uint16_t port, const std::string& url_data = "") {
    std::string p;
    u64(p, cid);
    u32(p, 1);
    u32(p, txid);
    p += std::string(20, torrent);
    p += std::string(20, peer);
    u64(p, 0);
    u64(p, left);
    u64(p, 0);
    u32(p, event);
    u32(p, 0);
    u32(p, 0);
    u32(p, 0xffffffff);
    p.push_back(static_cast<char>(port >> 8));
    p.push_back(static_cast<char>(port));
    for (size_t i = 0; i < url_data.size(); i += 255) {
      std::string chunk = url_data.substr(i, 255);
      p.push_back(2);
      p.push_back(static_cast<char>(chunk.size()));
      p += chunk;
    }
    return p;
  }
};

TEST(TrackerIntegration, UdpConnectAnnounceScrape) {
  TempDir dir;
  Tracker t(dir);
  ASSERT_GT(t.udp, 0) << t.proc->output();
  UdpClient seeder(t.udp), leecher(t.udp);
  uint64_t cid = seeder.connect_id();
  seeder.send_bytes(UdpClient::announce_packet(cid, 7, 'u', 's', 0, 2, 7001));
  std::string r = seeder.recv_bytes();
  ASSERT_EQ(r.size(), 20u);
  EXPECT_EQ(UdpClient::get32(r, 0), 1u);
  EXPECT_EQ(UdpClient::get32(r, 4), 7u);
  EXPECT_EQ(UdpClient::get32(r, 8), 2u);   // interval
  EXPECT_EQ(UdpClient::get32(r, 12), 0u);  // leechers
  EXPECT_EQ(UdpClient::get32(r, 16), 1u);  // seeders

  // Another socket on the same address may reuse the id (it is bound to the address).
  leecher.send_bytes(UdpClient::announce_packet(cid, 8, 'u', 'l', 100, 2, 7002, "/announce?jwt=x.y.z"));
  r = leecher.recv_bytes();
  ASSERT_EQ(r.size(), 26u);
  EXPECT_EQ(r.substr(20), std::string("\x7f\x00\x00\x01\x1b\x59", 6));
  // The HTTP side shares the swarm.
  auto v = decode_ok(http_request(t.http, "GET", announce_target(ih_of('u'), "-SC0001-abcdefghijkl", 7003, 5)));
  EXPECT_EQ(v.find("complete")->as_int(), 1);
  EXPECT_EQ(v.find("incomplete")->as_int(), 2);

  std::string scrape;
  UdpClient::u64(scrape, cid);
  UdpClient::u32(scrape, 2);
  UdpClient::u32(scrape, 9);
  scrape += std::string(20, 'u') + std::string(20, 'z');
  leecher.send_bytes(scrape);
  r = leecher.recv_bytes();
  ASSERT_EQ(r.size(), 8u + 24u);
  EXPECT_EQ(UdpClient::get32(r, 8), 1u);   // seeders of 'u'
  EXPECT_EQ(UdpClient::get32(r, 16), 2u);  // leechers of 'u'
  EXPECT_EQ(UdpClient::get32(r, 20), 0u);  // 'z' unknown

  // A forged connection id gets an error packet; a truncated datagram is dropped.
  leecher.send_bytes(UdpClient::announce_packet(cid ^ 0xff, 10, 'u', 'l', 100, 0, 7002));
  r = leecher.recv_bytes();
  ASSERT_GE(r.size(), 8u);
  EXPECT_EQ(UdpClient::get32(r, 0), 3u);
  EXPECT_EQ(UdpClient::get32(r, 4), 10u);
  EXPECT_EQ(r.substr(8), "invalid or expired connection id");
  leecher.send_bytes("short");
  leecher.send_bytes(UdpClient::announce_packet(cid, 11, 'u', 'l', 100, 0, 0));
  r = leecher.recv_bytes();
  ASSERT_GE(r.size(), 8u);
  EXPECT_EQ(UdpClient::get32(r, 4), 11u) << "the truncated datagram must not be answered";
  EXPECT_EQ(r.substr(8), "invalid port: 0");

  auto m = http_request(t.admin, "GET", "/metrics").body;
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="connect"})"), 1);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="bad_connection_id"})"), 1);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="dropped"})"), 1);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="malformed"})"), 1);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_requests_total{action="scrape",af="ipv4",result="ok"})"), 1);
}

// storage.max_swarms bounds the swarms random info hashes can create: the next new one is
// refused with a clear reason and counted, existing swarms keep working.
TEST(TrackerIntegration, MaxSwarmsRefusesNewInfoHashes) {
  TempDir dir;
  Tracker t(dir, "storage:\n  max_swarms: 1\n");
  ASSERT_GT(t.http, 0) << t.proc->output();
  decode_ok(http_request(t.http, "GET", announce_target(ih_of('a'), "-SC0001-aaaaaaaaaaaa", 7001, 0)));
  auto r = http_request(t.http, "GET", announce_target(ih_of('b'), "-SC0001-bbbbbbbbbbbb", 7002, 5));
  EXPECT_EQ(failure_of(r), kSwarmLimitReason);
  auto v = decode_ok(http_request(t.http, "GET", announce_target(ih_of('a'), "-SC0001-cccccccccccc", 7003, 5)));
  EXPECT_EQ(v.find("complete")->as_int(), 1);
  auto m = http_request(t.admin, "GET", "/metrics").body;
  EXPECT_EQ(metric(m, "swarmcache_tracker_swarm_limit_refusals"), 1);
  EXPECT_EQ(metric(m, "swarmcache_tracker_max_swarms"), 1);
  EXPECT_EQ(metric(m, "swarmcache_tracker_torrents"), 1);
}

// Before a connection id proves the source address, nothing is answered with more bytes than
// the datagram carried: a forged source must not turn the tracker into an amplifier.
TEST(TrackerIntegration, UdpNeverAmplifiesBeforeTheConnectionIdIsChecked) {
  TempDir dir;
  Tracker t(dir, "  max_scrape_infohashes: 2\n");
  ASSERT_GT(t.udp, 0) << t.proc->output();
  UdpClient c(t.udp);
  auto header = [](uint64_t cid, uint32_t action, uint32_t txid) {
    std::string p;
    UdpClient::u64(p, cid);
    UdpClient::u32(p, action);
    UdpClient::u32(p, txid);
    return p;
  };
  // Each of these used to get an error packet larger than itself (16 bytes in, up to 58 out).
  c.send_bytes(header(0x41727101980ULL, 9, 1));    // unknown action, no valid id
  c.send_bytes(header(0x1234, 1, 2));              // a bare header claiming an announce
  c.send_bytes(header(0x1234, 2, 3));              // a scrape without hashes
  c.send_bytes(header(0x1234, 0, 4));              // a connect with a wrong protocol id
  c.send_bytes(header(0x1234, 2, 5) + std::string(20, 's'));  // a scrape with a forged id
  // A valid connect is answered, 16 bytes for 16, and proves nothing above was answered.
  uint64_t cid = c.connect_id();
  ASSERT_NE(cid, 0u);
  // A forged id on a full-sized announce gets an error no larger than the request.
  std::string forged = UdpClient::announce_packet(cid ^ 1, 6, 'u', 'l', 100, 0, 7002);
  c.send_bytes(forged);
  std::string r = c.recv_bytes();
  ASSERT_GE(r.size(), 8u);
  EXPECT_LE(r.size(), forged.size());
  EXPECT_EQ(UdpClient::get32(r, 0), 3u);
  EXPECT_EQ(UdpClient::get32(r, 4), 6u);

  // With a valid id, the UDP scrape honours max_scrape_infohashes (HTTP's rule: the first N).
  std::string scrape = header(cid, 2, 7) + std::string(20, 'a') + std::string(20, 'b') + std::string(20, 'c');
  c.send_bytes(scrape);
  r = c.recv_bytes();
  EXPECT_EQ(r.size(), 8u + 2 * 12u) << "three hashes asked, max_scrape_infohashes is 2";
  EXPECT_EQ(UdpClient::get32(r, 4), 7u);

  auto m = http_request(t.admin, "GET", "/metrics").body;
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="bad_connection_id"})"), 5);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="dropped"})"), 1);
}

// A Unix datagram socket standing in for systemd's notify socket.
struct NotifySocket {
  int fd = -1;
  std::string path;
  explicit NotifySocket(const std::string& p) : path(p) {
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~NotifySocket() {
    close(fd);
    unlink(path.c_str());
  }
  // Reads datagrams until one contains `what`, or the deadline passes.
  bool wait_for(const std::string& what, std::chrono::milliseconds deadline) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0 && std::string(buf, static_cast<size_t>(n)).find(what) != std::string::npos) return true;
    }
    return false;
  }
};

TEST(TrackerIntegration, SystemdSocketActivation) {
  TempDir dir;
  NotifySocket notify(dir.file("notify.sock"));
  ASSERT_GE(notify.fd, 0);
  int http = free_port(), admin = free_port();
  // Configured addresses that cannot be bound prove the passed sockets replace them.
  Process p({"systemd-socket-activate", "-l", "127.0.0.1:" + std::to_string(http), "-l",
             "127.0.0.1:" + std::to_string(admin), "--fdname=http:admin", "-E", "NOTIFY_SOCKET=" + notify.path,
             tracker_bin(), "--http-listen", "192.0.2.1:1", "--admin-listen", "192.0.2.1:2", "--udp-listen", "127.0.0.1:0"});
  // systemd-socket-activate starts the daemon on the first connection.
  ASSERT_TRUE(wait_until([&] { return p.output().find("Listening on") != std::string::npos; }, 10s)) << p.output();
  auto v = decode_ok(http_request(http, "GET", announce_target(ih_of('s'), "-SC0001-abcdefghijkl", 7001, 0)));
  EXPECT_EQ(v.find("complete")->as_int(), 1);
  EXPECT_TRUE(notify.wait_for("READY=1", 10s));
  EXPECT_NE(p.output().find("http_adopted=true"), std::string::npos) << p.output();
  auto m = http_request(admin, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(metric(m.body, "swarmcache_tracker_seeders"), 1);
  auto status = p.stop(SIGTERM, 10s);
  EXPECT_TRUE(notify.wait_for("STOPPING=1", 5s));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << p.output();
}

// Makes a 2 MiB payload and a v1 torrent for it with mktorrent; returns the torrent's bytes.
std::string make_payload_torrent(const TempDir& dir, const std::string& seed_dir, std::string& data) {
  std::filesystem::create_directories(seed_dir);
  data.assign(2 << 20, '\0');
  std::mt19937_64 rng(42);
  for (auto& c : data) c = static_cast<char>(rng());
  write_file(seed_dir + "/payload.bin", data);
  std::string torrent = dir.file("made.torrent");
  Process mk({"mktorrent", "-a", "http://placeholder/announce", "-l", "16", "-o", torrent, seed_dir + "/payload.bin"});
  auto st = mk.stop(0, 30s);  // signal 0 only waits for it to finish
  EXPECT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << mk.output();
  return read_file(torrent);
}

std::string info_hash_hex(const std::string& torrent) {
  auto v = bdecode(torrent);
  if (!v || !v->find("info")) return "";
  const BValue* info = v->find("info");
  auto d = sha1(std::string_view(torrent).substr(info->begin, info->end - info->begin));
  return to_hex(std::span<const uint8_t>(d.data(), d.size()));
}

// The same torrent with another announce URL (the info dict, hence the info hash, unchanged).
std::string with_announce(const std::string& torrent, const std::string& url) {
  auto v = bdecode(torrent);
  EXPECT_TRUE(v);
  auto& dict = std::get<BDict>(v->v);
  for (auto& [k, val] : dict)
    if (k == "announce") val = BValue{std::string(url)};
  return bencode(*v);
}

// Two aria2c processes, a seeder and a leecher, that can only find each other through the
// tracker named in the torrent; returns once the leecher has the whole payload.
void aria2_swarm(const Tracker& t, const TempDir& dir, const std::string& torrent_bytes, const std::string& seed_dir,
                 const std::string& data, bool udp = false) {
  std::string torrent = dir.file("payload.torrent");
  write_file(torrent, torrent_bytes);
  std::string leech_dir = dir.file("leech");
  std::filesystem::create_directories(leech_dir);
  std::vector<std::string> common = {"aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                                     "--enable-peer-exchange=false", "--summary-interval=0", "--console-log-level=warn",
                                     "--follow-torrent=false", "--file-allocation=none"};
  auto with = [&](std::vector<std::string> extra) {
    auto v = common;
    if (udp) {
      // aria2 speaks to UDP trackers through its DHT socket only; with no bootstrap node the
      // DHT finds nobody, so the tracker is still the only way in.
      v[1] = "--enable-dht=true";
      v.push_back("--dht-listen-port=" + std::to_string(free_port()));
      v.push_back("--dht-file-path=" + dir.file("dht-" + std::to_string(free_port()) + ".dat"));
    }
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  Process seeder(with({"--listen-port=" + std::to_string(free_port()), "-d", seed_dir, "--bt-seed-unverified=true",
                       "--seed-ratio=0.0", torrent}));
  // Wait until the tracker knows the seeder, so the leecher's first announce returns it.
  ASSERT_TRUE(wait_until([&] { return metric(http_request(t.admin, "GET", "/metrics").body, "swarmcache_tracker_seeders") == 1; },
                         30s))
      << seeder.output() << t.proc->output();
  Process leecher(with({"--listen-port=" + std::to_string(free_port()), "-d", leech_dir, "--seed-time=0", torrent}));
  ASSERT_TRUE(wait_until([&] { return !leecher.running(); }, 90s)) << leecher.output();
  auto st = leecher.stop(SIGTERM, 1s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << leecher.output();
  EXPECT_EQ(read_file(leech_dir + "/payload.bin"), data);
}

TEST(TrackerIntegration, Aria2cPeersFindEachOtherOverHttp) {
  TempDir dir;
  Tracker t(dir);
  ASSERT_GT(t.http, 0) << t.proc->output();
  std::string data, seed_dir = dir.file("seed");
  std::string torrent = make_payload_torrent(dir, seed_dir, data);
  aria2_swarm(t, dir, with_announce(torrent, "http://127.0.0.1:" + std::to_string(t.http) + "/announce"), seed_dir, data);
  auto m = http_request(t.admin, "GET", "/metrics");
  EXPECT_GE(metric(m.body, R"(swarmcache_tracker_requests_total{action="announce",af="ipv4",result="ok"})"), 2);
}

TEST(TrackerIntegration, Aria2cPeersFindEachOtherOverUdp) {
  TempDir dir;
  Tracker t(dir);
  ASSERT_GT(t.udp, 0) << t.proc->output();
  std::string data, seed_dir = dir.file("seed");
  std::string torrent = make_payload_torrent(dir, seed_dir, data);
  aria2_swarm(t, dir, with_announce(torrent, "udp://127.0.0.1:" + std::to_string(t.udp) + "/announce"), seed_dir, data,
              /*udp=*/true);
  auto m = http_request(t.admin, "GET", "/metrics").body;
  EXPECT_GE(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="announce"})"), 2);
  EXPECT_GE(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="connect"})"), 1);
}

TEST(TrackerIntegration, Aria2cWithJwtProtectedAnnounceUrl) {
  TempDir dir;
  jwt_test::Key key(jwt_test::Key::Type::rsa, "quay-1");
  std::string jwks = dir.file("jwks.json");
  write_file(jwks, jwt_test::jwks_of({&key}));
  Tracker t(dir, "prehooks:\n  - name: jwt\n    options:\n      issuer: https://quay.example\n      audience: swarm\n"
                 "      jwk_set_file: " + jwks + "\n");
  ASSERT_GT(t.http, 0) << t.proc->output();
  std::string data, seed_dir = dir.file("seed");
  std::string torrent = make_payload_torrent(dir, seed_dir, data);
  std::string ih = info_hash_hex(torrent);
  ASSERT_EQ(ih.size(), 40u);
  std::string token = key.sign(R"({"iss":"https://quay.example","aud":"swarm","exp":)" +
                               std::to_string(system_now_ms() / 1000 + 3600) + R"(,"infohash":")" + ih + R"("})");
  std::string base = "http://127.0.0.1:" + std::to_string(t.http) + "/announce";
  // Without the token the tracker refuses.
  EXPECT_EQ(failure_of(http_request(t.http, "GET", announce_target(*from_hex(ih), "-SC0001-abcdefghijkl", 7001, 0))),
            "missing jwt parameter");
  aria2_swarm(t, dir, with_announce(torrent, base + "?jwt=" + token), seed_dir, data);
  auto m = http_request(t.admin, "GET", "/metrics").body;
  EXPECT_GE(metric(m, R"(swarmcache_tracker_requests_total{action="announce",af="ipv4",result="ok"})"), 2);
  EXPECT_EQ(metric(m, R"(swarmcache_tracker_jwt_refusals_total{reason="missing"})"), 1);
}

}  // namespace
}  // namespace sc::test
