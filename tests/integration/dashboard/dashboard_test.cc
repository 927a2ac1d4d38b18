// The dashboard over a live swarm: it lists the seeder and the leecher from the metastore's
// node registry, shows the swarm complete on both, and names the seeder (by its peer id, not
// its address) as the node that supplied the leecher's pieces. Then the same in a real browser
// (Debian's chromium driven by playwright-core), which also sees a node appear without a reload.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "common/core/json.h"
#include "tests/integration/swarm/cluster.h"
#include "tests/support/support.h"

namespace sc {
namespace {

using namespace std::chrono_literals;

// A seeder "seed-a" holding one random file (files/movie.bin) and a leecher "leech-a" that has
// fetched it whole from the seeder.
class Dashboard : public ::testing::Test {
 protected:
  void seed_and_fetch(size_t bytes, uint32_t random_seed) {
    std::string data = cluster.path("seed-data");
    swarmtest::write_random_file(data + "/movie.bin", bytes, random_seed);
    seeder = cluster.seeder("seed-a", data);
    leecher = cluster.leecher("leech-a");
    ASSERT_TRUE(swarmtest::Cluster::wait_complete({leecher.get()}, {"files/movie.bin"}, 120s));
  }
  swarmtest::Cluster cluster;
  std::unique_ptr<swarmtest::Node> seeder, leecher;
};

TEST_F(Dashboard, ShowsNodesSwarmsAndPieceSources) {
  ASSERT_NO_FATAL_FAILURE(seed_and_fetch(8 << 20, 7));

  test::Process dash({test::build_path("services/dashboard/swarmcache-dashboard"), "--listen", "127.0.0.1:0",
                      "--metastore", cluster.metastore_url(), "--poll-interval", "200ms"});
  auto port = dash.wait_for_number("http_port", 10s);
  ASSERT_TRUE(port) << dash.output();

  auto page = test::http_request(*port, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<title>swarmcache</title>"), std::string::npos);

  Json leech_view;
  std::string last;
  bool seen = test::wait_until(
      [&] {
        auto r = test::http_request(*port, "GET", "/api/overview");
        last = r.body;
        auto doc = json_parse(r.body);
        if (r.status != 200 || !doc) return false;
        Json swarms = doc->get("swarms");
        for (size_t i = 0; i < swarms.size(); ++i) {
          Json s = swarms.at(i);
          if (s.string_or("key", "") != "files/movie.bin" || s.int_or("complete", 0) < 2) continue;
          Json members = s.get("nodes");
          for (size_t j = 0; j < members.size(); ++j)
            if (members.at(j).string_or("role", "") == "leecher") leech_view = members.at(j);
        }
        return static_cast<bool>(leech_view);
      },
      60s, 100ms);
  ASSERT_TRUE(seen) << last << "\n" << dash.output();

  // Every piece the leecher fetched names a peer, and that peer is the seeder.
  Json prov = leech_view.get("provenance");
  ASSERT_GE(prov.size(), 1u) << last;
  int64_t from_seeder = 0, seeder_index = -1;
  for (size_t i = 0; i < prov.size(); ++i)
    if (prov.at(i).string_or("node", "") == "seed-a") {
      EXPECT_EQ(prov.at(i).string_or("role", ""), "seeder") << last;
      from_seeder = prov.at(i).int_or("bytes_given", 0);
      seeder_index = static_cast<int64_t>(i);
    }
  // At least the whole file (a block may be received twice near the end of a download).
  EXPECT_GE(from_seeder, 8 << 20) << last;
  Json sources = leech_view.get("piece_source");
  ASSERT_GT(sources.size(), 0u) << last;
  for (size_t i = 0; i < sources.size(); ++i)
    EXPECT_EQ(sources.at(i).as_int(), seeder_index) << "piece " << i << " is not attributed to the seeder";

  // Rates of a finished download are 0, not the last measured value.
  EXPECT_EQ(leech_view.int_or("download_rate", -1), 0) << last;

  auto ready = test::http_request(*port, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  auto metrics = test::http_request(*port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("swarmcache_dashboard_metastore_up 1"), std::string::npos);
}

TEST_F(Dashboard, RealBrowserDrawsNodesAndPieceMapsAndUpdates) {
  ASSERT_NO_FATAL_FAILURE(seed_and_fetch(4 << 20, 11));

  test::Process dash({test::build_path("services/dashboard/swarmcache-dashboard"), "--listen", "127.0.0.1:0",
                      "--metastore", cluster.metastore_url(), "--poll-interval", "300ms", "--tracker-admin",
                      "http://127.0.0.1:" + std::to_string(cluster.tracker_admin_port())});
  auto port = dash.wait_for_number("http_port", 10s);
  ASSERT_TRUE(port) << dash.output();

  // The screenshot stays in the build tree as the test's artifact.
  std::string browser_dir = test::build_path("tests/integration/dashboard/browser");
  std::string shot = test::build_path("tests/integration/dashboard/dashboard.png");
  std::remove(shot.c_str());
  test::Process browser({"node", browser_dir + "/browser_check.js", "http://127.0.0.1:" + std::to_string(*port) + "/",
                         shot, "seed-a,leech-a", "leech-b"});
  ASSERT_TRUE(browser.wait_for_output("initial ok", 120s)) << browser.output() << "\n" << dash.output();
  auto later = cluster.leecher("leech-b");
  ASSERT_TRUE(test::wait_until([&] { return !browser.running(); }, 120s)) << browser.output();
  auto rc = browser.stop();
  ASSERT_TRUE(rc);
  EXPECT_TRUE(WIFEXITED(*rc) && WEXITSTATUS(*rc) == 0) << browser.output() << "\n" << dash.output();
  EXPECT_GT(test::read_file(shot).size(), 1000u) << "no screenshot at " << shot;
}

}  // namespace
}  // namespace sc
