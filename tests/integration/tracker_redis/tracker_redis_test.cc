// Two real swarmcache-tracker processes on one real redis-server (storage.name: redis): a peer
// announced to one is returned by the other, over HTTP and over UDP; the store gauges in
// /metrics are the cluster's; Redis going away makes /readyz fail and announces answer a
// failure reason; Redis back on the same port, both trackers serve again without a restart.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "tests/support/support.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

struct Tracker {
  std::unique_ptr<Process> proc;
  int http = 0, admin = 0, udp = 0;

  Tracker(const TempDir& dir, const std::string& name, const RedisServer& redis) {
    std::string cfg = dir.file(name + ".yaml");
    // Chihaya's dialect for the store, as an existing chihaya.yaml with redis storage has it.
    write_file(cfg, "chihaya:\n"
                    "  announce_interval: 2s\n  min_announce_interval: 1s\n  metrics_addr: 127.0.0.1:0\n"
                    "  http:\n    addr: 127.0.0.1:0\n    threads: 2\n  udp:\n    addr: 127.0.0.1:0\n"
                    "  storage:\n"
                    "    name: redis\n"
                    "    config:\n"
                    "      gc_interval: 1s\n"
                    "      peer_lifetime: 1m\n"
                    "      redis_broker: " + redis.url() + "\n"
                    "      redis_read_timeout: 1s\n"
                    "      redis_write_timeout: 1s\n"
                    "      redis_connect_timeout: 1s\n");
    proc = std::make_unique<Process>(
        std::vector<std::string>{build_path("services/tracker/swarmcache-tracker"), "--config", cfg});
    http = proc->wait_for_number("http_port", 10s).value_or(0);
    admin = proc->wait_for_number("admin_port", 10s).value_or(0);
    udp = proc->wait_for_number("udp_port", 10s).value_or(0);
  }
  int readyz() { return http_request(admin, "GET", "/readyz", "", {}, 2s).status; }
  std::string metrics() { return http_request(admin, "GET", "/metrics").body; }
};

std::string ih_of(char c) { return std::string(20, c); }

std::string announce_target(const std::string& ih, int peer, int port, int left, const std::string& extra = "") {
  std::string pid = "-SC0001-" + std::string(12 - std::to_string(peer).size(), '0') + std::to_string(peer);
  return "/announce?info_hash=" + percent_encode(ih) + "&peer_id=" + percent_encode(pid) +
         "&port=" + std::to_string(port) + "&uploaded=0&downloaded=0&left=" + std::to_string(left) + extra;
}

BValue get(int port, const std::string& target) {
  auto r = http_request(port, "GET", target);
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  auto v = bdecode(r.body);
  EXPECT_TRUE(v) << r.body;
  return v ? *v : BValue{};
}

std::string failure_of(const BValue& v) {
  const BValue* f = v.find("failure reason");
  return f && f->is_str() ? f->as_str() : "";
}

std::string peers_of(const BValue& v) {
  const BValue* p = v.find("peers");
  return p && p->is_str() ? p->as_str() : "<no peers>";
}

std::string loopback(uint16_t port) {
  return std::string("\x7f\x00\x00\x01", 4) + static_cast<char>(port >> 8) + static_cast<char>(port & 0xff);
}

// A minimal BEP 15 client on 127.0.0.1.
struct UdpClient {
  int fd;
  int port;
  explicit UdpClient(int p) : fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)), port(p) {}
  ~UdpClient() { close(fd); }
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
  std::string exchange(const std::string& packet) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return "";
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  // Connects, then announces as a leecher; returns the announce response datagram.
  std::string announce(char torrent, uint16_t peer_port) {
    std::string c;
    u64(c, 0x41727101980ULL);
    u32(c, 0);
    u32(c, 77);
    std::string r = exchange(c);
    if (r.size() != 16) return "";
    std::string p = r.substr(8, 8);  // connection id
    u32(p, 1);
    u32(p, 78);
    p += std::string(20, torrent);
    p += std::string(20, 'u');
    u64(p, 0);
    u64(p, 1000);  // left
    u64(p, 0);
    u32(p, 2);  // started
    u32(p, 0);
    u32(p, 0);
    u32(p, 50);
    p.push_back(static_cast<char>(peer_port >> 8));
    p.push_back(static_cast<char>(peer_port & 0xff));
    return exchange(p);
  }
};

TEST(TrackerRedis, APeerAnnouncedToOneTrackerIsReturnedByTheOther) {
  TempDir dir;
  RedisServer redis;
  Tracker a(dir, "a", redis), b(dir, "b", redis);
  ASSERT_GT(a.http, 0) << a.proc->output();
  ASSERT_GT(b.http, 0) << b.proc->output();
  ASSERT_TRUE(wait_until([&] { return a.readyz() == 200 && b.readyz() == 200; }, 10s))
      << a.proc->output() << b.proc->output();

  auto v = get(a.http, announce_target(ih_of('x'), 1, 7001, 0, "&event=completed"));
  ASSERT_EQ(failure_of(v), "") << a.proc->output();
  EXPECT_EQ(peers_of(v), "");
  v = get(b.http, announce_target(ih_of('x'), 2, 7002, 500, "&event=started"));
  ASSERT_EQ(failure_of(v), "") << b.proc->output();
  EXPECT_EQ(peers_of(v), loopback(7001)) << "b returns the seeder announced to a";
  EXPECT_EQ(v.find("complete")->as_int(), 1);
  EXPECT_EQ(v.find("incomplete")->as_int(), 1);
  v = get(a.http, announce_target(ih_of('x'), 1, 7001, 0));
  EXPECT_EQ(peers_of(v), loopback(7002)) << "a returns the leecher announced to b";

  // UDP announces are served by the store's own thread: same shared view.
  ASSERT_GT(b.udp, 0);
  UdpClient u(b.udp);
  std::string r = u.announce('x', 7003);
  ASSERT_GE(r.size(), 20u);
  EXPECT_EQ(UdpClient::get32(r, 0), 1u) << "announce action, not an error: " << r.substr(8);
  EXPECT_EQ(UdpClient::get32(r, 16), 1u);  // seeders
  std::string udp_peers = r.substr(20);
  EXPECT_NE(udp_peers.find(loopback(7001)), std::string::npos);
  EXPECT_NE(udp_peers.find(loopback(7002)), std::string::npos);

  // Scrape on a counts what went through b (and its UDP port).
  auto s = get(a.http, "/scrape?info_hash=" + percent_encode(ih_of('x')));
  const BValue* files = s.find("files");
  ASSERT_TRUE(files && files->is_dict() && files->as_dict().size() == 1) << "scrape: no files";
  const BValue& entry = files->as_dict()[0].second;
  EXPECT_EQ(entry.find("complete")->as_int(), 1);
  EXPECT_EQ(entry.find("incomplete")->as_int(), 2);
  EXPECT_EQ(entry.find("downloaded")->as_int(), 1);

  // The store gauges are the cluster's, whichever instance is scraped.
  EXPECT_TRUE(wait_until([&] {
    auto m = b.metrics();
    return metric(m, "swarmcache_tracker_seeders") == 1 && metric(m, "swarmcache_tracker_leechers") == 2 &&
           metric(m, "swarmcache_tracker_torrents") == 1;
  }, 5s)) << b.metrics();

  // A stop through b removes the seeder a recorded.
  v = get(b.http, announce_target(ih_of('x'), 1, 7001, 0, "&event=stopped"));
  EXPECT_EQ(failure_of(v), "");
  v = get(a.http, announce_target(ih_of('x'), 2, 7002, 500));
  EXPECT_EQ(v.find("complete")->as_int(), 0);
  EXPECT_EQ(peers_of(v), loopback(7003));

  // SIGTERM still drains and exits cleanly with worker Redis connections open.
  auto st = a.proc->stop(SIGTERM);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << a.proc->output();
}

TEST(TrackerRedis, RedisDownFailsReadinessAndAnnouncesThenServiceResumesWithoutRestart) {
  TempDir dir;
  RedisServer redis;
  Tracker a(dir, "a", redis), b(dir, "b", redis);
  ASSERT_GT(a.http, 0) << a.proc->output();
  ASSERT_GT(b.http, 0) << b.proc->output();
  ASSERT_TRUE(wait_until([&] { return a.readyz() == 200 && b.readyz() == 200; }, 10s));
  ASSERT_EQ(failure_of(get(a.http, announce_target(ih_of('y'), 1, 7001, 0))), "");

  redis.stop();
  EXPECT_TRUE(wait_until([&] { return a.readyz() == 503 && b.readyz() == 503; }, 10s)) << "readyz still 200";
  auto v = get(a.http, announce_target(ih_of('y'), 2, 7002, 500));
  EXPECT_EQ(failure_of(v), "tracker storage unavailable, try again later");
  v = get(b.http, "/scrape?info_hash=" + percent_encode(ih_of('y')));
  EXPECT_EQ(failure_of(v), "tracker storage unavailable, try again later");
  UdpClient u(b.udp);
  std::string r = u.announce('y', 7003);
  ASSERT_GE(r.size(), 8u);
  EXPECT_EQ(UdpClient::get32(r, 0), 3u) << "an error packet";
  EXPECT_EQ(r.substr(8), "tracker storage unavailable, try again later");
  EXPECT_TRUE(a.proc->running());
  EXPECT_TRUE(b.proc->running());

  redis.restart();  // same port, empty (no persistence in the test server)
  EXPECT_TRUE(wait_until([&] { return a.readyz() == 200 && b.readyz() == 200; }, 10s)) << "readyz did not recover";
  // Every worker connection reconnects on its own back-off (at most ~2 s): poll, then expect
  // each instance to serve and to see the other's peers again.
  EXPECT_TRUE(wait_until([&] { return failure_of(get(a.http, announce_target(ih_of('y'), 1, 7001, 0))).empty(); }, 10s));
  EXPECT_TRUE(wait_until([&] {
    auto w = get(b.http, announce_target(ih_of('y'), 2, 7002, 500));
    return failure_of(w).empty() && peers_of(w) == loopback(7001);
  }, 10s)) << b.proc->output();
  r = u.announce('y', 7003);
  ASSERT_GE(r.size(), 20u);
  EXPECT_EQ(UdpClient::get32(r, 0), 1u);
  EXPECT_EQ(a.proc->pid() > 0 && a.proc->running(), true) << "the same processes all along";
}

}  // namespace
}  // namespace sc::test
