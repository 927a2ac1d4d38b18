#pragma once
// The dashboard's one document: every node the metastore knows, and every swarm seen from the
// nodes' own status, with per-node progress and piece provenance (which peer supplied each
// piece). Pure: node list and status documents in, JSON out.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/json.h"
#include "proto/metastore_api.h"

namespace sc::dashboard {

// What the collector last learned from one node's control API.
struct NodeSnapshot {
  Json status;        // the node's GET /v1/status document (empty when unreachable)
  std::string error;  // why it is empty
};

// A service the dashboard probes besides the nodes: the metastore, the tracker, each proxy.
struct ServiceHealth {
  std::string name;   // "metastore", "tracker", "proxy"
  std::string url;
  bool ok = false;    // its /readyz answered 200
  std::string error;  // why not
  // Proxies: body bytes served by source ("cache", "peer", "upstream") from its /metrics.
  std::map<std::string, int64_t> bytes_by_source;
};

// The proxy's swarmcache_proxy_served_bytes_total samples, by their source label.
std::map<std::string, int64_t> served_bytes_by_source(std::string_view metrics_text);

// A piece map longer than this is down-sampled: the page draws a bounded number of cells.
inline constexpr size_t kMaxPieceCells = 1024;

// {"generated_at":ms,"nodes":[…],"swarms":[…],"services":[…]} — see page.html for how it is
// drawn. Swarms are keyed and sorted by content key (two keys with the same bytes stay two
// rows); each provenance entry names the node behind it, recognised by its peer id.
Json build_overview(const NodeList& nodes, const std::map<std::string, NodeSnapshot>& snapshots, int64_t now_ms,
                    const std::vector<ServiceHealth>& services = {});

}  // namespace sc::dashboard
