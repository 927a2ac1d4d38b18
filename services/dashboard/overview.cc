// Builds the dashboard overview: per node totals, per swarm (content key) the view from every
// node taking part with an ETA, which node supplied which piece (peers recognised by their
// peer id, not their address), and the health of the services around the nodes.
#include "overview.h"

#include <algorithm>
#include <cstdlib>
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

struct PeerOwner {
  std::string node, role;
};

// Copies a node's provenance list, naming the node behind each peer when its peer id is one
// of ours; other clients keep only their address (role "peer").
Json named_provenance(const Json& prov, const std::map<std::string, PeerOwner>& by_peer_id) {
  Json out = Json::array();
  for (size_t i = 0; i < prov.size(); ++i) {
    Json p = prov.at(i);
    Json e = Json::object();
    e.set("endpoint", p.string_or("endpoint", ""))
        .set("client", p.string_or("client", ""))
        .set("bytes_given", p.int_or("bytes_given", 0))
        .set("bytes_taken", p.int_or("bytes_taken", 0))
        .set("connected", p.bool_or("connected", false));
    auto owner = by_peer_id.find(std::string(p.string_or("peer_id", "")));
    if (owner != by_peer_id.end())
      e.set("node", owner->second.node).set("role", owner->second.role);
    else
      e.set("role", "peer");
    out.push(std::move(e));
  }
  return out;
}

Json service_rows(const std::vector<ServiceHealth>& services) {
  Json rows = Json::array();
  for (const auto& s : services) {
    Json row = Json::object();
    row.set("name", s.name).set("url", s.url).set("ok", s.ok);
    if (!s.error.empty()) row.set("error", s.error);
    if (s.name == "proxy") {
      Json bytes = Json::object();
      for (const char* source : {"cache", "peer", "upstream"}) {
        auto it = s.bytes_by_source.find(source);
        bytes.set(source, it == s.bytes_by_source.end() ? 0 : it->second);
      }
      row.set("bytes_by_source", std::move(bytes));
    }
    rows.push(std::move(row));
  }
  return rows;
}

}  // namespace

std::map<std::string, int64_t> served_bytes_by_source(std::string_view text) {
  static constexpr std::string_view kPrefix = "swarmcache_proxy_served_bytes_total{source=\"";
  std::map<std::string, int64_t> out;
  size_t pos = 0;
  while ((pos = text.find(kPrefix, pos)) != std::string_view::npos) {
    if (pos > 0 && text[pos - 1] != '\n') {  // part of a longer name or a comment
      pos += kPrefix.size();
      continue;
    }
    size_t name_at = pos + kPrefix.size();
    size_t quote = text.find("\"} ", name_at);
    size_t eol = text.find('\n', name_at);
    if (quote == std::string_view::npos || quote > eol) break;
    std::string value(text.substr(quote + 3, eol == std::string_view::npos ? std::string_view::npos : eol - quote - 3));
    out[std::string(text.substr(name_at, quote - name_at))] = std::strtoll(value.c_str(), nullptr, 10);
    pos = quote;
  }
  return out;
}

Json build_overview(const NodeList& nodes, const std::map<std::string, NodeSnapshot>& snapshots, int64_t now_ms,
                    const std::vector<ServiceHealth>& services) {
  std::map<std::string, PeerOwner> by_peer_id;
  for (const NodeInfo& node : nodes.nodes) {
    auto snap = snapshots.find(node.id);
    if (snap == snapshots.end() || !snap->second.status) continue;
    std::string pid(snap->second.status.get("node").string_or("peer_id", ""));
    if (!pid.empty()) by_peer_id[pid] = {node.id, node.role};
  }

  Json node_rows = Json::array();
  std::map<std::string, SwarmView> swarms;  // by content key: ordered for a stable page

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
      std::string key(t.string_or("key", ""));
      torrents++;
      peers += t.int_or("peers", 0);
      int64_t rate = t.int_or("download_rate", 0);
      down += rate;
      up += t.int_or("upload_rate", 0);

      SwarmView& sv = swarms[key.empty() ? infohash : key];
      if (!sv.info.get("infohash")) {
        sv.info.set("infohash", infohash)
            .set("key", key)
            .set("name", t.string_or("name", ""))
            .set("size", t.int_or("size", 0));
      }
      bool complete = t.bool_or("complete", false);
      double progress = t.get("progress").as_number();
      sv.complete += complete;
      Json member = Json::object();
      member.set("node", node.id)
          .set("role", node.role)
          .set("progress", progress)
          .set("state", t.string_or("state", ""))
          .set("complete", complete)
          .set("peers", t.int_or("peers", 0))
          .set("download_rate", rate)
          .set("upload_rate", t.int_or("upload_rate", 0));
      // Seconds left at the current rate; absent when nothing is moving.
      if (!complete && rate > 0) {
        double left = static_cast<double>(t.int_or("size", 0)) * (1.0 - std::clamp(progress, 0.0, 1.0));
        member.set("eta_seconds", static_cast<int64_t>(left / static_cast<double>(rate) + 0.5));
      }
      if (Json prov = t.get("provenance"); prov.is_array()) member.set("provenance", named_provenance(prov, by_peer_id));
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
  for (auto& [key, sv] : swarms) {
    sv.info.set("complete", sv.complete).set("nodes", sv.members);
    swarm_rows.push(sv.info);
  }
  Json doc = Json::object();
  doc.set("generated_at", now_ms).set("nodes", node_rows).set("swarms", swarm_rows).set("services", service_rows(services));
  return doc;
}

}  // namespace sc::dashboard
