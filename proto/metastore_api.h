#pragma once
// JSON shapes of the metastore HTTP API, shared by the metastore and its clients (seeder,
// leecher, proxy, dashboard, swarmctl). Pure: to_json renders a compact UTF-8 object;
// *_from_json parses one, bounded (size, element counts), ignoring unknown fields so either
// side can grow. Errors are invalid_argument (too_large past the size bound).
//
// Routes (base http://host:7070):
//   PUT    /v1/torrents/{key}      body .torrent → 201 new | 200 same infohash | 409 | 400 | 413
//   GET    /v1/torrents/{key}      .torrent bytes, ETag "<infohash>"; Accept: application/json → TorrentMeta
//   GET    /v1/torrents?prefix=&limit=&cursor=   → TorrentPage
//   DELETE /v1/torrents/{key}      → 204 | 404
//   GET    /v1/events?after=&wait= → EventsPage (or text/event-stream: "id:", "event:", "data: Event");
//                                    410 when `after` fell out of the kept history (resync from the listing)
//   POST   /v1/leases/{key}        LeaseRequest → 201 granted | 200 renewed → Lease;  409 → Lease (holder)
//   DELETE /v1/leases/{key}?holder=  → 204 | 404 (not held) | 409 (held by another)
//   PUT    /v1/nodes/{id}          NodeInfo (heartbeat) → 200 NodeInfo
//   GET    /v1/nodes               → NodeList
// Keys in paths are percent-encoded; see proto/content_key.h for what a key may be.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace sc {

inline constexpr size_t kMaxApiJsonBytes = 4 << 20;  // largest JSON document either side parses

struct TorrentFileEntry {
  std::string path;
  int64_t length = 0;
};

// GET /v1/torrents/{key} with Accept: application/json.
struct TorrentMeta {
  std::string key;
  std::string kind;          // "blob" | "ostree" | "file" | "dir"
  std::string infohash;      // the ETag: infohash_v1 when present, else infohash_v2
  std::string infohash_v1;   // 40 lower hex, "" for pure v2
  std::string infohash_v2;   // 64 lower hex, "" for pure v1
  std::string name;
  int64_t size = 0;
  int64_t piece_length = 0;
  std::vector<TorrentFileEntry> files;
  int64_t created = 0;       // ms since the Unix epoch
  int64_t last_access = 0;   // ms since the Unix epoch
};

struct TorrentListItem {
  std::string key;
  std::string infohash;
  int64_t size = 0;
};

// GET /v1/torrents: `cursor` is "" on the last page, else pass it back as ?cursor=.
struct TorrentPage {
  std::vector<TorrentListItem> items;
  std::string cursor;
};

struct MetaEvent {
  std::string id;        // Redis stream id "<ms>-<seq>"; resume with ?after=<id>
  std::string type;      // "put" | "delete"
  std::string key;
  std::string infohash;
};

struct EventsPage {
  std::vector<MetaEvent> events;
  std::string last_id;   // pass back as ?after=; equals the request's `after` when empty
};

// POST /v1/leases/{key} body.
struct LeaseRequest {
  std::string holder;
  int64_t ttl_ms = 0;
};

// A lease as held: the answer to POST (granted, renewed, or 409 naming the holder).
struct Lease {
  std::string key;
  std::string holder;
  int64_t ttl_ms = 0;    // remaining
};

// PUT /v1/nodes/{id} body and GET /v1/nodes entries.
struct NodeInfo {
  std::string id;                   // from the path on PUT
  std::string role;                 // "seeder" | "leecher" | "proxy" | "tracker" | …
  std::string control_url;
  std::vector<std::string> swarms;  // infohashes the node takes part in
  std::string info_json = "{}";     // free-form status object, passed through (bounded)
  int64_t ttl_ms = 0;               // heartbeat lifetime asked for (0: server default)
  int64_t last_seen = 0;            // ms since the Unix epoch (set by the server)
};

struct NodeList {
  std::vector<NodeInfo> nodes;
};

// POST /v1/quarantine/{key} body: this torrent (by infohash) failed verification under the
// key; the answer is {"removed":true|false}.
struct QuarantineRequest {
  std::string infohash;  // 40 lower-case hex (upper case is accepted and lowered)
  std::string reason;    // free text for operators, at most kMaxQuarantineReasonBytes
};
inline constexpr size_t kMaxQuarantineReasonBytes = 1024;

std::string to_json(const TorrentMeta& v);
std::string to_json(const TorrentPage& v);
std::string to_json(const MetaEvent& v);
std::string to_json(const EventsPage& v);
std::string to_json(const LeaseRequest& v);
std::string to_json(const Lease& v);
std::string to_json(const NodeInfo& v);
std::string to_json(const NodeList& v);
std::string to_json(const QuarantineRequest& v);
// {"error":{"code":…,"message":…}}
std::string error_json(std::string_view code, std::string_view message);

Result<TorrentMeta> torrent_meta_from_json(std::string_view json);
Result<TorrentPage> torrent_page_from_json(std::string_view json);
Result<MetaEvent> meta_event_from_json(std::string_view json);
Result<EventsPage> events_page_from_json(std::string_view json);
Result<LeaseRequest> lease_request_from_json(std::string_view json);
Result<Lease> lease_from_json(std::string_view json);
Result<NodeInfo> node_info_from_json(std::string_view json);
Result<NodeList> node_list_from_json(std::string_view json);
Result<QuarantineRequest> quarantine_request_from_json(std::string_view json);
// Parses an error body; the Error's code is invalid_argument and message is "<code>: <message>".
Result<Error> error_from_json(std::string_view json);

// Bounds on what a client may send in a heartbeat.
inline constexpr size_t kMaxNodeSwarms = 10'000;
inline constexpr size_t kMaxNodeInfoBytes = 64 << 10;
inline constexpr size_t kMaxFieldBytes = 2048;  // holder, role, control_url, ids

}  // namespace sc
