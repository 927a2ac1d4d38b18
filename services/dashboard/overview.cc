// Builds the dashboard overview: per node totals, and per swarm (info hash) the view from
// every node taking part, including which remote peer supplied which piece.
#include "overview.h"

#include <algorithm>
#include <vector>

namespace sc::dashboard {
namespace {

// Keeps at most kMaxPieceCells entries of a piece-source array, one per equal stride, so a
// 100 GiB torrent still draws as a bounded map.
Json sampled_piece_sources(const Json& src) {
  Json out = Json::array();
  size_t n = src.size();
  size_t stride = std::max<size_t>(1, (n + kMaxPieceCells - 1) / kMaxPieceCells);
  for (size_t i = 0; i < n; i += stride) out.push(Json::integer(src.at(i).as_int()));
  return out;
}

struct SwarmView {
  Json info = Json::object();
  Json members = Json::array();
  int64_t complete = 0;
};

}  // namespace

Json build_overview(const NodeList& nodes, const std::map<std::string, NodeSnapshot>& snapshots, int64_t now_ms) {
  Json node_rows = Json::array();
  std::map<std::string, SwarmView> swarms;  // by info hash, ordered for a stable page

  for (const NodeInfo& node : nodes.nodes) {
    int64_t torrents = 0, peers = 0, down = 0, up = 0;
    std::string error;
    auto snap = snapshots.find(node.id);
    if (snap != snapshots.end()) error = snap->second.error;
    Json list = snap != snapshots.end() ? snap->second.status.get("torrents") : Json();
    for (size_t i = 0; i < list.size(); ++i) {
      Json t = list.at(i);
      std::string infohash(t.string_or("infohash", ""));
      if (infohash.empty()) continue;
      torrents++;
      peers += t.int_or("peers", 0);
      down += t.int_or("download_rate", 0);
      up += t.int_or("upload_rate", 0);

      SwarmView& sv = swarms[infohash];
      if (!sv.info.get("infohash")) {
        sv.info.set("infohash", infohash)
            .set("key", t.string_or("key", ""))
            .set("name", t.string_or("name", ""))
            .set("size", t.int_or("size", 0));
      }
      bool complete = t.bool_or("complete", false);
      sv.complete += complete;
      Json member = Json::object();
      member.set("node", node.id)
          .set("role", node.role)
          .set("progress", t.get("progress").as_number())
          .set("state", t.string_or("state", ""))
          .set("complete", complete)
          .set("peers", t.int_or("peers", 0))
          .set("download_rate", t.int_or("download_rate", 0))
          .set("upload_rate", t.int_or("upload_rate", 0));
      if (Json prov = t.get("provenance"); prov.is_array()) member.set("provenance", prov);
      if (Json src = t.get("piece_source"); src.is_array()) member.set("piece_source", sampled_piece_sources(src));
      sv.members.push(std::move(member));
    }
    Json row = Json::object();
    row.set("id", node.id)
        .set("role", node.role)
        .set("control_url", node.control_url)
        .set("last_seen", node.last_seen)
        .set("torrents", torrents)
        .set("peers", peers)
        .set("download_rate", down)
        .set("upload_rate", up);
    if (!error.empty()) row.set("error", error);
    node_rows.push(std::move(row));
  }

  Json swarm_rows = Json::array();
  for (auto& [hash, sv] : swarms) {
    sv.info.set("complete", sv.complete).set("nodes", sv.members);
    swarm_rows.push(sv.info);
  }
  Json doc = Json::object();
  doc.set("generated_at", now_ms).set("nodes", node_rows).set("swarms", swarm_rows);
  return doc;
}

}  // namespace sc::dashboard
