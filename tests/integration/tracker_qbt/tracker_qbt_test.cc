// A real Debian client, qbittorrent-nox, downloads a file from an aria2c seeder that
// it can find only through the real swarmcache-tracker (HTTP and UDP announce URLs); the copy
// must match the source byte for byte and the tracker's /metrics must count both peers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <regex>
#include <string>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "common/core/sha.h"
#include "tests/support/support.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

// 4 MiB with 256 KiB pieces: 16 pieces, enough for a real exchange, seconds on loopback.
constexpr size_t kPayloadBytes = 4 << 20;
// Generous bound for the whole download (qBittorrent's first announce happens after its
// session starts; the transfer itself is well under a second here).
constexpr auto kDownloadDeadline = 120s;

std::string tracker_bin() { return build_path("services/tracker/swarmcache-tracker"); }

bool have_qbittorrent() { return std::system("command -v qbittorrent-nox >/dev/null 2>&1") == 0; }

void skip_or_fail_without_qbittorrent() {
  const char* ci = std::getenv("CI");
  if (!have_qbittorrent() && !(ci && std::string(ci) == "true"))
    GTEST_SKIP() << "qbittorrent-nox is not installed (apt-get install qbittorrent-nox)";
}

struct Tracker {
  std::unique_ptr<Process> proc;
  int http = 0, admin = 0, udp = 0;

  explicit Tracker(const TempDir& dir) {
    std::string cfg = dir.file("tracker.yaml");
    write_file(cfg, "announce_interval: 2s\nmin_announce_interval: 1s\nmetrics_addr: 127.0.0.1:0\n"
                    "http:\n  addr: 127.0.0.1:0\n  threads: 2\nudp:\n  addr: 127.0.0.1:0\n");
    proc = std::make_unique<Process>(std::vector<std::string>{tracker_bin(), "--config", cfg});
    http = proc->wait_for_number("http_port", 10s).value_or(0);
    admin = proc->wait_for_number("admin_port", 10s).value_or(0);
    udp = proc->wait_for_number("udp_port", 10s).value_or(0);
  }
  std::string metrics() const { return http_request(admin, "GET", "/metrics").body; }
};

std::string sha256_hex(const std::string& data) {
  auto d = sha256(data);
  return to_hex(std::span<const uint8_t>(d.data(), d.size()));
}

std::string info_hash_hex(const std::string& torrent) {
  auto v = bdecode(torrent);
  if (!v || !v->find("info")) return "";
  const BValue* info = v->find("info");
  auto d = sha1(std::string_view(torrent).substr(info->begin, info->end - info->begin));
  return to_hex(std::span<const uint8_t>(d.data(), d.size()));
}

// A random payload in seed_dir and a v1 torrent for it made by mktorrent with `announce`.
std::string make_torrent(const TempDir& dir, const std::string& seed_dir, const std::string& announce,
                         std::string& data) {
  std::filesystem::create_directories(seed_dir);
  data.assign(kPayloadBytes, '\0');
  std::mt19937_64 rng(std::random_device{}());
  for (auto& c : data) c = static_cast<char>(rng());
  write_file(seed_dir + "/payload.bin", data);
  std::string torrent = dir.file("payload.torrent");
  Process mk({"mktorrent", "-a", announce, "-l", "18", "-o", torrent, seed_dir + "/payload.bin"});
  auto st = mk.stop(0, 30s);  // signal 0: only wait for it to finish
  EXPECT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << mk.output();
  return torrent;
}

// aria2c seeding the payload; no DHT bootstrap node, LPD or PeX, so the tracker is the only
// way to find it. aria2 talks to UDP trackers through its DHT socket, hence DHT on for UDP.
std::unique_ptr<Process> start_seeder(const TempDir& dir, const std::string& seed_dir, const std::string& torrent,
                                      bool udp) {
  std::vector<std::string> argv = {"aria2c", udp ? "--enable-dht=true" : "--enable-dht=false", "--enable-dht6=false",
                                   "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--summary-interval=0",
                                   "--console-log-level=warn", "--follow-torrent=false", "--file-allocation=none",
                                   "--listen-port=" + std::to_string(free_port()), "-d", seed_dir,
                                   "--bt-seed-unverified=true", "--seed-ratio=0.0"};
  if (udp) {
    argv.push_back("--dht-listen-port=" + std::to_string(free_port()));
    argv.push_back("--dht-file-path=" + dir.file("seeder-dht.dat"));
  }
  argv.push_back(torrent);
  return std::make_unique<Process>(argv);
}

// qbittorrent-nox with its own profile: Web API on a free loopback port without login,
// no DHT/LSD/PeX, TCP only, listening on 127.0.0.1.
struct Qbittorrent {
  std::unique_ptr<Process> proc;
  int webui = 0;
  std::string profile;

  explicit Qbittorrent(const TempDir& dir) : profile(dir.file("qbt-profile")) {
    std::filesystem::create_directories(profile + "/qBittorrent/config");
    webui = free_port();
    write_file(profile + "/qBittorrent/config/qBittorrent.conf",
               "[LegalNotice]\nAccepted=true\n\n"
               "[BitTorrent]\nSession\\DHTEnabled=false\nSession\\LSDEnabled=false\nSession\\PeXEnabled=false\n"
               "Session\\BTProtocol=TCP\nSession\\Port=" + std::to_string(free_port()) + "\n"
               "Session\\Interface=lo\nSession\\InterfaceName=lo\nSession\\InterfaceAddress=127.0.0.1\n"
               "Session\\MultiConnectionsPerIp=true\nSession\\AnonymousModeEnabled=false\n"
               "Session\\QueueingSystemEnabled=false\nSession\\AddTorrentPaused=false\n\n"
               "[Preferences]\nWebUI\\Address=127.0.0.1\nWebUI\\Port=" + std::to_string(webui) + "\n"
               "WebUI\\LocalHostAuth=false\nWebUI\\CSRFProtection=false\nWebUI\\HostHeaderValidation=false\n"
               "WebUI\\UseUPnP=false\nConnection\\UPnP=false\nConnection\\ResolvePeerCountries=false\n");
    proc = std::make_unique<Process>(std::vector<std::string>{"qbittorrent-nox", "--profile=" + profile},
                                     std::map<std::string, std::string>{{"HOME", dir.path()}});
  }
  // qBittorrent writes its own log file rather than to stdout.
  std::string log() const {
    std::string path = profile + "/qBittorrent/data/logs/qbittorrent.log";
    return std::filesystem::exists(path) ? read_file(path) : "";
  }
  bool api_up() { return http_request(webui, "GET", "/api/v2/app/version", "", {}, 2s).status == 200; }

  HttpResult add(const std::string& torrent_path, const std::string& savepath) {
    const std::string b = "scqbtboundary7MA4YWxkTrZu0gW";
    std::string body = "--" + b + "\r\nContent-Disposition: form-data; name=\"torrents\"; filename=\"payload.torrent\"\r\n"
                       "Content-Type: application/x-bittorrent\r\n\r\n" + read_file(torrent_path) + "\r\n" +
                       "--" + b + "\r\nContent-Disposition: form-data; name=\"savepath\"\r\n\r\n" + savepath + "\r\n" +
                       "--" + b + "--\r\n";
    return http_request(webui, "POST", "/api/v2/torrents/add", body,
                        {{"Content-Type", "multipart/form-data; boundary=" + b}});
  }

  // The torrent's entry in /api/v2/torrents/info (a JSON array of one object), "" if none.
  std::string info(const std::string& ih) {
    auto r = http_request(webui, "GET", "/api/v2/torrents/info?hashes=" + ih, "", {}, 2s);
    return r.status == 200 ? r.body : "";
  }
};

std::string json_field(const std::string& json, const std::string& key) {
  std::smatch m;
  std::regex re("\"" + key + "\":(\"[^\"]*\"|[^,}]*)");
  if (!std::regex_search(json, m, re)) return "";
  std::string v = m[1];
  return v.size() >= 2 && v.front() == '"' ? v.substr(1, v.size() - 2) : v;
}

void qbittorrent_downloads_through_tracker(bool udp) {
  TempDir dir;
  Tracker t(dir);
  ASSERT_GT(t.http, 0) << t.proc->output();
  ASSERT_GT(t.admin, 0) << t.proc->output();
  ASSERT_GT(t.udp, 0) << t.proc->output();
  std::string announce = udp ? "udp://127.0.0.1:" + std::to_string(t.udp) + "/announce"
                             : "http://127.0.0.1:" + std::to_string(t.http) + "/announce";
  std::string data, seed_dir = dir.file("seed");
  std::string torrent = make_torrent(dir, seed_dir, announce, data);
  std::string ih = info_hash_hex(read_file(torrent));
  ASSERT_EQ(ih.size(), 40u);

  auto seeder = start_seeder(dir, seed_dir, torrent, udp);
  // The leecher's first announce must already return the seeder.
  ASSERT_TRUE(wait_until([&] { return metric(t.metrics(), "swarmcache_tracker_seeders") == 1; }, 30s))
      << seeder->output() << t.proc->output();

  Qbittorrent qbt(dir);
  ASSERT_TRUE(wait_until([&] { return qbt.api_up() || !qbt.proc->running(); }, 30s, 50ms) && qbt.proc->running())
      << qbt.proc->output();
  std::string save = dir.file("qbt-download");
  std::filesystem::create_directories(save);
  auto added = qbt.add(torrent, save);
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(added.body, "Ok.");

  std::string last;
  bool done = wait_until(
      [&] {
        last = qbt.info(ih);
        std::string state = json_field(last, "state");
        return json_field(last, "progress") == "1" && (state == "uploading" || state == "stalledUP");
      },
      kDownloadDeadline, 200ms);
  ASSERT_TRUE(done) << "qBittorrent never finished; last info: " << last << "\nseeder: " << seeder->output()
                    << "\nqbt: " << qbt.proc->output() << qbt.log() << "\ntracker metrics:\n" << t.metrics();
  std::string got = read_file(save + "/payload.bin");
  EXPECT_EQ(got.size(), data.size());
  EXPECT_EQ(sha256_hex(got), sha256_hex(data));

  // Both peers announced: qBittorrent reports the completion, so the swarm holds two seeders.
  ASSERT_TRUE(wait_until([&] { return metric(t.metrics(), "swarmcache_tracker_seeders") == 2; }, 30s))
      << t.metrics();
  auto m = t.metrics();
  if (udp) {
    EXPECT_GE(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="announce"})"), 3);  // seed, start, complete
    EXPECT_GE(metric(m, R"(swarmcache_tracker_udp_packets_total{kind="connect"})"), 2);   // one per client
  } else {
    EXPECT_GE(metric(m, R"(swarmcache_tracker_requests_total{action="announce",af="ipv4",result="ok"})"), 3);
  }
  EXPECT_EQ(metric(m, "swarmcache_tracker_torrents"), 1);
  EXPECT_EQ(metric(m, "swarmcache_tracker_leechers"), 0);
}

TEST(TrackerQbittorrent, DownloadsFromSeederFoundOverHttpTracker) {
  skip_or_fail_without_qbittorrent();
  if (IsSkipped()) return;
  qbittorrent_downloads_through_tracker(/*udp=*/false);
}

TEST(TrackerQbittorrent, DownloadsFromSeederFoundOverUdpTracker) {
  skip_or_fail_without_qbittorrent();
  if (IsSkipped()) return;
  qbittorrent_downloads_through_tracker(/*udp=*/true);
}

}  // namespace
}  // namespace sc::test
