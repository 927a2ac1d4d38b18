// End-to-end swarm tests with real processes on loopback: redis-server, metastore, tracker,
// seeders and leechers (and aria2c on either side). Everything waits on GET /v1/status (or a
// process exit) with a deadline; there is no fixed sleep.
#include <gtest/gtest.h>

#include <regex>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/integration/swarm/cluster.h"
#include "tests/support/support.h"

namespace sc::swarmtest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using test::read_file;

constexpr size_t kBigFile = 64 << 20;

bool ready(const Node& n) { return test::http_request(n.control_port, "GET", "/readyz").status == 200; }

std::string infohash_of(const Node& n, const std::string& key) {
  auto s = Cluster::status(n);
  auto* t = s.find(key);
  return t ? t->infohash : "";
}

// Runs a short-lived tool to completion; returns its exit code (-1 on timeout or signal).
int run_tool(std::vector<std::string> argv, std::chrono::milliseconds timeout, std::string* output = nullptr) {
  test::Process p(std::move(argv));
  bool exited = test::wait_until([&] { return !p.running(); }, timeout, 50ms);
  if (output) *output = p.output();
  if (!exited) return -1;
  auto st = p.stop(SIGKILL, 1s);
  return st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
}

TEST(SwarmIntegration, FileAndDirectoryReachEveryLeecherFromTwoSeeders) {
  Cluster c;
  // Two seeders over two copies of the same bytes: determinism makes them one swarm.
  for (auto* d : {"data-a", "data-b"}) {
    write_random_file(c.path(std::string(d) + "/big.bin"), kBigFile, 1);
    write_random_file(c.path(std::string(d) + "/tree/one.bin"), 3'000'000, 2);
    write_random_file(c.path(std::string(d) + "/tree/two.bin"), 1'000'001, 3);
    write_random_file(c.path(std::string(d) + "/tree/nested/three.bin"), 2'500'000, 4);
  }
  // Directory torrents are opt-in (see DefaultsNeverDownloadTheSameBytesTwice).
  auto s1 = c.seeder("seeder-1", c.path("data-a"), {"--dir-torrents", "true"});
  auto s2 = c.seeder("seeder-2", c.path("data-b"), {"--dir-torrents", "true"});
  ASSERT_TRUE(test::wait_until([&] { return ready(*s1) && ready(*s2); }, 120s)) << s1->proc->output();
  const std::vector<std::string> keys = {"files/big.bin", "dirs/tree", "files/tree/one.bin", "files/tree/two.bin",
                                         "files/tree/nested/three.bin", "dirs/tree/nested"};
  for (auto& k : keys) {
    EXPECT_FALSE(infohash_of(*s1, k).empty()) << k;
    EXPECT_EQ(infohash_of(*s1, k), infohash_of(*s2, k)) << k;
  }

  std::vector<std::unique_ptr<Node>> leechers;
  for (int i = 0; i < 5; ++i) leechers.push_back(c.leecher("leecher-" + std::to_string(i)));
  std::vector<Node*> ls;
  for (auto& l : leechers) ls.push_back(l.get());
  ASSERT_TRUE(Cluster::wait_complete(ls, keys, 300s)) << leechers[0]->proc->output();

  std::string src = c.path("data-a");
  for (auto* l : ls) {
    EXPECT_EQ(sha256_file(l->data + "/files/big.bin"), sha256_file(src + "/big.bin")) << l->name;
    for (auto* f : {"one.bin", "two.bin", "nested/three.bin"}) {
      EXPECT_EQ(sha256_file(l->data + "/dirs/tree/" + f), sha256_file(src + "/tree/" + f)) << l->name << " " << f;
      EXPECT_EQ(sha256_file(l->data + "/files/tree/" + f), sha256_file(src + "/tree/" + f)) << l->name << " " << f;
    }
    // Provenance accounts for every byte of the big file.
    auto s = Cluster::status(*l);
    auto* t = s.find("files/big.bin");
    ASSERT_NE(t, nullptr);
    int64_t given = 0, from_leechers = 0;
    std::set<std::string> seeder_ports = {":" + std::to_string(s1->peer_port), ":" + std::to_string(s2->peer_port)};
    for (auto& p : t->provenance) {
      given += p.bytes_given;
      bool from_seeder = false;
      for (auto& sp : seeder_ports) from_seeder = from_seeder || p.endpoint.ends_with(sp);
      if (!from_seeder) from_leechers += p.bytes_given;
    }
    EXPECT_GE(given, static_cast<int64_t>(kBigFile)) << l->name;
    std::printf("%s: big.bin %lld bytes from %zu peers, %lld from other leechers\n", l->name.c_str(),
                static_cast<long long>(given), t->provenance.size(), static_cast<long long>(from_leechers));
  }
  // Every node sends heartbeats (a leecher's may still be in flight when it completes).
  std::string nodes;
  bool all_seen = test::wait_until(
      [&] {
        auto r = test::http_request(c.metastore_port(), "GET", "/v1/nodes");
        nodes = r.body;
        bool all = r.status == 200;
        for (auto* n : {s1.get(), s2.get(), ls[0], ls[4]}) all = all && nodes.find(n->name) != std::string::npos;
        return all;
      },
      30s, 100ms);
  EXPECT_TRUE(all_seen) << nodes;
}

// With the defaults (no directory torrents, leechers following "*"), the seeder hashes
// each file once and a leecher downloads and stores each byte once.
TEST(SwarmIntegration, DefaultsNeverDownloadTheSameBytesTwice) {
  Cluster c;
  write_random_file(c.path("data/top.bin"), 1'500'000, 31);
  write_random_file(c.path("data/tree/one.bin"), 1'000'000, 32);
  write_random_file(c.path("data/tree/nested/two.bin"), 700'001, 33);
  constexpr int64_t kTotal = 1'500'000 + 1'000'000 + 700'001;
  auto s = c.seeder("seeder-1", c.path("data"));
  ASSERT_TRUE(test::wait_until([&] { return ready(*s); }, 60s)) << s->proc->output();
  auto l = c.leecher("leecher-0");
  const std::vector<std::string> keys = {"files/top.bin", "files/tree/one.bin", "files/tree/nested/two.bin"};
  ASSERT_TRUE(Cluster::wait_complete({l.get()}, keys, 60s)) << l->proc->output();

  auto list = test::http_request(c.metastore_port(), "GET", "/v1/torrents?limit=100");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find("dirs/"), std::string::npos) << list.body;
  auto st = Cluster::status(*l);
  int64_t downloaded = 0;
  for (auto& t : st.torrents) {
    EXPECT_TRUE(t.key.starts_with("files/")) << t.key;
    downloaded += t.downloaded;
  }
  EXPECT_EQ(st.torrents.size(), keys.size());
  EXPECT_EQ(downloaded, kTotal);
  auto metrics = test::http_request(s->control_port, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("swarmcache_seeder_hashed_bytes_total " + std::to_string(kTotal) + "\n"), std::string::npos)
      << metrics;
  EXPECT_FALSE(fs::exists(l->data + "/dirs"));
}

// The origin's first-copy rule (first_copy_plugin.h): with several leechers pulling at once and
// the origin's upload the narrow pipe, the origin sends about one copy and the leechers
// exchange the rest. libtorrent's default seeding sends ~1.6-1.9 copies here. Half the leechers
// use the posix disk back-end (--disk-io posix), so pieces written without mmap are forwarded
// to mmap nodes and the other way round.
TEST(SwarmIntegration, OriginSendsAboutOneCopyToManyLeechers) {
  Cluster c;
  constexpr int64_t kSize = 16 << 20;
  write_random_file(c.path("data/payload.bin"), kSize, 41);
  auto s = c.seeder("seeder-1", c.path("data"), {"--upload-rate-limit", "4M"});
  ASSERT_TRUE(test::wait_until([&] { return ready(*s); }, 60s)) << s->proc->output();
  std::vector<std::unique_ptr<Node>> leechers;
  std::vector<Node*> ls;
  for (int i = 0; i < 4; ++i) {
    leechers.push_back(c.leecher("leecher-" + std::to_string(i), {"--disk-io", i % 2 ? "posix" : "mmap"}));
    ls.push_back(leechers.back().get());
  }
  ASSERT_TRUE(Cluster::wait_complete(ls, {"files/payload.bin"}, 180s))
      << Cluster::status(*s).raw << "\n" << Cluster::status(*ls[0]).raw << "\n" << Cluster::status(*ls[3]).raw;
  for (auto* l : ls) EXPECT_EQ(sha256_file(l->data + "/files/payload.bin"), sha256_file(c.path("data/payload.bin")));
  auto st = Cluster::status(*s);
  auto* t = st.find("files/payload.bin");
  ASSERT_NE(t, nullptr) << st.raw;
  std::cout << "origin uploaded " << t->uploaded << " bytes for " << kSize << "\n";
  EXPECT_GE(t->uploaded, kSize) << st.raw;
  EXPECT_LE(t->uploaded, kSize * 5 / 4) << st.raw;
  // Leechers keep within the request queue the origin advertises (kFirstCopyRequestQueue), so
  // the origin rejects a request only to steer it, a few times per piece, never in a loop.
  std::smatch rejects;
  ASSERT_TRUE(std::regex_search(st.raw, rejects, std::regex("\"first_copy_rejects\":([0-9]+)"))) << st.raw;
  EXPECT_LT(std::stoll(rejects[1]), 20 * (kSize >> 16)) << st.raw;
  EXPECT_NE(st.raw.find("\"first_copy_tail_copies\":"), std::string::npos) << st.raw;
  EXPECT_NE(st.raw.find("\"first_copy_repeat_copies\":"), std::string::npos) << st.raw;
}

TEST(SwarmIntegration, UnknownDiskBackEndIsRefusedAtStart) {
  Cluster c;
  test::Process p({test::build_path("services/leecher/swarmcache-leecher"), "--metastore", c.metastore_url(),
                   "--data", c.path("l-data"), "--state", c.path("l-state"), "--disk-io", "aio"});
  EXPECT_TRUE(p.wait_for_output("swarm.disk_io must be mmap or posix", 20s)) << p.output();
  ASSERT_TRUE(test::wait_until([&] { return !p.running(); }, 20s)) << p.output();
  auto code = p.stop();
  ASSERT_TRUE(code.has_value());
  EXPECT_TRUE(WIFEXITED(*code) && WEXITSTATUS(*code) != 0) << p.output();
}

TEST(SwarmIntegration, SeederKilledMidTransferLeechersStillFinish) {
  Cluster c;
  constexpr size_t kSize = 24 << 20;
  write_random_file(c.path("data-a/payload.bin"), kSize, 7);
  write_random_file(c.path("data-b/payload.bin"), kSize, 7);
  // Capped seeders make the transfer last long enough to interrupt.
  auto s1 = c.seeder("seeder-1", c.path("data-a"), {"--upload-rate-limit", "1500k"});
  auto s2 = c.seeder("seeder-2", c.path("data-b"), {"--upload-rate-limit", "1500k"});
  ASSERT_TRUE(test::wait_until([&] { return ready(*s1) && ready(*s2); }, 60s));
  std::vector<std::unique_ptr<Node>> leechers;
  std::vector<Node*> ls;
  for (int i = 0; i < 3; ++i) {
    leechers.push_back(c.leecher("leecher-" + std::to_string(i)));
    ls.push_back(leechers.back().get());
  }
  const std::string key = "files/payload.bin";
  auto progress = [&](Node& n) {
    auto s = Cluster::status(n);
    auto* t = s.find(key);
    return t ? t->progress : 0.0;
  };
  ASSERT_TRUE(test::wait_until([&] { return progress(*ls[0]) >= 0.1; }, 120s));
  ASSERT_LT(progress(*ls[0]), 1.0) << "transfer finished before the seeder could be killed";
  s1->proc->stop(SIGKILL);

  // Once the leechers hold every piece between them, kill the last seeder too: they must
  // finish from each other.
  bool union_complete = test::wait_until(
      [&] {
        std::vector<bool> have;
        for (auto* l : ls) {
          auto s = Cluster::status(*l, true);
          auto* t = s.find(key);
          if (!t) return false;
          if (have.empty()) have.assign(t->piece_source.size(), false);
          for (size_t i = 0; i < t->piece_source.size() && i < have.size(); ++i)
            if (t->piece_source[i] >= 0 || t->complete) have[i] = true;
        }
        return !have.empty() && std::all_of(have.begin(), have.end(), [](bool b) { return b; });
      },
      120s, 100ms);
  ASSERT_TRUE(union_complete);
  bool someone_unfinished = false;
  for (auto* l : ls) someone_unfinished = someone_unfinished || progress(*l) < 1.0;
  s2->proc->stop(SIGKILL);
  std::printf("both seeders killed; leechers unfinished at that moment: %s\n", someone_unfinished ? "yes" : "no");

  bool done = Cluster::wait_complete(ls, {key}, 180s);
  if (!done)
    for (auto* l : ls) ADD_FAILURE() << l->name << ": " << Cluster::status(*l).raw;
  ASSERT_TRUE(done);
  for (auto* l : ls) EXPECT_EQ(sha256_file(l->data + "/files/payload.bin"), sha256_file(c.path("data-a/payload.bin")));
}

TEST(SwarmIntegration, LeecherKilledMidTransferResumesAndStopsCleanly) {
  Cluster c;
  constexpr size_t kSize = 24 << 20;
  write_random_file(c.path("data/payload.bin"), kSize, 9);
  auto s = c.seeder("seeder-1", c.path("data"), {"--upload-rate-limit", "2M"});
  ASSERT_TRUE(test::wait_until([&] { return ready(*s); }, 60s));
  auto l = c.leecher("leecher-0", {"--resume-save-interval", "1s"});
  const std::string key = "files/payload.bin";
  double before = 0;
  ASSERT_TRUE(test::wait_until(
      [&] {
        auto st = Cluster::status(*l);
        auto* t = st.find(key);
        before = t ? t->progress : 0;
        return before >= 0.4;
      },
      120s));
  ASSERT_LT(before, 1.0);
  // Give the resume data one save interval past the 30% mark to land, measured on the node.
  ASSERT_TRUE(test::wait_until([&] { return fs::exists(l->state + "/resume"); }, 5s));
  l->proc->stop(SIGKILL);

  c.restart(*l);
  double resumed = 0;
  ASSERT_TRUE(test::wait_until(
      [&] {
        auto st = Cluster::status(*l);
        auto* t = st.find(key);
        if (!t || t->state == "checking") return false;
        resumed = t->progress;
        return true;
      },
      30s));
  EXPECT_GT(resumed, 0.2) << "restart did not keep what was downloaded (before kill: " << before << ")";
  ASSERT_TRUE(Cluster::wait_complete({l.get()}, {key}, 120s));
  auto st = Cluster::status(*l);
  // This run fetched only what the first one had not.
  EXPECT_LT(st.find(key)->downloaded, static_cast<int64_t>(kSize * 0.8));
  EXPECT_EQ(sha256_file(l->data + "/files/payload.bin"), sha256_file(c.path("data/payload.bin")));

  // SIGTERM: clean exit, state saved.
  auto code = l->proc->stop(SIGTERM, 20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_TRUE(WIFEXITED(*code) && WEXITSTATUS(*code) == 0);
  EXPECT_NE(read_file(l->state + "/leecher.json").find("\"complete\":true"), std::string::npos);
}

TEST(SwarmIntegration, Aria2cDownloadsFromOurSeeder) {
  Cluster c;
  constexpr size_t kSize = 8 << 20;
  write_random_file(c.path("data/shared.bin"), kSize, 11);
  auto s = c.seeder("seeder-1", c.path("data"));
  ASSERT_TRUE(test::wait_until([&] { return ready(*s); }, 60s));
  auto t = test::http_request(c.metastore_port(), "GET", "/v1/torrents/files/shared.bin");
  ASSERT_EQ(t.status, 200);
  std::string torrent = c.path("shared.torrent");
  std::ofstream(torrent, std::ios::binary) << t.body;
  std::string out;
  int rc = run_tool({"aria2c", "--enable-dht=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                     "--seed-time=0", "--listen-port=" + std::to_string(test::free_port()), "--console-log-level=warn",
                     "--summary-interval=0", "-d", c.path("aria"), torrent},
                    120s, &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(sha256_file(c.path("aria/shared.bin")), sha256_file(c.path("data/shared.bin")));
  // Our seeder saw aria2 take the bytes.
  auto st = Cluster::status(*s);
  int64_t taken = 0;
  for (auto& p : st.find("files/shared.bin")->provenance) taken += p.bytes_taken;
  EXPECT_GE(taken, static_cast<int64_t>(kSize));
}

TEST(SwarmIntegration, OurLeecherDownloadsFromAria2cSeeder) {
  Cluster c;
  constexpr size_t kSize = 8 << 20;
  write_random_file(c.path("aria/foreign.bin"), kSize, 13);
  std::string torrent = c.path("foreign.torrent");
  std::string out;
  ASSERT_EQ(run_tool({test::build_path("services/swarmctl/swarmctl"), "create", "-a", c.tracker_url(), "-o", torrent,
                      c.path("aria/foreign.bin")},
                     60s, &out),
            0)
      << out;
  int aria_port = test::free_port();
  test::Process aria({"aria2c", "--enable-dht=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                      "--check-integrity=true", "--seed-ratio=0.0", "--listen-port=" + std::to_string(aria_port),
                      "--console-log-level=warn", "-d", c.path("aria"), torrent});
  // aria2c has verified the file and announced once our tracker counts a complete peer.
  std::string ih = out.substr(0, 40), escaped;
  for (size_t i = 0; i < ih.size(); i += 2) escaped += "%" + ih.substr(i, 2);
  ASSERT_TRUE(test::wait_until(
      [&] {
        auto r = test::http_request(c.tracker_port(), "GET", "/scrape?info_hash=" + escaped);
        return r.body.find("8:completei1e") != std::string::npos;
      },
      60s, 100ms))
      << aria.output();
  // Exit 0: no swarmcache node reports seeding it (aria2c sends no heartbeat), but the
  // torrent's own tracker counts a complete peer, and publish asks it too.
  ASSERT_EQ(run_tool({test::build_path("services/swarmctl/swarmctl"), "--metastore", c.metastore_url(), "--token-file",
                      c.token_file(), "publish", torrent, "--key", "files/foreign.bin"},
                     30s, &out),
            0)
      << out;
  auto l = c.leecher("leecher-0", {"--select", "files/foreign*"});
  ASSERT_TRUE(Cluster::wait_complete({l.get()}, {"files/foreign.bin"}, 120s)) << aria.output() << l->proc->output();
  EXPECT_EQ(sha256_file(l->data + "/files/foreign.bin"), sha256_file(c.path("aria/foreign.bin")));
  auto st = Cluster::status(*l);
  auto* t = st.find("files/foreign.bin");
  ASSERT_NE(t, nullptr);
  ASSERT_FALSE(t->provenance.empty());
  EXPECT_EQ(t->provenance[0].client.substr(0, 2), "A2") << "bytes should come from aria2c: " << st.raw;
}

}  // namespace
}  // namespace sc::swarmtest

namespace sc::swarmtest {
namespace {

TEST(SwarmIntegration, SeederWatchesItsDirectoryAndLeecherFollowsAcrossRestart) {
  Cluster c;
  write_random_file(c.path("data/a.bin"), 2'000'000, 21);
  auto s = c.seeder("seeder-1", c.path("data"));
  ASSERT_TRUE(test::wait_until([&] { return ready(*s); }, 60s));
  auto l = c.leecher("leecher-0", {"--select", "files/*"});
  ASSERT_TRUE(Cluster::wait_complete({l.get()}, {"files/a.bin"}, 60s)) << l->proc->output();
  for (auto& t : Cluster::status(*l).torrents) EXPECT_TRUE(t.key.starts_with("files/")) << t.key;
  auto code = l->proc->stop(SIGTERM, 20s);
  ASSERT_TRUE(code && WIFEXITED(*code) && WEXITSTATUS(*code) == 0) << l->proc->output();

  // Published while the leecher is down: inotify picks it up, no restart of the seeder.
  write_random_file(c.path("incoming.tmp"), 3'000'000, 22);
  fs::rename(c.path("incoming.tmp"), c.path("data/b.bin"));
  ASSERT_TRUE(test::wait_until(
      [&] { return test::http_request(c.metastore_port(), "GET", "/v1/torrents/files/b.bin").status == 200; }, 30s));

  c.restart(*l);
  ASSERT_TRUE(Cluster::wait_complete({l.get()}, {"files/a.bin", "files/b.bin"}, 60s)) << l->proc->output();
  auto st = Cluster::status(*l);
  EXPECT_EQ(st.find("files/a.bin")->downloaded, 0) << "a.bin was fetched again after the restart";
  EXPECT_EQ(sha256_file(l->data + "/files/b.bin"), sha256_file(c.path("data/b.bin")));
  EXPECT_NE(read_file(l->state + "/leecher.json").find("\"last_event_id\":\"1"), std::string::npos);

  // A file removed from the seeder's directory is unpublished, and the leecher stops on it.
  fs::remove(c.path("data/a.bin"));
  ASSERT_TRUE(test::wait_until(
      [&] { return test::http_request(c.metastore_port(), "GET", "/v1/torrents/files/a.bin").status == 404; }, 30s));
  ASSERT_TRUE(test::wait_until([&] { return Cluster::status(*l).ok && !Cluster::status(*l).find("files/a.bin"); }, 60s));
  EXPECT_TRUE(fs::exists(l->data + "/files/a.bin"));  // files are kept
}

TEST(SwarmIntegration, LeecherResyncsWhenItsLastEventWasTrimmed) {
  // A metastore that keeps one event, on a Redis that trims streams entry by entry.
  test::TempDir cfg;
  test::write_file(cfg.file("metastore.yaml"), "events:\n  max_len: 1\n");
  Cluster c(ClusterOptions{.redis_args = {"--stream-node-max-entries", "1"},
                           .metastore_args = {"--config", cfg.file("metastore.yaml")}});
  write_random_file(c.path("data/a.bin"), 1'000'000, 31);
  auto s = c.seeder("seeder-1", c.path("data"));
  ASSERT_TRUE(test::wait_until([&] { return ready(*s); }, 60s));
  auto l = c.leecher("leecher-0");
  ASSERT_TRUE(Cluster::wait_complete({l.get()}, {"files/a.bin"}, 60s)) << l->proc->output();
  auto code = l->proc->stop(SIGTERM, 20s);
  ASSERT_TRUE(code && WIFEXITED(*code) && WEXITSTATUS(*code) == 0) << l->proc->output();

  // While it is down, more is published than the stream keeps: its last id is trimmed away.
  for (const char* name : {"b.bin", "c.bin", "d.bin"}) {
    write_random_file(c.path(std::string("incoming-") + name), 500'000, name[0]);
    fs::rename(c.path(std::string("incoming-") + name), c.path(std::string("data/") + name));
  }
  ASSERT_TRUE(test::wait_until(
      [&] { return test::http_request(c.metastore_port(), "GET", "/v1/torrents/files/d.bin").status == 200; }, 30s));

  c.restart(*l);
  ASSERT_TRUE(Cluster::wait_complete({l.get()}, {"files/a.bin", "files/b.bin", "files/c.bin", "files/d.bin"}, 60s))
      << l->proc->output();
  EXPECT_NE(l->proc->output().find("event history trimmed"), std::string::npos) << l->proc->output();
  EXPECT_EQ(sha256_file(l->data + "/files/c.bin"), sha256_file(c.path("data/c.bin")));
}

TEST(SwarmIntegration, SeedTimePolicyRetiresCompletedTorrents) {
  Cluster c;
  write_random_file(c.path("data/a.bin"), 1'000'000, 31);
  auto s = c.seeder("seeder-1", c.path("data"));
  ASSERT_TRUE(test::wait_until([&] { return ready(*s); }, 60s));
  auto l = c.leecher("leecher-0", {"--select", "files/a.bin", "--seed-time", "1s"});
  ASSERT_TRUE(test::wait_until(
      [&] {
        auto st = Cluster::status(*l);
        return st.ok && st.raw.find("\"retired\":true") != std::string::npos && !st.find("files/a.bin");
      },
      60s))
      << Cluster::status(*l).raw;
  EXPECT_EQ(sha256_file(l->data + "/files/a.bin"), sha256_file(c.path("data/a.bin")));
  EXPECT_NE(read_file(l->state + "/leecher.json").find("\"complete\":true"), std::string::npos);
}

TEST(SwarmIntegration, ControlApiAnswersHealthReadinessAndMetrics) {
  Cluster c;
  write_random_file(c.path("data/a.bin"), 100'000, 41);
  auto s = c.seeder("seeder-1", c.path("data"));
  ASSERT_TRUE(test::wait_until([&] { return ready(*s); }, 60s));
  EXPECT_EQ(test::http_request(s->control_port, "GET", "/healthz").status, 200);
  auto m = test::http_request(s->control_port, "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("swarmcache_seeder_registrations_total 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("swarmcache_seeder_torrents"), std::string::npos);
  EXPECT_EQ(test::http_request(s->control_port, "GET", "/nope").status, 404);
  // Heartbeat reached the node registry with the swarms it seeds.
  ASSERT_TRUE(test::wait_until(
      [&] {
        auto r = test::http_request(c.metastore_port(), "GET", "/v1/nodes");
        return r.body.find("seeder-1") != std::string::npos && r.body.find(infohash_of(*s, "files/a.bin")) != std::string::npos;
      },
      30s));
}

}  // namespace
}  // namespace sc::swarmtest
