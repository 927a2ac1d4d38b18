// swarmcache-tracker (the real binary) with Chihaya's jwt prehook and jwk_set_url pointing at a
// JWKS served by `python3 -m http.server` on 127.0.0.1: good tokens get peers, each kind of bad
// token gets its own failure reason and counter on /metrics, a broken or vanished key server
// keeps the previous keys, UDP announces carry the token in BEP 41 URLData, and two real aria2c
// clients swarm through announce URLs that carry `?jwt=<token>`; and the approval hooks in config
// order, with a SIGHUP reload of a list file.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <signal.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "common/core/clock.h"
#include "proto/metainfo.h"
#include "tests/support/support.h"
#include "tests/support/jwt_test_keys.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using jwt_test::Key;

// A static file server for the JWKS: python3 -m http.server in its own directory.
struct KeyServer {
  TempDir dir;
  int port = free_port();
  std::unique_ptr<Process> proc;

  explicit KeyServer(const std::string& jwks) {
    write_file(dir.file("jwks.json"), jwks);
    proc = std::make_unique<Process>(std::vector<std::string>{"python3", "-m", "http.server", std::to_string(port),
                                                              "--bind", "127.0.0.1", "--directory", dir.path()});
  }
  bool ready() {
    return wait_until([&] { return http_request(port, "GET", "/jwks.json", "", {}, 1s).status == 200; }, 20s);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/jwks.json"; }
  void serve(const std::string& body) { write_file(dir.file("jwks.json"), body); }
};

struct Tracker {
  std::unique_ptr<Process> proc;
  int http = 0, admin = 0, udp = 0;

  Tracker(const TempDir& dir, const std::string& jwks_url) {
    std::string cfg = dir.file("tracker.yaml");
    // Chihaya's current dialect, as a Quay deployment would write it.
    write_file(cfg, "chihaya:\n"
                    "  announce_interval: 2s\n  min_announce_interval: 1s\n  metrics_addr: 127.0.0.1:0\n"
                    "  http:\n    addr: 127.0.0.1:0\n    threads: 2\n  udp:\n    addr: 127.0.0.1:0\n"
                    "  prehooks:\n"
                    "    - name: jwt\n"
                    "      options:\n"
                    "        issuer: https://quay.example\n"
                    "        audience: swarm\n"
                    "        jwk_set_url: " + jwks_url + "\n"
                    "        jwk_set_update_interval: 1s\n"
                    "        leeway: 5s\n");
    proc = std::make_unique<Process>(std::vector<std::string>{build_path("services/tracker/swarmcache-tracker"),
                                                              "--config", cfg});
    http = proc->wait_for_number("http_port", 10s).value_or(0);
    admin = proc->wait_for_number("admin_port", 10s).value_or(0);
    udp = proc->wait_for_number("udp_port", 10s).value_or(0);
  }
  std::string metrics() { return http_request(admin, "GET", "/metrics").body; }
  double refusals(const std::string& reason) {
    return metric(metrics(), "swarmcache_tracker_jwt_refusals_total{reason=\"" + reason + "\"}");
  }
};

std::string claims(const std::string& ih_hex, int64_t exp_in = 3600, const std::string& aud = "swarm",
                   const std::string& iss = "https://quay.example") {
  int64_t now = system_now_ms() / 1000;
  return R"({"iss":")" + iss + R"(","aud":[")" + aud + R"("],"exp":)" + std::to_string(now + exp_in) + R"(,"nbf":)" +
         std::to_string(now - 10) + R"(,"infohash":")" + ih_hex + R"("})";
}

std::string announce_target(const std::string& ih, int peer, int port, int left, const std::string& jwt) {
  std::string pid = "-SC0001-" + std::string(12 - std::to_string(peer).size(), '0') + std::to_string(peer);
  std::string t = "/announce?info_hash=" + percent_encode(ih) + "&peer_id=" + percent_encode(pid) +
                  "&port=" + std::to_string(port) + "&uploaded=0&downloaded=0&left=" + std::to_string(left);
  return jwt.empty() ? t : t + "&jwt=" + jwt;
}

// The announce's bdecoded response (status 200 expected either way).
BValue announce(int port, const std::string& target) {
  auto r = http_request(port, "GET", target);
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  auto v = bdecode(r.body);
  EXPECT_TRUE(v) << r.body;
  return v ? *v : BValue{};
}

std::string failure(const BValue& v) {
  const BValue* f = v.find("failure reason");
  return f && f->is_str() ? f->as_str() : "";
}

class TrackerJwt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new Key(Key::Type::rsa, "quay-rsa");
    ec_ = new Key(Key::Type::ec, "quay-ec");
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
  }
  static Key* rsa_;
  static Key* ec_;
};
Key* TrackerJwt::rsa_ = nullptr;
Key* TrackerJwt::ec_ = nullptr;

TEST_F(TrackerJwt, TokensFromAJwksUrlGatePeersWithPreciseReasons) {
  KeyServer keys(jwt_test::jwks_of({rsa_, ec_}));
  ASSERT_TRUE(keys.ready()) << keys.proc->output();
  TempDir dir;
  Tracker t(dir, keys.url());
  ASSERT_GT(t.http, 0) << t.proc->output();
  ASSERT_TRUE(wait_until([&] { return metric(t.metrics(), "swarmcache_tracker_jwks_refreshes_total") >= 1; }, 20s))
      << t.proc->output();
  EXPECT_EQ(metric(t.metrics(), "swarmcache_tracker_jwks_keys"), 2);

  const std::string ih(20, 'a'), ih_hex = to_hex(ih);
  auto seeder = announce(t.http, announce_target(ih, 1, 7001, 0, rsa_->sign(claims(ih_hex))));
  EXPECT_EQ(failure(seeder), "");
  auto leecher = announce(t.http, announce_target(ih, 2, 7002, 100, ec_->sign(claims(ih_hex))));
  ASSERT_EQ(failure(leecher), "");
  ASSERT_NE(leecher.find("peers"), nullptr);
  EXPECT_EQ(leecher.find("peers")->as_str(), std::string("\x7f\x00\x00\x01\x1b\x59", 6)) << "the seeder, 127.0.0.1:7001";

  Key stranger(Key::Type::rsa, "stranger");
  Key impostor(Key::Type::ec, "quay-ec");
  std::string good = rsa_->sign(claims(ih_hex));
  // One character flipped inside the signature, away from its end: the last character carries
  // padding bits, and a wrong one there is a non-canonical encoding (malformed), not a wrong
  // signature. (Replacing the tail with "BBBBBB" did that whenever the tail began with 'A'.)
  std::string bad_sig = good;
  bad_sig[bad_sig.size() - 10] = bad_sig[bad_sig.size() - 10] == 'A' ? 'B' : 'A';
  struct Case {
    std::string jwt, reason, label;
  };
  std::vector<Case> cases = {
      {"", "missing jwt parameter", "missing"},
      {rsa_->sign(claims(ih_hex, -60)), "jwt: token expired", "expired"},
      {rsa_->sign(R"({"iss":"https://quay.example","aud":"swarm","nbf":)" +
                  std::to_string(system_now_ms() / 1000 + 600) + R"(,"infohash":")" + ih_hex + R"("})"),
       "jwt: token not yet valid", "not_yet_valid"},
      {rsa_->sign(claims(ih_hex, 3600, "registry")), "jwt: token audience not accepted", "wrong_audience"},
      {rsa_->sign(claims(ih_hex, 3600, "swarm", "https://evil.example")), "jwt: token issuer not accepted",
       "wrong_issuer"},
      {rsa_->sign(claims(to_hex(std::string(20, 'b')))), "jwt: infohash claim does not match the announce",
       "wrong_infohash"},
      {stranger.sign(claims(ih_hex)), "jwt: unknown key id 'stranger' for RS256", "unknown_kid"},
      {impostor.sign(claims(ih_hex)), "jwt: bad token signature", "bad_signature"},
      {base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(claims(ih_hex)) + ".",
       "jwt: unsigned token (alg none) refused", "alg_none"},
      {jwt_test::hs256(R"({"alg":"HS256","kid":"quay-rsa"})", claims(ih_hex), rsa_->pem()),
       "jwt: HMAC token algorithm HS256 refused (RS256 or ES256 only)", "alg_not_allowed"},
      {"not-a-token", "jwt: token is not three dot-separated parts", "malformed"},
  };
  for (const auto& c : cases) {
    auto v = announce(t.http, announce_target(ih, 3, 7003, 100, c.jwt));
    EXPECT_EQ(failure(v), c.reason) << c.label;
  }
  EXPECT_EQ(failure(announce(t.http, announce_target(ih, 3, 7003, 100, bad_sig))), "jwt: bad token signature");
  std::string m = t.metrics();
  for (const auto& c : cases) {
    double want = c.label == "bad_signature" ? 2 : 1;
    EXPECT_EQ(metric(m, "swarmcache_tracker_jwt_refusals_total{reason=\"" + c.label + "\"}"), want) << c.label;
  }
  // Refused peers never reached the swarm; scrapes need no token (as Chihaya).
  auto scrape = http_request(t.http, "GET", "/scrape?info_hash=" + percent_encode(ih));
  EXPECT_NE(scrape.body.find("8:completei1e"), std::string::npos) << scrape.body;
  EXPECT_NE(scrape.body.find("10:incompletei1e"), std::string::npos) << scrape.body;

  // A broken JWKS, then a vanished key server: refreshes fail, counted, and the keys stay.
  keys.serve("{\"keys\": [");
  ASSERT_TRUE(wait_until([&] { return metric(t.metrics(), "swarmcache_tracker_jwks_refresh_failures_total") >= 1; },
                         20s));
  EXPECT_EQ(failure(announce(t.http, announce_target(ih, 4, 7004, 100, ec_->sign(claims(ih_hex))))), "");
  keys.proc->stop(SIGTERM);
  double failed = metric(t.metrics(), "swarmcache_tracker_jwks_refresh_failures_total");
  ASSERT_TRUE(wait_until(
      [&] { return metric(t.metrics(), "swarmcache_tracker_jwks_refresh_failures_total") >= failed + 2; }, 20s));
  EXPECT_EQ(failure(announce(t.http, announce_target(ih, 5, 7005, 100, rsa_->sign(claims(ih_hex))))), "");
  EXPECT_EQ(metric(t.metrics(), "swarmcache_tracker_jwks_keys"), 2);
}

// A BEP 15 client with BEP 41 URLData, just enough to carry a token over UDP.
class UdpClient {
 public:
  explicit UdpClient(int port) : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~UdpClient() { ::close(fd_); }

  // One request/response exchange; "" on timeout.
  std::string exchange(const std::string& packet) {
    ::send(fd_, packet.data(), packet.size(), 0);
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return "";
    char buf[2048];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  uint64_t connect() {
    std::string pkt;
    put64(pkt, 0x41727101980ULL);
    put32(pkt, 0);
    put32(pkt, 7);
    std::string r = exchange(pkt);
    return r.size() == 16 ? get64(r, 8) : 0;
  }
  // Action and the rest of the reply (peers for an announce, the message for an error).
  std::pair<uint32_t, std::string> announce(uint64_t cid, const std::string& ih, int peer, int port, int left,
                                            const std::string& url_data) {
    std::string pkt;
    put64(pkt, cid);
    put32(pkt, 1);
    put32(pkt, 9);
    pkt += ih;
    std::string pid = "-SC0001-" + std::string(12 - std::to_string(peer).size(), '0') + std::to_string(peer);
    pkt += pid;
    put64(pkt, 0);
    put64(pkt, static_cast<uint64_t>(left));
    put64(pkt, 0);
    put32(pkt, 2);  // started
    put32(pkt, 0);
    put32(pkt, 0);
    put32(pkt, 0xffffffffu);
    pkt.push_back(static_cast<char>(port >> 8));
    pkt.push_back(static_cast<char>(port & 0xff));
    for (size_t i = 0; i < url_data.size(); i += 255) {
      std::string part = url_data.substr(i, 255);
      pkt.push_back(2);
      pkt.push_back(static_cast<char>(part.size()));
      pkt += part;
    }
    pkt.push_back(0);
    std::string r = exchange(pkt);
    if (r.size() < 8) return {~0u, r};
    uint32_t action = get32(r, 0);
    return {action, r.substr(action == 1 ? 20 : 8)};
  }

 private:
  static void put64(std::string& s, uint64_t v) {
    for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  }
  static void put32(std::string& s, uint32_t v) {
    for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  }
  static uint32_t get32(const std::string& s, size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(s[at + i]);
    return v;
  }
  static uint64_t get64(const std::string& s, size_t at) { return uint64_t{get32(s, at)} << 32 | get32(s, at + 4); }
  int fd_;
};

TEST_F(TrackerJwt, UdpAnnouncesCarryTheTokenInUrlData) {
  KeyServer keys(jwt_test::jwks_of({rsa_, ec_}));
  ASSERT_TRUE(keys.ready()) << keys.proc->output();
  TempDir dir;
  Tracker t(dir, keys.url());
  ASSERT_GT(t.udp, 0) << t.proc->output();
  ASSERT_TRUE(wait_until([&] { return metric(t.metrics(), "swarmcache_tracker_jwks_refreshes_total") >= 1; }, 20s));
  const std::string ih(20, 'u'), ih_hex = to_hex(ih);
  UdpClient c(t.udp);
  uint64_t cid = c.connect();
  ASSERT_NE(cid, 0u);
  auto [a1, r1] = c.announce(cid, ih, 1, 7101, 0, "/announce?jwt=" + rsa_->sign(claims(ih_hex)));
  EXPECT_EQ(a1, 1u) << r1;
  auto [a2, r2] = c.announce(cid, ih, 2, 7102, 100, "/announce?jwt=" + ec_->sign(claims(ih_hex)));
  EXPECT_EQ(a2, 1u) << r2;
  EXPECT_EQ(r2, std::string("\x7f\x00\x00\x01\x1b\xbd", 6)) << "the first peer, 127.0.0.1:7101";
  auto [a3, r3] = c.announce(cid, ih, 3, 7103, 100, "/announce?jwt=" + ec_->sign(claims(ih_hex, -60)));
  EXPECT_EQ(a3, 3u);
  EXPECT_EQ(r3, "jwt: token expired");
  auto [a4, r4] = c.announce(cid, ih, 4, 7104, 100, "/announce");
  EXPECT_EQ(a4, 3u);
  EXPECT_EQ(r4, "missing jwt parameter");
  EXPECT_EQ(t.refusals("expired"), 1);
  EXPECT_EQ(t.refusals("missing"), 1);
}

// mktorrent-made v1 torrent whose announce URL carries the token for its own info hash (the
// info hash does not cover the announce URL, so a first build with any URL names it).
std::string make_torrent(const TempDir& dir, const std::string& file, const std::string& announce_base, const Key& key,
                         std::string& ih_hex) {
  auto mk = [&](const std::string& url, const std::string& out) {
    Process p({"mktorrent", "-a", url, "-l", "16", "-o", out, file});
    auto st = p.stop(0, 30s);  // signal 0: only wait for it to finish
    EXPECT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << p.output();
    auto meta = parse_metainfo(read_file(out));
    EXPECT_TRUE(meta) << (meta ? "" : meta.error().message);
    return meta ? meta->v1_hex() : std::string();
  };
  ih_hex = mk(announce_base, dir.file("probe.torrent"));
  std::string torrent = dir.file("payload.torrent");
  std::string again = mk(announce_base + "?jwt=" + key.sign(claims(ih_hex)), torrent);
  EXPECT_EQ(again, ih_hex);
  return torrent;
}

TEST_F(TrackerJwt, Aria2cSwarmsThroughJwtProtectedAnnounceUrls) {
  KeyServer keys(jwt_test::jwks_of({rsa_, ec_}));
  ASSERT_TRUE(keys.ready()) << keys.proc->output();
  TempDir dir;
  Tracker t(dir, keys.url());
  ASSERT_GT(t.http, 0) << t.proc->output();
  ASSERT_TRUE(wait_until([&] { return metric(t.metrics(), "swarmcache_tracker_jwks_refreshes_total") >= 1; }, 20s));

  std::string seed_dir = dir.file("seed"), leech_dir = dir.file("leech");
  std::filesystem::create_directories(seed_dir);
  std::filesystem::create_directories(leech_dir);
  std::string data(3 << 20, '\0');
  std::mt19937_64 rng(7);
  for (auto& c : data) c = static_cast<char>(rng());
  write_file(seed_dir + "/payload.bin", data);
  std::string ih_hex;
  std::string torrent = make_torrent(dir, seed_dir + "/payload.bin",
                                     "http://127.0.0.1:" + std::to_string(t.http) + "/announce", *ec_, ih_hex);
  ASSERT_EQ(ih_hex.size(), 40u);
  // Without its token the same torrent is refused.
  auto ih = from_hex(ih_hex);
  ASSERT_TRUE(ih);
  EXPECT_EQ(failure(announce(t.http, announce_target(*ih, 9, 7009, 0, ""))), "missing jwt parameter");

  std::vector<std::string> common = {"aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                                     "--enable-peer-exchange=false", "--summary-interval=0", "--console-log-level=warn",
                                     "--follow-torrent=false", "--file-allocation=none"};
  auto with = [&](std::vector<std::string> extra) {
    auto v = common;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  Process seeder(with({"--listen-port=" + std::to_string(free_port()), "-d", seed_dir, "--bt-seed-unverified=true",
                       "--seed-ratio=0.0", torrent}));
  ASSERT_TRUE(wait_until([&] { return metric(t.metrics(), "swarmcache_tracker_seeders") == 1; }, 30s))
      << seeder.output() << t.proc->output();
  Process leecher(with({"--listen-port=" + std::to_string(free_port()), "-d", leech_dir, "--seed-time=0", torrent}));
  ASSERT_TRUE(wait_until([&] { return !leecher.running(); }, 90s)) << leecher.output();
  auto st = leecher.stop(SIGTERM, 1s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << leecher.output();
  EXPECT_EQ(read_file(leech_dir + "/payload.bin"), data);

  std::string m = t.metrics();
  EXPECT_GE(metric(m, R"(swarmcache_tracker_requests_total{action="announce",af="ipv4",result="ok"})"), 2);
  EXPECT_EQ(t.refusals("missing"), 1) << "aria2c's announces all carried the token";
  EXPECT_EQ(t.refusals("bad_signature"), 0);
}

// The other prehooks through the real binary: a torrent approval list file reloaded on SIGHUP
// (peers already announced stay), chained after a client approval hook in config order.
TEST(TrackerPrehooks, TorrentApprovalFileReloadsOnSighupWithoutDroppingPeers) {
  TempDir dir;
  std::string list = dir.file("approved.txt");
  const std::string a(20, 'a'), b(20, 'b');
  write_file(list, to_hex(a) + "\n");
  std::string cfg = dir.file("tracker.yaml");
  write_file(cfg, "metrics_addr: 127.0.0.1:0\nhttp:\n  addr: 127.0.0.1:0\nudp:\n  addr: 127.0.0.1:0\n"
                  "prehooks:\n"
                  "  - name: client approval\n    config:\n      whitelist: [\"-SC0001\"]\n"
                  "  - name: torrent approval\n    config:\n      whitelist_file: " + list + "\n");
  Process p({build_path("services/tracker/swarmcache-tracker"), "--config", cfg});
  int http = p.wait_for_number("http_port", 10s).value_or(0);
  int admin = p.wait_for_number("admin_port", 10s).value_or(0);
  ASSERT_GT(http, 0) << p.output();
  EXPECT_EQ(failure(announce(http, announce_target(a, 1, 7001, 0, ""))), "");
  EXPECT_EQ(failure(announce(http, announce_target(b, 2, 7002, 100, ""))), "unapproved torrent");
  auto r = http_request(http, "GET", "/announce?info_hash=" + percent_encode(b) + "&peer_id=" +
                                         percent_encode("-XX0001-000000000003") + "&port=7003&left=1");
  EXPECT_NE(r.body.find("unapproved client"), std::string::npos) << "the first hook in config order answers";

  write_file(list, to_hex(b) + "\n");
  ASSERT_EQ(::kill(p.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_until([&] { return failure(announce(http, announce_target(b, 2, 7002, 100, ""))).empty(); }, 10s))
      << p.output();
  EXPECT_EQ(failure(announce(http, announce_target(a, 3, 7003, 100, ""))), "unapproved torrent");
  auto scrape = http_request(http, "GET", "/scrape?info_hash=" + percent_encode(a));
  EXPECT_NE(scrape.body.find("8:completei1e"), std::string::npos) << "the seeder of a delisted torrent stays: " << scrape.body;

  // A broken list on SIGHUP keeps the previous one.
  write_file(list, "zz\n");
  ASSERT_EQ(::kill(p.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_until(
      [&] {
        return metric(http_request(admin, "GET", "/metrics").body,
                      "swarmcache_tracker_torrent_approval_reload_failures_total") == 1;
      },
      10s));
  EXPECT_EQ(failure(announce(http, announce_target(b, 4, 7004, 100, ""))), "");
  EXPECT_TRUE(p.running()) << "SIGHUP never stops the tracker";
}

}  // namespace
}  // namespace sc::test
