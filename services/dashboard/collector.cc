// Collector: one round = GET /v1/nodes from the metastore, then GET <control_url>/v1/status
// from each node in parallel; when all have answered, the overview document is rebuilt.
#include "collector.h"

#include "common/core/log.h"
#include "common/io/event_loop.h"

namespace sc::dashboard {

// A node's status document may carry piece maps; anything larger is refused.
constexpr size_t kMaxStatusBytes = 8 << 20;

struct Collector::Round {
  NodeList nodes;
  std::map<std::string, NodeSnapshot> snapshots;
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
    for (const NodeInfo& n : round->nodes.nodes)
      if (!n.control_url.empty()) round->pending++;
    if (round->pending == 0) {
      finish(*round);
      return;
    }
    for (const NodeInfo& n : round->nodes.nodes) {
      if (n.control_url.empty()) continue;
      get_(n.control_url + "/v1/status?pieces=1", [this, round, id = n.id](Result<std::string> status) {
        NodeSnapshot& snap = round->snapshots[id];
        if (!status) {
          snap.error = status.error().message;
        } else if (auto doc = json_parse(*status, JsonLimits{kMaxStatusBytes, 32}); doc) {
          snap.status = std::move(*doc);
        } else {
          snap.error = "bad status document: " + doc.error().message;
        }
        if (--round->pending == 0) finish(*round);
      });
    }
  });
}

void Collector::finish(Round& round) {
  overview_ = build_overview(round.nodes, round.snapshots, loop_.clock().now_ms()).dump();
  polling_ = false;
  if (round.done) round.done();
}

}  // namespace sc::dashboard
