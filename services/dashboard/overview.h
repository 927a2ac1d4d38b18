#pragma once
// The dashboard's one document: every node the metastore knows, and every swarm seen from the
// nodes' own status, with per-node progress and piece provenance (which peer supplied each
// piece). Pure: node list and status documents in, JSON out.
#include <cstdint>
#include <map>
#include <string>

#include "common/core/json.h"
#include "proto/metastore_api.h"

namespace sc::dashboard {

// What the collector last learned from one node's control API.
struct NodeSnapshot {
  Json status;        // the node's GET /v1/status document (empty when unreachable)
  std::string error;  // why it is empty
};

// A piece map longer than this is down-sampled: the page draws a bounded number of cells.
inline constexpr size_t kMaxPieceCells = 1024;

// {"generated_at":ms,"nodes":[…],"swarms":[…]} — see page.html for how it is drawn.
Json build_overview(const NodeList& nodes, const std::map<std::string, NodeSnapshot>& snapshots, int64_t now_ms);

}  // namespace sc::dashboard
