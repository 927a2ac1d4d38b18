// Heartbeats under an idle event stream: while the leecher's event long-poll waits (60 s, no
// events), heartbeats with a short interval keep arriving and the node stays listed in the
// metastore's registry (they once queued behind the long-poll and expired).
#include <gtest/gtest.h>

#include "tests/integration/swarm/cluster.h"
#include "tests/support/support.h"

namespace sc {
namespace {

using namespace std::chrono_literals;

double leecher_metric(const swarmtest::Node& n, const std::string& series) {
  return test::metric(test::http_request(n.control_port, "GET", "/metrics").body, series);
}

TEST(LeecherHeartbeat, NeverQueuesBehindTheEventLongPoll) {
  swarmtest::Cluster cluster;
  // 400 ms interval → a 1.2 s registration; the long-poll holds its request for 60 s.
  auto leecher = cluster.leecher("leech-hb", {"--heartbeat-interval", "400ms", "--events-wait", "60s"});
  ASSERT_GT(leecher->control_port, 0);

  // The long-poll is out: the metastore holds one waiter (the leecher's) with nothing to say.
  std::string meta_metrics;
  ASSERT_TRUE(test::wait_until(
      [&] {
        meta_metrics = test::http_request(cluster.metastore_port(), "GET", "/metrics").body;
        return test::metric(meta_metrics, "swarmcache_metastore_event_waiters") >= 1;
      },
      20s, 50ms))
      << meta_metrics;

  // Many heartbeats go through while that one poll is still waiting, and every look at the
  // registry in the meantime lists the node.
  double start = leecher_metric(*leecher, "swarmcache_leecher_heartbeats_total");
  int looks = 0, listed = 0;
  std::string nodes;
  bool beat = test::wait_until(
      [&] {
        nodes = test::http_request(cluster.metastore_port(), "GET", "/v1/nodes").body;
        looks++;
        listed += nodes.find("\"leech-hb\"") != std::string::npos;
        return leecher_metric(*leecher, "swarmcache_leecher_heartbeats_total") >= start + 10;
      },
      30s, 100ms);
  EXPECT_TRUE(beat) << "heartbeats stalled behind the long-poll\n" << leecher->proc->output();
  EXPECT_EQ(listed, looks) << nodes;
  EXPECT_EQ(leecher_metric(*leecher, "swarmcache_leecher_heartbeat_failures_total"), 0);
  // Still the first poll: no event arrived and the 60 s wait has not run out.
  EXPECT_EQ(leecher_metric(*leecher, "swarmcache_leecher_event_poll_failures_total"), 0);
  EXPECT_EQ(leecher_metric(*leecher, "swarmcache_leecher_events_applied_total"), 0);
}

}  // namespace
}  // namespace sc
