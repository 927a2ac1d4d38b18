// What seeder and leecher export after a real download: bytes up and down (total and per key),
// peers, download durations, completed torrents (not keys); every daemon's process_* metrics
// and swarmcache_build_info; the start-up line whatever the log level.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/core/json.h"
#include "tests/integration/swarm/cluster.h"
#include "tests/support/support.h"

namespace sc {
namespace {

using namespace std::chrono_literals;

std::string metrics_of(int port) { return test::http_request(port, "GET", "/metrics").body; }

TEST(LeecherMetrics, BytesPeersDurationsAndCompletedTorrents) {
  swarmtest::Cluster cluster;
  std::string data = cluster.path("seed-data");
  // Two keys over the same bytes: one torrent.
  swarmtest::write_random_file(data + "/a.bin", 3 << 20, 21);
  std::filesystem::create_directories(data + "/copy");
  std::filesystem::copy_file(data + "/a.bin", data + "/copy/a.bin");
  auto seeder = cluster.seeder("seed-m", data);
  auto leecher = cluster.leecher("leech-m", {"--select", "files/*"});
  // Both keys followed and complete (the leecher's own items list in its status).
  auto both_complete = [&] {
    auto doc = json_parse(test::http_request(leecher->control_port, "GET", "/v1/status").body);
    if (!doc) return false;
    Json items = doc->get("items");
    int done = 0;
    for (size_t i = 0; i < items.size(); ++i) done += items.at(i).bool_or("complete", false);
    return done == 2;
  };
  ASSERT_TRUE(test::wait_until(both_complete, 120s, 200ms)) << swarmtest::Cluster::status(*leecher).raw;

  // libtorrent folds a peer's payload into its torrent's totals on its once-a-second tick: the
  // seeder's upload count may trail the leecher's completion by up to a second.
  std::string sm;
  test::wait_until([&] {
    sm = metrics_of(seeder->control_port);
    return test::metric(sm, "swarmcache_seeder_uploaded_bytes_total") >= (3 << 20);
  }, 10s, 200ms);
  std::string lm = metrics_of(leecher->control_port);
  EXPECT_EQ(test::metric(lm, "swarmcache_leecher_completed_total"), 1) << lm;
  EXPECT_EQ(test::metric(lm, "swarmcache_leecher_download_duration_seconds_count"), 1) << lm;
  EXPECT_GE(test::metric(lm, "swarmcache_leecher_downloaded_bytes_total"), 3 << 20) << lm;
  EXPECT_GE(test::metric(sm, "swarmcache_seeder_uploaded_bytes_total"), 3 << 20) << sm;
  // Per key: the torrent's bytes count under the key it was added with.
  double per_key = std::max(test::metric(lm, R"(swarmcache_leecher_key_downloaded_bytes_total{key="files/a.bin"})"),
                            test::metric(lm, R"(swarmcache_leecher_key_downloaded_bytes_total{key="files/copy/a.bin"})"));
  EXPECT_GE(per_key, 3 << 20) << lm;
  EXPECT_GE(test::metric(lm, "swarmcache_leecher_peers"), 0) << lm;

  test::Process dash({test::build_path("services/dashboard/swarmcache-dashboard"), "--listen", "127.0.0.1:0",
                      "--metastore", cluster.metastore_url(), "--log-level", "error"});
  auto dash_port = dash.wait_for_number("http_port", 10s);
  ASSERT_TRUE(dash_port) << dash.output();
  // The start-up line, although the level hides info and warn.
  EXPECT_NE(dash.output().find("msg=\"listening\" name=http http_port="), std::string::npos) << dash.output();
  EXPECT_NE(leecher->proc->output().find("msg=\"listening\" name=http http_port="), std::string::npos);

  for (int port : {leecher->control_port, seeder->control_port, cluster.metastore_port(), cluster.tracker_admin_port(),
                   *dash_port}) {
    std::string m = metrics_of(port);
    EXPECT_GT(test::metric(m, "process_resident_memory_bytes"), 0) << port << "\n" << m;
    EXPECT_GT(test::metric(m, "process_start_time_seconds"), 1.5e9) << port;
    EXPECT_GE(test::metric(m, "process_open_fds"), 3) << port;
    EXPECT_GE(test::metric(m, "process_cpu_seconds_total"), 0) << port;
    EXPECT_NE(m.find("swarmcache_build_info{version=\""), std::string::npos) << port;
  }
}

}  // namespace
}  // namespace sc
