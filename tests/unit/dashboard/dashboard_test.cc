// Dashboard aggregation: node totals, swarms joined across nodes, provenance passed through,
// piece maps bounded, unreachable nodes reported, and the last good overview kept while the
// metastore is down. The collector is driven with canned documents in place of HTTP.
#include <gtest/gtest.h>

#include <map>

#include "collector.h"
#include "common/io/event_loop.h"
#include "overview.h"

namespace sc::dashboard {
namespace {

const char* kNodes = R"({"nodes":[
  {"id":"seed-1","role":"seeder","control_url":"http://s1","swarms":[],"last_seen":1000},
  {"id":"leech-1","role":"leecher","control_url":"http://l1","swarms":[],"last_seen":2000},
  {"id":"leech-2","role":"leecher","control_url":"http://l2","swarms":[],"last_seen":3000}]})";

std::string status_doc(double progress, bool complete, const std::string& piece_sources) {
  return R"({"torrents":[{"key":"files/a.iso","infohash":"aa","name":"a.iso","size":1048576,"progress":)" +
         std::to_string(progress) + R"(,"state":"downloading","complete":)" + (complete ? "true" : "false") +
         R"(,"peers":2,"download_rate":100,"upload_rate":50,"provenance":[{"endpoint":"10.0.0.1:6881","bytes_given":4096}],"piece_source":)" +
         piece_sources + "}]}";
}

class FakeNet {
 public:
  std::map<std::string, Result<std::string>> answers;
  Getter getter() {
    return [this](const std::string& url, std::function<void(Result<std::string>)> done) {
      auto it = answers.find(url);
      if (it == answers.end()) return done(fail(Errc::unavailable, "connection refused: " + url));
      done(it->second);
    };
  }
};

TEST(Dashboard, JoinsSwarmsAcrossNodes) {
  EventLoop loop;
  FakeNet net;
  net.answers.emplace("http://meta/v1/nodes", std::string(kNodes));
  net.answers.emplace("http://s1/v1/status?pieces=1", status_doc(1.0, true, "[-1,-1]"));
  net.answers.emplace("http://l1/v1/status?pieces=1", status_doc(0.5, false, "[0,-1]"));
  Collector c(loop, CollectorOptions{"http://meta", 1000}, net.getter());
  bool done = false;
  c.poll([&] { done = true; });
  ASSERT_TRUE(done);
  EXPECT_TRUE(c.metastore_ok());
  auto doc = json_parse(c.overview_json());
  ASSERT_TRUE(doc);
  Json nodes = doc->get("nodes");
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes.at(0).string_or("id", ""), "seed-1");
  EXPECT_EQ(nodes.at(0).int_or("torrents", -1), 1);
  EXPECT_EQ(nodes.at(1).int_or("download_rate", -1), 100);
  // leech-2 did not answer: listed, with the reason.
  EXPECT_NE(nodes.at(2).string_or("error", "").find("connection refused"), std::string_view::npos);
  Json swarms = doc->get("swarms");
  ASSERT_EQ(swarms.size(), 1u);
  Json s = swarms.at(0);
  EXPECT_EQ(s.string_or("key", ""), "files/a.iso");
  EXPECT_EQ(s.int_or("complete", -1), 1);
  ASSERT_EQ(s.get("nodes").size(), 2u);
  Json leech = s.get("nodes").at(1);
  EXPECT_EQ(leech.string_or("node", ""), "leech-1");
  EXPECT_DOUBLE_EQ(leech.get("progress").as_number(), 0.5);
  EXPECT_EQ(leech.get("provenance").at(0).string_or("endpoint", ""), "10.0.0.1:6881");
  EXPECT_EQ(leech.get("piece_source").at(0).as_int(), 0);
}

TEST(Dashboard, PieceMapsAreBounded) {
  std::string sources = "[";
  for (int i = 0; i < 10000; ++i) sources += (i ? "," : "") + std::to_string(i % 3 - 1);
  sources += "]";
  NodeList nodes;
  nodes.nodes.push_back(NodeInfo{.id = "n", .role = "leecher", .control_url = "http://n"});
  std::map<std::string, NodeSnapshot> snaps;
  snaps["n"].status = *json_parse(status_doc(0.3, false, sources));
  Json doc = build_overview(nodes, snaps, 5);
  size_t cells = doc.get("swarms").at(0).get("nodes").at(0).get("piece_source").size();
  EXPECT_LE(cells, kMaxPieceCells);
  EXPECT_GE(cells, kMaxPieceCells / 2);
  EXPECT_EQ(doc.int_or("generated_at", 0), 5);
}

TEST(Dashboard, KeepsLastOverviewWhileMetastoreIsDown) {
  EventLoop loop;
  FakeNet net;
  net.answers.emplace("http://meta/v1/nodes", std::string(kNodes));
  Collector c(loop, CollectorOptions{"http://meta", 1000}, net.getter());
  c.poll();
  std::string before = c.overview_json();
  ASSERT_NE(before.find("seed-1"), std::string::npos);
  net.answers.clear();
  c.poll();
  EXPECT_FALSE(c.metastore_ok());
  EXPECT_EQ(c.overview_json(), before);
}

TEST(Dashboard, BadStatusDocumentIsReported) {
  EventLoop loop;
  FakeNet net;
  net.answers.emplace("http://meta/v1/nodes", std::string(kNodes));
  net.answers.emplace("http://s1/v1/status?pieces=1", std::string("{not json"));
  Collector c(loop, CollectorOptions{"http://meta", 1000}, net.getter());
  c.poll();
  auto doc = json_parse(c.overview_json());
  ASSERT_TRUE(doc);
  EXPECT_NE(doc->get("nodes").at(0).string_or("error", "").find("bad status document"), std::string_view::npos);
}

// Two keys over the same bytes stay two swarms, sorted by key; peers are named by the node
// whose peer id they carry, whatever their address; ETA follows size, progress and rate.
TEST(Dashboard, SwarmsByKeyPeersByNodeAndEta) {
  NodeList nodes;
  nodes.nodes.push_back(NodeInfo{.id = "seed-1", .role = "seeder", .control_url = "http://s1"});
  nodes.nodes.push_back(NodeInfo{.id = "leech-1", .role = "leecher", .control_url = "http://l1"});
  std::map<std::string, NodeSnapshot> snaps;
  snaps["seed-1"].status = *json_parse(R"({"node":{"peer_id":"-SC0100-aaaaaaaaaaaa"},"torrents":[
    {"key":"files/z.iso","infohash":"aa","size":1000,"progress":1,"complete":true,"peers":1},
    {"key":"files/b.iso","infohash":"aa","size":1000,"progress":1,"complete":true,"peers":1}]})");
  snaps["leech-1"].status = *json_parse(R"({"node":{"peer_id":"-SC0100-bbbbbbbbbbbb"},"torrents":[
    {"key":"files/z.iso","infohash":"aa","size":1000,"progress":0.5,"complete":false,"peers":2,"download_rate":100,
     "provenance":[{"endpoint":"127.0.0.1:40001","peer_id":"-SC0100-aaaaaaaaaaaa","bytes_given":500},
                   {"endpoint":"10.9.9.9:6881","peer_id":"-qB4500-xxxxxxxxxxxx","bytes_given":1}],
     "piece_source":[0,1]}]})");
  Json doc = build_overview(nodes, snaps, 1);
  Json swarms = doc.get("swarms");
  ASSERT_EQ(swarms.size(), 2u);
  EXPECT_EQ(swarms.at(0).string_or("key", ""), "files/b.iso");
  EXPECT_EQ(swarms.at(1).string_or("key", ""), "files/z.iso");
  Json leech = swarms.at(1).get("nodes").at(1);
  ASSERT_EQ(leech.string_or("node", ""), "leech-1");
  EXPECT_EQ(leech.int_or("eta_seconds", -1), 5);  // 500 bytes left at 100 B/s
  Json prov = leech.get("provenance");
  EXPECT_EQ(prov.at(0).string_or("node", ""), "seed-1");
  EXPECT_EQ(prov.at(0).string_or("role", ""), "seeder");
  EXPECT_FALSE(prov.at(1).get("node"));
  EXPECT_EQ(prov.at(1).string_or("role", ""), "peer");
  EXPECT_FALSE(swarms.at(1).get("nodes").at(0).get("eta_seconds"));  // complete: no ETA
}

TEST(Dashboard, ProxyHealthAndBytesBySource) {
  auto bytes = served_bytes_by_source(
      "# HELP swarmcache_proxy_served_bytes_total Body bytes\n"
      "# TYPE swarmcache_proxy_served_bytes_total counter\n"
      "swarmcache_proxy_served_bytes_total{source=\"cache\"} 10\n"
      "swarmcache_proxy_served_bytes_total{source=\"peer\"} 2000\n"
      "xswarmcache_proxy_served_bytes_total{source=\"upstream\"} 7\n"
      "swarmcache_proxy_served_bytes_total{source=\"upstream\"} 30");
  EXPECT_EQ(bytes["cache"], 10);
  EXPECT_EQ(bytes["peer"], 2000);
  EXPECT_EQ(bytes["upstream"], 30);

  EventLoop loop;
  FakeNet net;
  net.answers.emplace("http://meta/v1/nodes", std::string(R"({"nodes":[]})"));
  net.answers.emplace("http://tracker:6880/readyz", std::string("ready\n"));
  net.answers.emplace("http://p1/readyz", std::string("ready\n"));
  net.answers.emplace("http://p1/metrics", std::string("swarmcache_proxy_served_bytes_total{source=\"peer\"} 5\n"));
  Collector c(loop, CollectorOptions{"http://meta", 1000, "http://tracker:6880", {"http://p1", "http://p2"}}, net.getter());
  bool done = false;
  c.poll([&] { done = true; });
  ASSERT_TRUE(done);
  auto doc = json_parse(c.overview_json());
  ASSERT_TRUE(doc);
  Json services = doc->get("services");
  ASSERT_EQ(services.size(), 4u) << c.overview_json();
  EXPECT_EQ(services.at(0).string_or("name", ""), "metastore");
  EXPECT_TRUE(services.at(1).bool_or("ok", false));
  EXPECT_TRUE(services.at(2).bool_or("ok", false));
  EXPECT_EQ(services.at(2).get("bytes_by_source").int_or("peer", -1), 5);
  EXPECT_EQ(services.at(2).get("bytes_by_source").int_or("upstream", -1), 0);
  EXPECT_FALSE(services.at(3).bool_or("ok", true));  // p2 is down
  EXPECT_NE(services.at(3).string_or("error", "").find("connection refused"), std::string_view::npos);
}

}  // namespace
}  // namespace sc::dashboard
