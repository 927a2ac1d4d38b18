// Redis Sentinel failover with real processes on loopback: a master, a replica and three
// redis-sentinel instances; the real swarmcache-metastore and swarmcache-tracker (Redis store)
// both configured with a sentinel:// URL. The master is stopped, the sentinels promote the
// replica, and both services find the new master by themselves: writes and reads succeed
// again, what was replicated before is still there, and each logs the outage once.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "tests/support/support.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

// Sentinel timing: a master is judged down after 1 s without a reply (the default 30 s would
// make the test slow); a failover that stalls is retried after 5 s.
constexpr int kDownAfterMs = 1000;
constexpr int kFailoverTimeoutMs = 5000;
// Failover takes ~down-after + an election (a few hundred ms); the services then need one
// reconnect back-off (at most 2 s). Deadlines leave ample room on a loaded CI machine.
constexpr auto kFailoverDeadline = 60s;

// One command over a fresh connection; QUIT makes Redis close it, so the read ends at once.
std::string redis_cmd(int port, const std::string& cmd) { return raw_exchange(port, cmd + "\r\nQUIT\r\n", 2s); }

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class Sentinel {
 public:
  Sentinel(int master_port) : port_(free_port()) {
    write_file(dir_.file("sentinel.conf"),
               "port " + std::to_string(port_) + "\nbind 127.0.0.1\ndaemonize no\ndir " + dir_.path() +
                   "\nsentinel monitor mymaster 127.0.0.1 " + std::to_string(master_port) + " 2\n" +
                   "sentinel down-after-milliseconds mymaster " + std::to_string(kDownAfterMs) + "\n" +
                   "sentinel failover-timeout mymaster " + std::to_string(kFailoverTimeoutMs) + "\n");
    proc_ = std::make_unique<Process>(std::vector<std::string>{"redis-sentinel", dir_.file("sentinel.conf")});
  }
  int port() const { return port_; }
  // The "name value" pairs of SENTINEL MASTER, as raw RESP.
  std::string master_info() { return redis_cmd(port_, "SENTINEL MASTER mymaster"); }
  std::string output() const { return proc_->output(); }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> proc_;
};

std::string make_torrent(const std::string& name) {
  auto dict = [](BDict d) {
    std::sort(d.begin(), d.end(), [](auto& a, auto& b) { return a.first < b.first; });
    return BValue{std::move(d)};
  };
  BValue info = dict({{"name", BValue{name}}, {"piece length", BValue{int64_t{16384}}}, {"length", BValue{int64_t{1000}}},
                      {"pieces", BValue{std::string(20, 'h')}}});
  return bencode(dict({{"info", info}}));
}

std::string announce_target(char torrent, int peer, int port) {
  std::string pid = "-SC0001-" + std::string(11, '0') + std::to_string(peer);
  return "/announce?info_hash=" + percent_encode(std::string(20, torrent)) + "&peer_id=" + percent_encode(pid) +
         "&port=" + std::to_string(port) + "&uploaded=0&downloaded=0&left=100&compact=1";
}

// The compact peer list of an announce answer, or "" (failure, no answer).
std::string peers_of(const HttpResult& r) {
  if (r.status != 200) return "";
  auto v = bdecode(r.body);
  if (!v) return "";
  const BValue* p = v->find("peers");
  return p && p->is_str() ? p->as_str() : "";
}

std::string loopback(uint16_t port) {
  return std::string("\x7f\x00\x00\x01", 4) + static_cast<char>(port >> 8) + static_cast<char>(port & 0xff);
}

TEST(RedisSentinel, MetastoreAndTrackerFollowAFailover) {
  RedisServer master;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  ASSERT_TRUE(wait_until([&] { return redis_cmd(replica.port(), "INFO replication").find("master_link_status:up") != std::string::npos; },
                         20s));
  std::vector<std::unique_ptr<Sentinel>> sentinels;
  for (int i = 0; i < 3; ++i) sentinels.push_back(std::make_unique<Sentinel>(master.port()));
  // Every sentinel must know the replica and the two other sentinels before the master goes,
  // or there is no quorum and nothing to promote.
  for (auto& s : sentinels) {
    ASSERT_TRUE(wait_until(
        [&] {
          std::string info = s->master_info();
          return info.find("num-slaves\r\n$1\r\n1") != std::string::npos &&
                 info.find("num-other-sentinels\r\n$1\r\n2") != std::string::npos;
        },
        30s, 50ms))
        << s->master_info() << s->output();
  }
  std::string url = "sentinel://";
  for (auto& s : sentinels) url += "127.0.0.1:" + std::to_string(s->port()) + (&s == &sentinels.back() ? "" : ",");
  url += "/mymaster/0";

  TempDir dir;
  write_file(dir.file("tokens"), "tok\n");
  Process metastore({build_path("services/metastore/swarmcache-metastore"), "--listen", "127.0.0.1:0", "--redis", url,
                     "--auth-tokens", dir.file("tokens"), "--log-level", "warn"});
  int ms_port = metastore.wait_for_number("http_port", 10s).value_or(0);
  ASSERT_NE(ms_port, 0) << metastore.output();
  write_file(dir.file("tracker.yaml"), "chihaya:\n"
                                       "  announce_interval: 2s\n  min_announce_interval: 1s\n  metrics_addr: 127.0.0.1:0\n"
                                       "  http:\n    addr: 127.0.0.1:0\n    threads: 2\n  udp:\n    addr: 127.0.0.1:0\n"
                                       "  storage:\n    name: redis\n    config:\n"
                                       "      peer_lifetime: 10m\n"
                                       "      redis_broker: " + url + "\n");
  Process tracker({build_path("services/tracker/swarmcache-tracker"), "--config", dir.file("tracker.yaml")});
  int tr_port = tracker.wait_for_number("http_port", 10s).value_or(0);
  ASSERT_NE(tr_port, 0) << tracker.output();

  auto put = [&](const std::string& key, const std::string& body) {
    return http_request(ms_port, "PUT", "/v1/torrents/" + key, body,
                        {{"Authorization", "Bearer tok"}, {"Content-Type", "application/x-bittorrent"}}, 5s);
  };
  std::string before = make_torrent("before"), after = make_torrent("after");
  ASSERT_TRUE(wait_until([&] { return put("files/before", before).status == 201; }, 20s)) << metastore.output();
  auto announced = [&](int peer, int port) {
    auto r = http_request(tr_port, "GET", announce_target('s', peer, port));
    return r.status == 200 && r.body.find("failure reason") == std::string::npos;
  };
  ASSERT_TRUE(wait_until([&] { return announced(1, 7001); }, 20s)) << tracker.output();
  // Acknowledged by the replica before the master goes (what redis.WAIT would give per write).
  ASSERT_NE(redis_cmd(master.port(), "WAIT 1 5000").find(":1"), std::string::npos);

  master.stop();
  // Both services find the promoted replica by themselves and go on.
  ASSERT_TRUE(wait_until([&] { return put("files/after", after).status == 201; }, kFailoverDeadline, 200ms))
      << metastore.output() << sentinels[0]->output();
  auto old = http_request(ms_port, "GET", "/v1/torrents/files/before");
  EXPECT_EQ(old.status, 200);
  EXPECT_EQ(old.body, before);
  EXPECT_EQ(http_request(ms_port, "GET", "/v1/torrents/files/after").body, after);
  EXPECT_NE(redis_cmd(replica.port(), "ROLE").find("master"), std::string::npos);
  std::string seen;
  ASSERT_TRUE(wait_until(
      [&] {
        seen = peers_of(http_request(tr_port, "GET", announce_target('s', 2, 7002)));
        return seen.find(loopback(7001)) != std::string::npos;
      },
      kFailoverDeadline, 200ms))
      << tracker.output();

  // Each service logged the outage once: down with its reason, then back up.
  // (Every connection, one per thread, follows on its own back-off: wait for the last.)
  EXPECT_TRUE(wait_until(
      [&] {
        return count_of(metastore.output(), "msg=\"redis back up\"") > 0 &&
               count_of(tracker.output(), "msg=\"redis back up\"") > 0;
      },
      20s));
  EXPECT_EQ(count_of(metastore.output(), "msg=\"redis down\""), 1u) << metastore.output();
  EXPECT_EQ(count_of(metastore.output(), "msg=\"redis back up\""), 1u) << metastore.output();
  EXPECT_EQ(count_of(tracker.output(), "msg=\"redis down\""), 1u) << tracker.output();
  EXPECT_EQ(count_of(tracker.output(), "msg=\"redis back up\""), 1u) << tracker.output();
  auto ms_status = metastore.stop(SIGTERM);
  ASSERT_TRUE(ms_status);
  EXPECT_TRUE(WIFEXITED(*ms_status) && WEXITSTATUS(*ms_status) == 0) << metastore.output();
}

}  // namespace
}  // namespace sc::test
