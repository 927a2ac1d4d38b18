// JSON encoding and decoding of the metastore API types (see metastore_api.h), on sc::Json.
// Decoders check types and bounds of every field they keep and ignore the rest.
#include "proto/metastore_api.h"

#include "common/core/bytes.h"
#include "common/core/json.h"

namespace sc {
namespace {

// jansson's own nesting limit, which bounded these documents before they went through
// json_parse: the depth this API has always accepted. Deeper is malformed (400), as before.
constexpr size_t kMaxApiJsonDepth = 2048;

Result<Json> parse(std::string_view text) {
  if (text.size() > kMaxApiJsonBytes) return fail(Errc::too_large, "JSON body too large");
  auto j = json_parse(text, {.max_size = kMaxApiJsonBytes, .max_depth = kMaxApiJsonDepth});
  if (!j) return fail(Errc::invalid_argument, j.error().message);
  if (!j->is_object()) return fail(Errc::invalid_argument, "JSON body must be an object");
  return j;
}

// Field readers: absent fields keep their default unless required.
Status get_str(const Json& o, const char* k, std::string& out, bool required = false, size_t max = kMaxFieldBytes) {
  Json v = o.get(k);
  if (!v || v.is_null()) {
    if (required) return fail(Errc::invalid_argument, std::string("missing field ") + k);
    return {};
  }
  if (!v.is_string()) return fail(Errc::invalid_argument, std::string("field ") + k + " must be a string");
  if (v.as_string().size() > max) return fail(Errc::invalid_argument, std::string("field ") + k + " too long");
  out.assign(v.as_string());
  return {};
}

Status get_int(const Json& o, const char* k, int64_t& out, bool required = false) {
  Json v = o.get(k);
  if (!v || v.is_null()) {
    if (required) return fail(Errc::invalid_argument, std::string("missing field ") + k);
    return {};
  }
  if (!v.is_integer()) return fail(Errc::invalid_argument, std::string("field ") + k + " must be an integer");
  out = v.as_int();
  return {};
}

// An empty handle when the field is absent or null.
Result<Json> get_array(const Json& o, const char* k, size_t max) {
  Json v = o.get(k);
  if (!v || v.is_null()) return Json();
  if (!v.is_array()) return fail(Errc::invalid_argument, std::string("field ") + k + " must be an array");
  if (v.size() > max) return fail(Errc::invalid_argument, std::string("field ") + k + " has too many elements");
  return v;
}

// Appends decode(element) for each element of the array field k (none when absent).
template <class T, class Decode>
Status get_list(const Json& o, const char* k, size_t max, std::vector<T>& out, Decode decode) {
  auto a = get_array(o, k, max);
  if (!a) return std::unexpected(a.error());
  for (size_t i = 0; i < a->size(); ++i) {
    Result<T> v = decode(a->at(i));
    if (!v) return std::unexpected(v.error());
    out.push_back(std::move(*v));
  }
  return {};
}

#define SC_TRY(expr)                                        \
  do {                                                      \
    if (auto st_ = (expr); !st_) return std::unexpected(st_.error()); \
  } while (0)

Json meta_event_obj(const MetaEvent& e) {
  return Json::object().set("id", e.id).set("type", e.type).set("key", e.key).set("infohash", e.infohash);
}

Result<MetaEvent> meta_event_from(const Json& o) {
  if (!o.is_object()) return fail(Errc::invalid_argument, "event must be an object");
  MetaEvent e;
  SC_TRY(get_str(o, "id", e.id, true));
  SC_TRY(get_str(o, "type", e.type, true));
  SC_TRY(get_str(o, "key", e.key, true));
  SC_TRY(get_str(o, "infohash", e.infohash));
  return e;
}

Json node_obj(const NodeInfo& n) {
  Json o = Json::object();
  o.set("id", n.id).set("role", n.role).set("control_url", n.control_url);
  Json a = Json::array();
  for (auto& s : n.swarms) a.push(Json::string(s));
  o.set("swarms", std::move(a));
  auto info = json_parse(n.info_json, {.max_size = kMaxApiJsonBytes, .max_depth = kMaxApiJsonDepth});
  o.set("info", info && info->is_object() ? std::move(*info) : Json::object());
  o.set("ttl_ms", n.ttl_ms).set("last_seen", n.last_seen);
  return o;
}

Result<NodeInfo> node_from(const Json& o) {
  if (!o.is_object()) return fail(Errc::invalid_argument, "node must be an object");
  NodeInfo n;
  SC_TRY(get_str(o, "id", n.id));
  SC_TRY(get_str(o, "role", n.role));
  SC_TRY(get_str(o, "control_url", n.control_url));
  SC_TRY(get_int(o, "ttl_ms", n.ttl_ms));
  SC_TRY(get_int(o, "last_seen", n.last_seen));
  SC_TRY(get_list(o, "swarms", kMaxNodeSwarms, n.swarms, [](const Json& v) -> Result<std::string> {
    if (!v.is_string() || v.as_string().size() > 128) return fail(Errc::invalid_argument, "swarms must be short strings");
    return std::string(v.as_string());
  }));
  if (Json info = o.get("info"); info && !info.is_null()) {
    if (!info.is_object()) return fail(Errc::invalid_argument, "field info must be an object");
    n.info_json = info.dump();
    if (n.info_json.size() > kMaxNodeInfoBytes) return fail(Errc::invalid_argument, "field info too large");
  }
  return n;
}

}  // namespace

std::string to_json(const TorrentMeta& v) {
  Json o = Json::object();
  o.set("key", v.key).set("kind", v.kind).set("infohash", v.infohash).set("infohash_v1", v.infohash_v1);
  o.set("infohash_v2", v.infohash_v2).set("name", v.name).set("size", v.size).set("piece_length", v.piece_length);
  Json files = Json::array();
  for (auto& f : v.files) files.push(Json::object().set("path", f.path).set("length", f.length));
  o.set("files", std::move(files)).set("created", v.created).set("last_access", v.last_access);
  return o.dump();
}

std::string to_json(const TorrentPage& v) {
  Json items = Json::array();
  for (auto& it : v.items) items.push(Json::object().set("key", it.key).set("infohash", it.infohash).set("size", it.size));
  return Json::object().set("items", std::move(items)).set("cursor", v.cursor).dump();
}

std::string to_json(const MetaEvent& v) { return meta_event_obj(v).dump(); }

std::string to_json(const EventsPage& v) {
  Json a = Json::array();
  for (auto& e : v.events) a.push(meta_event_obj(e));
  return Json::object().set("events", std::move(a)).set("last_id", v.last_id).dump();
}

std::string to_json(const LeaseRequest& v) { return Json::object().set("holder", v.holder).set("ttl_ms", v.ttl_ms).dump(); }

std::string to_json(const Lease& v) {
  return Json::object().set("key", v.key).set("holder", v.holder).set("ttl_ms", v.ttl_ms).dump();
}

std::string to_json(const NodeInfo& v) { return node_obj(v).dump(); }

std::string to_json(const NodeList& v) {
  Json a = Json::array();
  for (auto& n : v.nodes) a.push(node_obj(n));
  return Json::object().set("nodes", std::move(a)).dump();
}

std::string error_json(std::string_view code, std::string_view message) {
  return Json::object().set("error", Json::object().set("code", code).set("message", message)).dump();
}

Result<TorrentMeta> torrent_meta_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  const Json& o = *j;
  TorrentMeta m;
  SC_TRY(get_str(o, "key", m.key, true));
  SC_TRY(get_str(o, "kind", m.kind));
  SC_TRY(get_str(o, "infohash", m.infohash, true));
  SC_TRY(get_str(o, "infohash_v1", m.infohash_v1));
  SC_TRY(get_str(o, "infohash_v2", m.infohash_v2));
  SC_TRY(get_str(o, "name", m.name, false, 4096));
  SC_TRY(get_int(o, "size", m.size));
  SC_TRY(get_int(o, "piece_length", m.piece_length));
  SC_TRY(get_int(o, "created", m.created));
  SC_TRY(get_int(o, "last_access", m.last_access));
  SC_TRY(get_list(o, "files", 1'000'000, m.files, [](const Json& v) -> Result<TorrentFileEntry> {
    if (!v.is_object()) return fail(Errc::invalid_argument, "files entries must be objects");
    TorrentFileEntry f;
    SC_TRY(get_str(v, "path", f.path, true, 8192));
    SC_TRY(get_int(v, "length", f.length));
    return f;
  }));
  return m;
}

Result<TorrentPage> torrent_page_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  TorrentPage p;
  SC_TRY(get_str(*j, "cursor", p.cursor));
  SC_TRY(get_list(*j, "items", 100'000, p.items, [](const Json& v) -> Result<TorrentListItem> {
    if (!v.is_object()) return fail(Errc::invalid_argument, "items entries must be objects");
    TorrentListItem it;
    SC_TRY(get_str(v, "key", it.key, true));
    SC_TRY(get_str(v, "infohash", it.infohash));
    SC_TRY(get_int(v, "size", it.size));
    return it;
  }));
  return p;
}

Result<MetaEvent> meta_event_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  return meta_event_from(*j);
}

Result<EventsPage> events_page_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  EventsPage p;
  SC_TRY(get_str(*j, "last_id", p.last_id));
  SC_TRY(get_list(*j, "events", 100'000, p.events, meta_event_from));
  return p;
}

Result<LeaseRequest> lease_request_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  LeaseRequest r;
  SC_TRY(get_str(*j, "holder", r.holder, true));
  SC_TRY(get_int(*j, "ttl_ms", r.ttl_ms, true));
  if (r.holder.empty()) return fail(Errc::invalid_argument, "holder must not be empty");
  if (r.ttl_ms <= 0) return fail(Errc::invalid_argument, "ttl_ms must be positive");
  return r;
}

std::string to_json(const QuarantineRequest& v) {
  return Json::object().set("infohash", v.infohash).set("reason", v.reason).dump();
}

Result<QuarantineRequest> quarantine_request_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  QuarantineRequest r;
  SC_TRY(get_str(*j, "infohash", r.infohash, true));
  SC_TRY(get_str(*j, "reason", r.reason, false, kMaxQuarantineReasonBytes));
  auto raw = from_hex(r.infohash);
  if (!raw || raw->size() != 20) return fail(Errc::invalid_argument, "infohash must be 40 hex digits");
  r.infohash = to_hex(*raw);  // stored infohashes are lower case
  return r;
}

Result<Lease> lease_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  Lease l;
  SC_TRY(get_str(*j, "key", l.key));
  SC_TRY(get_str(*j, "holder", l.holder, true));
  SC_TRY(get_int(*j, "ttl_ms", l.ttl_ms));
  return l;
}

Result<NodeInfo> node_info_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  return node_from(*j);
}

Result<NodeList> node_list_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  NodeList l;
  SC_TRY(get_list(*j, "nodes", 100'000, l.nodes, node_from));
  return l;
}

Result<Error> error_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  Json e = j->get("error");
  if (!e.is_object()) return fail(Errc::invalid_argument, "not an error document");
  std::string code, message;
  SC_TRY(get_str(e, "code", code, true));
  SC_TRY(get_str(e, "message", message, false, 64 << 10));
  return Error{Errc::invalid_argument, code + ": " + message};
}

}  // namespace sc
