// Tests of the metrics registry and its Prometheus text rendering.
#include "common/core/metrics.h"

#include <gtest/gtest.h>

#include <ctime>
#include <thread>

#include "common/core/build_info.h"

namespace sc {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, CounterAndGaugeRender) {
  MetricsRegistry r;
  Counter& c = r.counter("swarmcache_test_requests_total", "Requests handled.");
  c.inc();
  c.inc(4);
  Gauge& g = r.gauge("swarmcache_test_peers", "Peers.\nSecond line \\ here.");
  g.set(10);
  g.add(-3);
  std::string text = r.render();
  EXPECT_TRUE(has_line(text, "# HELP swarmcache_test_requests_total Requests handled.")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE swarmcache_test_requests_total counter")) << text;
  EXPECT_TRUE(has_line(text, "swarmcache_test_requests_total 5")) << text;
  EXPECT_TRUE(has_line(text, "# HELP swarmcache_test_peers Peers.\\nSecond line \\\\ here.")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE swarmcache_test_peers gauge")) << text;
  EXPECT_TRUE(has_line(text, "swarmcache_test_peers 7")) << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST(Metrics, SameNameReturnsSameMetricAndTypeClashThrows) {
  MetricsRegistry r;
  Counter& a = r.counter("x_total", "x");
  Counter& b = r.counter("x_total", "x");
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(r.gauge("x_total", "x"), std::logic_error);
  EXPECT_THROW(r.counter("bad name", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("9lives", "x"), std::invalid_argument);
}

TEST(Metrics, LabelledFamilyEscapesValues) {
  MetricsRegistry r;
  auto& fam = r.counter_family("swarmcache_test_responses_total", "Responses.", {"code", "path"});
  fam.with({"200", "/a"}).inc(2);
  fam.with({"404", "q\"uote\\back\nnl"}).inc();
  EXPECT_EQ(&fam.with({"200", "/a"}), &fam.with(std::vector<std::string>{"200", "/a"}));
  EXPECT_THROW(fam.with({"200"}), std::logic_error);
  std::string text = r.render();
  EXPECT_TRUE(has_line(text, "swarmcache_test_responses_total{code=\"200\",path=\"/a\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "swarmcache_test_responses_total{code=\"404\",path=\"q\\\"uote\\\\back\\nnl\"} 1"))
      << text;
}

TEST(Metrics, HistogramBucketsSumAndCount) {
  MetricsRegistry r;
  Histogram& h = r.histogram("swarmcache_test_latency_seconds", "Latency.", {0.1, 1, 0.5});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.7);
  h.observe(3);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_NEAR(h.sum(), 3.85, 1e-9);
  std::vector<uint64_t> cum = h.cumulative();
  EXPECT_EQ(cum, (std::vector<uint64_t>{2, 2, 3, 4}));
  std::string text = r.render();
  EXPECT_TRUE(has_line(text, "# TYPE swarmcache_test_latency_seconds histogram")) << text;
  EXPECT_TRUE(has_line(text, "swarmcache_test_latency_seconds_bucket{le=\"0.1\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "swarmcache_test_latency_seconds_bucket{le=\"0.5\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "swarmcache_test_latency_seconds_bucket{le=\"1\"} 3")) << text;
  EXPECT_TRUE(has_line(text, "swarmcache_test_latency_seconds_bucket{le=\"+Inf\"} 4")) << text;
  EXPECT_TRUE(has_line(text, "swarmcache_test_latency_seconds_sum 3.85")) << text;
  EXPECT_TRUE(has_line(text, "swarmcache_test_latency_seconds_count 4")) << text;
}

TEST(Metrics, LabelledHistogramPutsLeLast) {
  MetricsRegistry r;
  auto& fam = r.histogram_family("h_seconds", "h", {"op"}, {1});
  fam.with({"get"}).observe(0.5);
  std::string text = r.render();
  EXPECT_TRUE(has_line(text, "h_seconds_bucket{op=\"get\",le=\"1\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "h_seconds_bucket{op=\"get\",le=\"+Inf\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "h_seconds_sum{op=\"get\"} 0.5")) << text;
  EXPECT_TRUE(has_line(text, "h_seconds_count{op=\"get\"} 1")) << text;
  EXPECT_EQ(latency_buckets().front(), 0.00005);
  EXPECT_EQ(latency_buckets().back(), 10);
}

TEST(Metrics, GaugeCallbackIsEvaluatedAtRender) {
  MetricsRegistry r;
  double v = 1.5;
  r.gauge_callback("swarmcache_test_computed", "Computed.", [&] { return v; });
  EXPECT_TRUE(has_line(r.render(), "swarmcache_test_computed 1.5"));
  v = 42;
  EXPECT_TRUE(has_line(r.render(), "swarmcache_test_computed 42"));
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry r;
  auto& fam = r.counter_family("c_total", "c", {"t"});
  Histogram& h = r.histogram("h2_seconds", "h", {1});
  constexpr int kThreads = 4, kIters = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        fam.with({i % 2 ? "odd" : "even"}).inc();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(fam.with({"odd"}).value() + fam.with({"even"}).value(), uint64_t{kThreads * kIters});
  EXPECT_EQ(h.count(), uint64_t{kThreads * kIters});
  EXPECT_NEAR(h.sum(), kThreads * kIters * 0.5, 1e-6);
}

// Every registry exports the process_* metrics (read from /proc) and the build identity.
TEST(Metrics, ProcessAndBuildInfo) {
  MetricsRegistry r;
  std::string text = r.render();
  EXPECT_TRUE(has_line(text, "# TYPE process_cpu_seconds_total counter")) << text;
  auto value = [&](const std::string& name) {
    auto at = ("\n" + text).find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size()));
  };
  EXPECT_GE(value("process_cpu_seconds_total"), 0);
  EXPECT_GT(value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(value("process_open_fds"), 3);  // stdin, stdout, stderr at least
  // Started after 2020 and not in the future.
  EXPECT_GT(value("process_start_time_seconds"), 1.5e9);
  EXPECT_LE(value("process_start_time_seconds"), static_cast<double>(std::time(nullptr)) + 1);
  const BuildInfo& b = build_info();
  EXPECT_FALSE(b.version.empty());
  EXPECT_TRUE(has_line(text, "swarmcache_build_info{version=\"" + std::string(b.version) + "\",revision=\"" +
                                 std::string(b.revision) + "\",build_type=\"" + std::string(b.build_type) + "\"} 1"))
      << text;
  EXPECT_EQ(version_line("x"), "x " + std::string(b.version) + " (" + std::string(b.revision) + ", " +
                                   std::string(b.build_type) + ")");
}

}  // namespace
}  // namespace sc
