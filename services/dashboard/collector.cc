// Collector: one round = GET /v1/nodes from the metastore, then GET <control_url>/v1/status
// from each node and the health (and, for proxies, /metrics) of the tracker and each proxy, in
// parallel; when all have answered, the overview document is rebuilt.
#include "collector.h"

#include "common/core/log.h"
#include "common/io/event_loop.h"

namespace sc::dashboard {

// A node's status document may carry piece maps; anything larger is refused.
constexpr size_t kMaxStatusBytes = 8 << 20;

struct Collector::Round {
  NodeList nodes;
  std::map<std::string, NodeSnapshot> snapshots;
  std::vector<ServiceHealth> services;
  size_t pending = 0;
  std::function<void()> done;
};

Collector::Collector(EventLoop& loop, CollectorOptions options, Getter get)
    : loop_(loop), opt_(std::move(options)), get_(std::move(get)) {}

Collector::~Collector() = default;

void Collector::start() {
  poll();
  timer_ = loop_.every(opt_.poll_interval_ms, [this] { poll(); });
}

void Collector::poll(std::function<void()> done) {
  if (polling_) {  // the previous round is still waiting on a slow node
    if (done) done();
    return;
  }
  polling_ = true;
  auto round = std::make_shared<Round>();
  round->done = std::move(done);
  get_(opt_.metastore + "/v1/nodes", [this, round](Result<std::string> body) {
    auto list = body ? node_list_from_json(*body) : std::unexpected(body.error());
    metastore_ok_ = list.has_value();
    if (!list) {
      // Keep showing the last good overview; /readyz reports the outage.
      SC_WARN("dashboard cannot read the node list", {"error", list.error().message});
      polling_ = false;
      if (round->done) round->done();
      return;
    }
    round->nodes = std::move(*list);
    auto service = [&](std::string name, std::string url) {
      round->services.emplace_back();
      round->services.back().name = std::move(name);
      round->services.back().url = std::move(url);
    };
    service("metastore", opt_.metastore);
    round->services.back().ok = true;  // it just answered
    if (!opt_.tracker_admin.empty()) service("tracker", opt_.tracker_admin);
    for (const auto& url : opt_.proxies) service("proxy", url);
    // One count for the fan-out itself, so answers that come back at once cannot finish the
    // round before every request is out.
    round->pending = 1;
    for (size_t i = 1; i < round->services.size(); ++i) probe(round, i);
    for (const NodeInfo& n : round->nodes.nodes) {
      if (n.control_url.empty()) continue;
      round->pending++;
      get_(n.control_url + "/v1/status?pieces=1", [this, round, id = n.id](Result<std::string> status) {
        NodeSnapshot& snap = round->snapshots[id];
        if (!status) {
          snap.error = status.error().message;
        } else if (auto doc = json_parse(*status, JsonLimits{kMaxStatusBytes, 32}); doc) {
          snap.status = std::move(*doc);
        } else {
          snap.error = "bad status document: " + doc.error().message;
        }
        settle(round);
      });
    }
    settle(round);
  });
}

void Collector::probe(const std::shared_ptr<Round>& round, size_t index) {
  round->pending++;
  std::string base = round->services[index].url;
  get_(base + "/readyz", [this, round, index](Result<std::string> r) {
    ServiceHealth& s = round->services[index];
    s.ok = r.has_value();
    if (!r) s.error = r.error().message;
    settle(round);
  });
  if (round->services[index].name != "proxy") return;
  round->pending++;
  get_(base + "/metrics", [this, round, index](Result<std::string> r) {
    if (r) round->services[index].bytes_by_source = served_bytes_by_source(*r);
    settle(round);
  });
}

void Collector::settle(const std::shared_ptr<Round>& round) {
  if (--round->pending == 0) finish(*round);
}

void Collector::finish(Round& round) {
  overview_ = build_overview(round.nodes, round.snapshots, loop_.clock().now_ms(), round.services).dump();
  polling_ = false;
  if (round.done) round.done();
}

}  // namespace sc::dashboard
